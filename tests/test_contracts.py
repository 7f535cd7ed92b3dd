"""Contracts between stacks: every Vault read has a writer, every route prefix is reserved,
every public host is checked by Gatus."""

from __future__ import annotations

import re

import yaml

from stacks.config import RESERVED_SUBDOMAINS
from tests.conftest import (
    CONFIG,
    ROOT,
    STACK_NAMES,
    config_content,
    resources,
    service_labels,
    services,
)

# Deploy order: a stack may read what it or an earlier stack writes.
ORDER = STACK_NAMES
HOST_RULE = re.compile(r"Host\(`([^`]+)`\)")


def operator_written_paths() -> set[str]:
    """Vault paths docs/secrets.md tells operators to load by hand, per environment."""
    text = (ROOT / "docs" / "secrets.md").read_text()
    manual = text.split("## Loaded by hand", 1)[1].split("\n## ", 1)[0]
    templates = re.findall(r"^\| `([a-z]+/[^`]+)` \|", manual, re.M)
    paths = set()
    for template in templates:
        for env, environment in CONFIG.environments.items():
            path = template.replace("<env>", env)
            bots = environment.legacy.bots if environment.legacy else ()
            if "<name>" in path:
                paths.update(path.replace("<name>", bot.lower()) for bot in bots)
            else:
                paths.add(path)
    return paths


def mount_path(document: dict, mount: str) -> str:
    """A mount named literally, or through ``${vault_mount.<id>.path}`` of this stack."""
    if match := re.fullmatch(r"\$\{vault_mount\.(\w+)\.path\}", mount):
        return resources(document, "vault_mount")[match[1]]["path"]
    return mount


def vault_writes(document: dict) -> set[str]:
    return {
        f"{mount_path(document, kv['mount'])}/{kv['name']}"
        for kv in resources(document, "vault_kv_secret_v2").values()
    }


def vault_reads(document: dict) -> set[str]:
    reads = document.get("data", {}).get("vault_kv_secret_v2", {})
    return {f"{r['mount']}/{r['name']}" for r in reads.values()}


def service_writes(document: dict) -> set[str]:
    """Secrets a service of the stack writes at run time: the KV paths its service tokens'
    policies may create (the InfluxDB bucket loop's environment tokens)."""
    import json

    tokens = resources(document, "vault_token").values()
    names = {ref for token in tokens for ref in token["policies"]}
    written = set()
    for policy_id, policy in resources(document, "vault_policy").items():
        if f"${{vault_policy.{policy_id}.name}}" not in names:
            continue
        for path, rule in json.loads(policy["policy"])["path"].items():
            mount, _, rest = path.partition("/")
            if rest.startswith("data/") and "create" in rule["capabilities"]:
                written.add(f"{mount}/{rest.removeprefix('data/')}")
    return written


def test_every_vault_read_has_a_writer_before_it(stacks):
    by_hand = operator_written_paths()
    written: set[str] = set()
    for name in ORDER:
        written |= vault_writes(stacks[name]) | service_writes(stacks[name])
        assert vault_reads(stacks[name]) - written - by_hand == set(), name


def test_the_docs_list_of_hand_loaded_secrets_is_read_somewhere(stacks):
    read = set().union(*(vault_reads(d) for d in stacks.values()))
    # Web's Chatwoot key is read only where an environment turns the widget on.
    optional = {p for p in operator_written_paths() if p.endswith("/chatwoot")}
    legacy = {p for p in operator_written_paths() if "/legacy/" in p}
    unread = operator_written_paths() - read - optional - legacy
    assert unread == set()


def route_prefixes(stacks: dict) -> set[str]:
    hostname = CONFIG.cluster.hostname
    env_subdomains = {e.subdomain for e in CONFIG.environments.values() if e.subdomain}
    prefixes = set()
    for document in stacks.values():
        for service in services(document).values():
            for label, value in service_labels(service).items():
                if not label.endswith(".rule"):
                    continue
                for host in HOST_RULE.findall(value):
                    labels = host.removesuffix(hostname).rstrip(".").split(".")
                    labels = [part for part in labels if part and part not in env_subdomains]
                    prefixes.update(labels[:1])
    return prefixes


def test_every_route_prefix_is_reserved_and_every_reserved_prefix_is_routed(stacks):
    # An environment subdomain equal to a route prefix would take over that host.
    assert route_prefixes(stacks) == RESERVED_SUBDOMAINS


def public_hosts(stacks: dict) -> dict[str, str]:
    """Every host Traefik routes, with the service it routes to."""
    return {
        host: service["name"]
        for document in stacks.values()
        for service in services(document).values()
        for label, value in service_labels(service).items()
        if label.endswith(".rule")
        for host in HOST_RULE.findall(value)
    }


def test_every_public_host_has_an_uptime_check(stacks):
    # A service with a route gets a Gatus probe (gatus_probes in stacks/layer_2.py), so the
    # status page and its alerts cover it. Gatus's own page cannot report its own outage.
    layer_2 = stacks["layer_2"]
    gatus = services(layer_2)["gatus"]
    endpoints = yaml.safe_load(config_content(layer_2, gatus, "/etc/gatus/endpoints.yaml"))
    probed = {
        re.match(r"https://([^/:]+)", e["url"])[1]
        for e in endpoints["endpoints"]
        if e["url"].startswith("https://")
    }
    unprobed = {h: s for h, s in public_hosts(stacks).items() if h not in probed}
    assert unprobed == {CONFIG.cluster.host("gatus"): "gatus"}


def test_provider_classes_are_used_only_in_constructs_lib():
    # The stacks compose constructs; what a provider resource needs to be safe (lifecycle,
    # read-back spellings, validation) lives once, in its construct.
    offenders = [
        str(path.relative_to(ROOT))
        for top in ("stacks", "main.py")
        for path in ([ROOT / top] if top.endswith(".py") else (ROOT / top).rglob("*.py"))
        if re.search(r"^\s*(from|import) cdktf_cdktf_provider_", path.read_text(), re.M)
    ]
    assert offenders == []
