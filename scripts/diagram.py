"""Draw the architecture from the synthesized stacks: a context view and one view per layer.

    python scripts/diagram.py                  # rewrites docs/architecture.md from cdktf.out
    python scripts/diagram.py --check          # exit 1 when docs/architecture.md is stale
    python scripts/diagram.py --render DIR     # also renders each view to DIR/<view>.svg|png

Everything drawn comes from cdk.tf.json: services, their routes (Traefik labels), the networks
they join and their volumes; the DNS records, the firewall, the managed database, the Spaces
buckets and state bucket; and which stack reads which (remote state). Nothing is drawn by hand,
so the picture cannot drift. To stay readable it folds what repeats: every platform-<env>
stack is drawn once, with the environments it stands for named; services that join the same
networks and have no route are one box; the ingress network is drawn as Traefik's routes.
Rendering uses mermaid-cli (scripts/render/, installed by make test) with Debian's chromium.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from constructs_lib.service_roles import ROLE_LABEL, VOLUME_BACKUP  # noqa: E402

DOC = ROOT / "docs" / "architecture.md"
RENDER = ROOT / "scripts" / "render"
REMOTE = re.compile(r"cross-stack-reference-input-([\w-]+)")
REMOTE_NETWORK = re.compile(
    r"cross-stack-reference-input-(?P<stack>[\w-]+)\.outputs\.cross-stack-output-docker_network"
    r"(?P<rid>\w+)id"
)
HOST_RULE = re.compile(r"Host(?:SNI)?\(`([^`]+)`\)")
PLATFORM = "platform-"
# Names per line inside one box.
PER_LINE = 3
# Debian's chromium, or a Chrome a CI runner already has.
BROWSERS = ("chromium", "google-chrome", "google-chrome-stable")
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]


def node_id(*parts: str) -> str:
    return "_".join(re.sub(r"[^A-Za-z0-9]", "_", p) for p in parts)


@dataclass
class Service:
    """One Swarm service as drawn: for platform stacks the environment prefix is folded into
    ``<env>-`` and ``envs`` names the environments that run it."""

    stack: str
    name: str
    hosts: list[str]
    networks: tuple[str, ...]
    stateful: bool
    envs: tuple[str, ...] = ()
    # Its sprocket.role label (constructs_lib/service_roles.py), if any.
    role: str | None = None


@dataclass
class View:
    title: str
    caption: str
    lines: list[str] = field(default_factory=list)
    # Mermaid's direction: left to right, or top to bottom for a wide view.
    direction: str = "LR"

    def source(self) -> str:
        # Mermaid drops "<env>" as an unknown HTML tag; its entity codes keep it.
        text = "\n".join([f"flowchart {self.direction}", *self.lines]) + "\n"
        return text.replace("<env>", "#lt;env#gt;")


def _resources(stack: dict, kind: str) -> dict:
    return stack.get("resource", {}).get(kind, {})


def _network(ref: str, stack_name: str, stacks: dict[str, dict]) -> tuple[str, str]:
    """(network name, owning stack) for a networks_advanced reference."""
    for rid, body in _resources(stacks[stack_name], "docker_network").items():
        if ref == f"${{docker_network.{rid}.id}}":
            return body["name"], stack_name
    match = REMOTE_NETWORK.search(ref)
    if not match:
        return ref, stack_name
    owner = match["stack"]
    return _resources(stacks[owner], "docker_network")[match["rid"]]["name"], owner


def _fold(name: str, env: str | None) -> str:
    return f"<env>-{name[len(env) + 1 :]}" if env and name.startswith(f"{env}-") else name


def services(stacks: dict[str, dict]) -> tuple[list[Service], set[str]]:
    """Every service, platform stacks folded into one; and the networks Traefik routes over."""
    found: dict[tuple[str, str], Service] = {}
    ingress: set[str] = set()
    for stack_name in sorted(stacks):
        env = stack_name[len(PLATFORM) :] if stack_name.startswith(PLATFORM) else None
        drawn_as = "platform" if env else stack_name
        for body in _resources(stacks[stack_name], "docker_service").values():
            labels = {item["label"]: item["value"] for item in body.get("labels", [])}
            ingress.update(v for k, v in labels.items() if k == "traefik.swarm.network")
            hosts = sorted(
                {h for k, v in labels.items() if k.endswith(".rule") for h in HOST_RULE.findall(v)}
            )
            networks = []
            for network in body["task_spec"].get("networks_advanced", []):
                net, owner = _network(network["name"], stack_name, stacks)
                networks.append(_fold(net, env) + ("" if owner == stack_name else f" ({owner})"))
            mounts = body["task_spec"]["container_spec"].get("mounts", [])
            name = _fold(body["name"], env)
            key = (drawn_as, name)
            if key in found:
                found[key].hosts = sorted({*found[key].hosts, *hosts})
                found[key].envs += (env,)
                continue
            found[key] = Service(
                stack=drawn_as,
                name=name.removeprefix("<env>-"),
                hosts=hosts,
                networks=tuple(sorted(networks)),
                stateful=any(m.get("type") == "volume" for m in mounts),
                envs=(env,) if env else (),
                role=labels.get(ROLE_LABEL),
            )
    return sorted(found.values(), key=lambda s: (s.stack, s.name)), ingress


def environments(stacks: dict[str, dict]) -> list[str]:
    return sorted(name[len(PLATFORM) :] for name in stacks if name.startswith(PLATFORM))


def _count(number: int, noun: str) -> str:
    """A number of things: "1 droplet", "2 droplets" (every resource noun takes an "s")."""
    return f"{number} {noun}" + ("s" if number != 1 else "")


def _names(names: list[str]) -> str:
    rows = [", ".join(names[i : i + PER_LINE]) for i in range(0, len(names), PER_LINE)]
    return "<br/>".join(rows)


def _box(nid: str, text: str, shape: str) -> str:
    opening, closing = {"rect": ("[", "]"), "round": ("(", ")"), "db": ("[(", ")]")}[shape]
    return f'{nid}{opening}"{text}"{closing}'


def layer_view(
    stack: str, title: str, caption: str, drawn: list[Service], ingress: set[str], envs: list[str]
) -> View:
    """Traefik's routes into the stack, its services (grouped), the networks they join."""
    view = View(title, caption)
    edges: list[str] = []
    networks: set[str] = set()
    mine = [s for s in drawn if s.stack == stack]
    # The stack's backup reads every volume in it: named in the stack's title, not a box with
    # an arrow to every cylinder (which makes the picture taller than a screen).
    backups = [s.name for s in mine if s.role == VOLUME_BACKUP]
    mine = [s for s in mine if s.name not in backups]
    view.lines.append('  internet(("Internet"))')
    has_traefik = any(s.name == "traefik" for s in mine)
    if not has_traefik:
        view.lines.append('  traefik["Traefik (layer_1)"]')
    edges.append('  internet -->|"HTTPS"| traefik')
    heading = title + "".join(f"<br/>volumes backed up daily by<br/>{b}" for b in backups)
    view.lines.append(f'  subgraph {node_id("stack", stack)}["{heading}"]')
    groups: dict[tuple, list[Service]] = {}
    for service in mine:
        own_networks = tuple(n for n in service.networks if n.split(" (")[0] not in ingress)
        if service.hosts or service.name == "traefik":
            groups[("public", service.name)] = [service]
        else:
            kind = "db" if service.stateful else "round"
            groups.setdefault((kind, own_networks, service.envs), []).append(service)
    for key, members in groups.items():
        first = members[0]
        nid = "traefik" if first.name == "traefik" else node_id(stack, first.name)
        text = _names([m.name for m in members])
        if first.envs and len(first.envs) < len(envs):
            text += f"<br/>({', '.join(first.envs)} only)"
        if first.name == "traefik" and first.hosts:
            text = "Traefik<br/>" + "<br/>".join(first.hosts)
        shape = "rect" if key[0] == "public" else key[0]
        view.lines.append("    " + _box(nid, text, shape))
        if key[0] == "public" and first.name != "traefik":
            edges.append(f'  traefik -->|"{"<br/>".join(first.hosts)}"| {nid}')
        for net in first.networks:
            if net.split(" (")[0] in ingress:
                continue
            networks.add(net)
            edges.append(f"  {nid} --- {node_id('net', net)}")
    view.lines.append("  end")
    for net in sorted(networks):
        view.lines.append(f'  {node_id("net", net)}{{{{"{net}"}}}}')
    view.lines += sorted(set(edges))
    return view


def _stack_summary(drawn: list[Service], stack: str, envs: list[str]) -> str:
    mine = [s for s in drawn if s.stack == stack]
    routed = [s.name for s in mine if s.hosts and s.name != "traefik"]
    stateful = [s.name for s in mine if s.stateful and s.name not in routed]
    rest = len(mine) - len(routed) - len(stateful)
    counts = {env: sum(env in s.envs for s in mine) for env in envs} if stack == "platform" else {}
    if len(set(counts.values())) > 1:
        text = "services: " + ", ".join(f"{n} in {env}" for env, n in counts.items())
    else:
        text = f"{len(mine)} services" + (" each" if len(counts) > 1 else "")
    text += f"<br/>routed: {_names(routed)}" if routed else ""
    text += f"<br/>with volumes: {_names(stateful)}" if stateful else ""
    return text + (f"<br/>{rest} internal" if rest else "")


def context_view(stacks: dict[str, dict], drawn: list[Service]) -> View:
    envs = environments(stacks)
    view = View(
        "Context",
        "The stacks as boxes (every platform stack folded into one), what reaches them from the "
        "Internet, and the managed services outside the Swarm they use. Dotted arrows: a stack "
        "reads another's outputs from remote state.",
    )
    lines, edges = view.lines, []
    lines.append('  users(("Users and Discord"))')
    records = [
        (body["name"], body["domain"])
        for stack in stacks.values()
        for body in _resources(stack, "digitalocean_record").values()
    ]
    droplets = sorted(
        body["name"]
        for stack in stacks.values()
        for kind in ("resource", "data")
        for body in stack.get(kind, {}).get("digitalocean_droplet", {}).values()
    )
    if records:
        names = "<br/>".join(f"{name}.{domain}" for name, domain in sorted(records))
        lines.append(f'  dns[/"DNS (DigitalOcean)<br/>{names}"/]')
        edges.append('  users -->|"resolve"| dns')
    firewall_tags: list[str] = []
    for stack in stacks.values():
        for body in _resources(stack, "digitalocean_firewall").values():
            firewall_tags += body.get("tags", [])
            public = sorted(
                f"{rule['protocol']} {rule['port_range']}"
                for rule in body.get("inbound_rule", [])
                if "0.0.0.0/0" in rule.get("source_addresses", [])
            )
            admin = sorted(
                f"{rule['protocol']} {rule['port_range']}"
                for rule in body.get("inbound_rule", [])
                if rule.get("source_addresses") and "0.0.0.0/0" not in rule["source_addresses"]
            )
            nodes = sorted(
                {
                    f"{r['protocol']} {r['port_range']}"
                    for r in body.get("inbound_rule", [])
                    if r.get("source_tags")
                }
            )
            text = f"Firewall {body['name']}<br/>open: {', '.join(public) or 'nothing'}"
            text += f"<br/>admin networks: {', '.join(admin) or 'nothing'}"
            text += f"<br/>between nodes: {', '.join(nodes)}" if nodes else ""
            lines.append(f'  firewall{{{{"{text}"}}}}')
            edges.append('  users -->|"HTTPS"| firewall')
    where = ", ".join(droplets) or "the Swarm nodes"
    tags = f" tagged {', '.join(sorted(set(firewall_tags)))}" if firewall_tags else ""
    lines.append(f'  subgraph swarm["Docker Swarm: {where}{tags}"]')
    lines.append('    traefik["Traefik (layer_1)"]')
    drawn_stacks = sorted({s.stack for s in drawn}, key=lambda s: (s == "platform", s))
    for stack in drawn_stacks:
        title = ", ".join(f"{PLATFORM}{e}" for e in envs) if stack == "platform" else stack
        summary = _stack_summary(drawn, stack, envs)
        lines.append(f'    {node_id("stack", stack)}["<b>{title}</b><br/>{summary}"]')
        hosts = sorted(
            {h for s in drawn if s.stack == stack for h in s.hosts if s.name != "traefik"}
        )
        if hosts:
            count = _count(len(hosts), "host")
            edges.append(f'  traefik -->|"{count}"| {node_id("stack", stack)}')
    lines.append("  end")
    edges.append("  firewall --> traefik")
    # Stacks that run no service (the cluster stack): a box with what they own.
    for name in sorted(stacks):
        if name.startswith(PLATFORM) or _resources(stacks[name], "docker_service"):
            continue
        owned = [
            _count(len(items), kind.removeprefix("digitalocean_").replace("_", " "))
            for kind, items in sorted(stacks[name].get("resource", {}).items())
        ]
        lines.append(f'  {node_id("stack", name)}["<b>{name}</b><br/>{_names(owned)}"]')
        if _resources(stacks[name], "digitalocean_database_cluster"):
            edges.append(f'  {node_id("stack", name)} -->|"owns"| postgres')
    for name in sorted(stacks):
        drawn_as = "platform" if name.startswith(PLATFORM) else name
        for read in set(REMOTE.findall(json.dumps(stacks[name].get("data", {})))):
            edges.append(
                f"  {node_id('stack', drawn_as)} -.->|reads outputs| {node_id('stack', read)}"
            )
    clusters = sorted(
        {
            body["name"]
            for stack in stacks.values()
            for body in stack.get("data", {}).get("digitalocean_database_cluster", {}).values()
        }
    )
    if clusters:
        databases = sorted(
            body["name"]
            for stack in stacks.values()
            for body in _resources(stack, "digitalocean_database_db").values()
        )
        text = f"Managed PostgreSQL<br/>{', '.join(clusters)}<br/>databases: {_names(databases)}"
        lines.append("  " + _box("postgres", text, "db"))
        for name in sorted(stacks):
            if _resources(stacks[name], "digitalocean_database_db"):
                drawn_as = "platform" if name.startswith(PLATFORM) else name
                edges.append(f"  {node_id('stack', drawn_as)} --> postgres")
    buckets = []
    for name in sorted(stacks):
        drawn_as = "platform" if name.startswith(PLATFORM) else name
        env = name[len(PLATFORM) :] if drawn_as == "platform" else None
        for body in _resources(stacks[name], "digitalocean_spaces_bucket").values():
            folded = body["name"].replace(f"-{env}-", "-<env>-") if env else body["name"]
            buckets.append(folded)
            edges.append(f"  {node_id('stack', drawn_as)} --> spaces")
    state = sorted(
        {
            s["terraform"]["backend"]["s3"]["bucket"]
            for s in stacks.values()
            if "s3" in s.get("terraform", {}).get("backend", {})
        }
    )
    if buckets or state:
        text = "Spaces (S3)<br/>" + _names(sorted(set(buckets)))
        text += f"<br/>Terraform state: {', '.join(state)}" if state else ""
        lines.append("  " + _box("spaces", text, "db"))
    view.lines += sorted(set(edges))
    return view


def views(stacks: dict[str, dict]) -> list[View]:
    drawn, ingress = services(stacks)
    envs = environments(stacks)
    result = [context_view(stacks, drawn)]
    for stack in sorted(
        name
        for name in stacks
        if not name.startswith(PLATFORM) and _resources(stacks[name], "docker_service")
    ):
        result.append(
            layer_view(
                stack,
                stack,
                f"{stack}'s services. Rectangles are routed by Traefik (host names on the "
                "arrows), rounded boxes are internal services, cylinders keep data in a volume; "
                "hexagons are the overlay networks they join; the title names the service "
                "that backs up the stack's volumes.",
                drawn,
                ingress,
                envs,
            )
        )
    if envs:
        title = f"{PLATFORM}<env>"
        result.append(
            layer_view(
                "platform",
                title,
                f"One stack per environment ({', '.join(envs)}), drawn once: `<env>-` stands "
                "for the environment's name, routes list every environment's host. Shapes as "
                "above.",
                drawn,
                ingress,
                envs,
            )
        )
    return result


def mermaid(stacks: dict[str, dict]) -> str:
    """Every view's Mermaid source, one after another (for tests and tools)."""
    return "".join(view.source() for view in views(stacks))


def document(stacks: dict[str, dict]) -> str:
    parts = [
        "# Architecture, drawn from the synthesized stacks\n\n"
        "Generated by `make diagram` from `cdktf.out`; a test fails when it is stale and renders\n"
        "every view with mermaid-cli, failing on a view too large to read.\n"
    ]
    for view in views(stacks):
        parts.append(f"\n## {view.title}\n\n")
        parts.append(f"{view.caption}\n\n```mermaid\n{view.source()}```\n")
    return "".join(parts)


def load(outdir: Path) -> dict[str, dict]:
    return {
        d.name: json.loads((d / "cdk.tf.json").read_text())
        for d in sorted((outdir / "stacks").iterdir())
    }


def render(stacks: dict[str, dict], into: Path) -> list[Path]:
    """Render every view to ``into/<n>-<view>.svg`` and ``.png`` with mermaid-cli and chromium;
    returns the files written. Raises RuntimeError with mermaid-cli's message on a failure."""
    mmdc = RENDER / "node_modules" / ".bin" / "mmdc"
    if not mmdc.exists():
        raise RuntimeError(f"{mmdc} is missing: `make diagram-images` installs mermaid-cli")
    browser = next(filter(None, map(shutil.which, BROWSERS)), None)
    if not browser:
        raise RuntimeError(f"no browser for mermaid-cli: install one of {', '.join(BROWSERS)}")
    into.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as scratch:
        # chromium writes its profile and crash-report directories under HOME.
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": scratch, "TMPDIR": scratch}
        # mermaid-cli hands this to puppeteer.launch(); root (CI) needs --no-sandbox.
        config = Path(scratch) / "puppeteer.json"
        config.write_text(json.dumps({"executablePath": browser, "args": BROWSER_ARGS}))
        for number, view in enumerate(views(stacks), 1):
            words = re.sub(r"[^a-z0-9]+", "-", view.title.lower().replace("<env>", "env"))
            slug = f"{number}-{words.strip('-')}"
            source = Path(scratch) / f"{slug}.mmd"
            source.write_text(view.source())
            for suffix in (".svg", ".png"):
                out = into / f"{slug}{suffix}"
                out.unlink(missing_ok=True)  # a failed render leaves an old file in place
                result = subprocess.run(
                    [
                        str(mmdc),
                        "-q",
                        "-i",
                        str(source),
                        "-o",
                        str(out),
                        "-p",
                        str(config),
                        "-w",
                        "3200",
                        "-b",
                        "white",
                    ],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
                if result.returncode != 0 or not out.exists():
                    first = (result.stderr.strip().splitlines() or ["no output"])[0]
                    raise RuntimeError(f"mermaid-cli could not render {view.title}: {first}")
                written.append(out)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outdir", type=Path, default=ROOT / "cdktf.out")
    parser.add_argument("--check", action="store_true", help="only check docs/architecture.md")
    parser.add_argument("--render", type=Path, metavar="DIR", help="render each view into DIR")
    args = parser.parse_args(argv)
    if not (args.outdir / "stacks").is_dir():
        print(f"{args.outdir}/stacks is missing: run `make synth` first", file=sys.stderr)
        return 2
    stacks = load(args.outdir)
    text = document(stacks)
    if args.check:
        if DOC.read_text() != text:
            print("docs/architecture.md is stale: run `make diagram`", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text)
    if args.render:
        try:
            for path in render(stacks, args.render):
                print(f"rendered {path}")
        except RuntimeError as error:
            print(error, file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
