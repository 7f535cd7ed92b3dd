"""scripts/diagram.py: the views are current, drawn from the stacks, folded and through Traefik.

Rendering with a real renderer (mermaid-cli and chromium) is tests/e2e/test_diagram_render.py.
"""

from __future__ import annotations

import copy
import json
import re

from scripts import diagram
from tests.conftest import ENVIRONMENTS, PLATFORM_STACKS, public_host

EDGE = re.compile(r"^\s+(\w+) (-->|---|-\.->)(?:\|\"?(.*?)\"?\|)? (\w+)$")
NODE = re.compile(r"^\s+(\w+)[\[\(\{/]+\"(.*?)\"[\]\)\}/]+$")


def parse(view: diagram.View) -> tuple[dict[str, str], list[tuple[str, str, str, str]]]:
    """(node id -> label, edges as (from, kind, label, to)) of a view's Mermaid source."""
    nodes, edges = {}, []
    for line in view.source().splitlines()[1:]:
        if edge := EDGE.match(line):
            edges.append((edge[1], edge[2], edge[3] or "", edge[4]))
        elif node := NODE.match(line):
            nodes[node[1]] = node[2]
    return nodes, edges


def by_title(stacks) -> dict[str, diagram.View]:
    return {view.title: view for view in diagram.views(stacks)}


def test_committed_diagram_is_current(stacks):
    # A stale picture fails here: regenerate with `make diagram` and commit it.
    assert diagram.DOC.read_text() == diagram.document(stacks)


def test_every_edge_and_node_of_every_view_is_parsed(stacks):
    # The parser below is what the other tests read the views with: nothing may slip past it.
    for view in diagram.views(stacks):
        nodes, edges = parse(view)
        body = [
            line
            for line in view.source().splitlines()[1:]
            if not line.strip().startswith(("subgraph", "end"))
        ]
        assert len(nodes) + len(edges) == len(body), view.title
        subgraphs = set(re.findall(r"^\s*subgraph (\w+)", view.source(), re.M))
        ends = {a for a, *_ in edges} | {b for *_, b in edges}
        assert ends <= set(nodes) | subgraphs, view.title


def test_public_traffic_enters_through_traefik_only(stacks):
    for view in diagram.views(stacks):
        _, edges = parse(view)
        outside = {"internet", "users"}
        for source, _, _, target in edges:
            if source in outside:
                assert target in {"traefik", "firewall", "dns"}, (view.title, target)
        # Every host name arrow starts at Traefik.
        assert all(source == "traefik" for source, _, label, _ in edges if ".gg" in label)


def test_each_environment_s_routes_are_drawn_on_its_service(stacks):
    nodes, edges = parse(by_title(stacks)["platform-<env>"])
    routes = {
        target: label.split("<br/>") for source, _, label, target in edges if source == "traefik"
    }
    for env in ENVIRONMENTS:
        assert public_host(env) in routes["platform_web"]
        assert public_host(env, "api") in routes["platform_api"]
    # Datastores have no route, and are drawn as cylinders.
    assert not any("redis" in nodes[target] for target in routes)
    assert re.search(r'\[\("rabbitmq, redis"\)\]', by_title(stacks)["platform-<env>"].source())


def test_every_service_of_every_stack_is_in_exactly_one_box(stacks):
    views = by_title(stacks)
    for name, stack in stacks.items():
        if not stack["resource"].get("docker_service"):
            continue  # the cluster stack runs no service: it is a box of the context
        env = name.removeprefix("platform-") if name in PLATFORM_STACKS else None
        view = views["platform-<env>" if env else name]
        labels = [label for nid, label in parse(view)[0].items() if not nid.startswith("net_")]
        # a stack's backup is named in its title ("volumes backed up daily by<br/><name>")
        labels += re.findall(r'^\s*subgraph \w+\["(.*?)"\]', view.source(), re.M)
        for body in stack["resource"].get("docker_service", {}).values():
            service = body["name"][len(env) + 1 :] if env else body["name"]
            holding = [
                label
                for label in labels
                if service in re.split(r", |<br/>", label.replace("Traefik<br/>", "traefik<br/>"))
            ]
            assert len(holding) == 1, (name, service, holding)


def test_the_context_shows_what_outside_the_swarm_the_stacks_use(stacks):
    nodes, edges = parse(by_title(stacks)["Context"])
    layer_1 = stacks["layer_1"]["resource"]
    for record in layer_1["digitalocean_record"].values():
        assert f"{record['name']}.{record['domain']}" in nodes["dns"]
    (firewall,) = stacks["cluster"]["resource"]["digitalocean_firewall"].values()
    assert nodes["firewall"].startswith(f"Firewall {firewall['name']}<br/>open: tcp 443, tcp 80")
    cluster = next(iter(stacks["layer_2"]["data"]["digitalocean_database_cluster"].values()))
    assert cluster["name"] in nodes["postgres"]
    assert "vault-secrets" in nodes["spaces"] and "sprocket-terraform-state" in nodes["spaces"]
    # The platform stacks are one box that names each environment's stack.
    assert all(stack in nodes["stack_platform"] for stack in PLATFORM_STACKS)
    # AND says how many services each environment runs
    counts = {
        name.removeprefix("platform-"): len(stacks[name]["resource"]["docker_service"])
        for name in PLATFORM_STACKS
    }
    if len(set(counts.values())) > 1:
        assert all(f"{n} in {env}" in nodes["stack_platform"] for env, n in counts.items())
    else:
        assert f"{counts.popitem()[1]} services" in nodes["stack_platform"]
    edge_set = {(a, b) for a, _, _, b in edges}
    # The cluster stack owns the database (and the droplets: its box says so)
    assert ("stack_cluster", "postgres") in edge_set
    droplets = len(stacks["cluster"]["resource"]["digitalocean_droplet"])
    assert re.search(
        rf"(^|>){droplets} droplet{'s' if droplets > 1 else ''}(,|<|$)", nodes["stack_cluster"]
    ), nodes["stack_cluster"]
    assert {("stack_platform", "postgres"), ("stack_layer_2", "postgres")} <= edge_set
    assert {("stack_platform", "spaces"), ("stack_layer_1", "spaces")} <= edge_set
    reads = {(a, b) for a, kind, _, b in edges if kind == "-.->"}
    assert reads == {
        ("stack_layer_1", "stack_cluster"),
        # the database host check (stacks/cluster.py check_postgres)
        ("stack_layer_2", "stack_cluster"),
        ("stack_platform", "stack_cluster"),
        ("stack_layer_2", "stack_layer_1"),
        ("stack_platform", "stack_layer_1"),
        ("stack_platform", "stack_layer_2"),
    }


def _with_environment(stacks: dict, name: str) -> dict:
    """The stacks plus platform-<name>, made from the first platform stack by renaming."""
    first = PLATFORM_STACKS[0]
    env = first.removeprefix("platform-")
    text = json.dumps(stacks[first]).replace(f"{env}-", f"{name}-").replace(f"-{env}", f"-{name}")
    return {**copy.deepcopy(stacks), f"platform-{name}": json.loads(text)}


def test_another_environment_adds_no_box_and_no_arrow(stacks):
    # GIVEN one more environment
    more = _with_environment(stacks, "dev")
    # THEN every view has the same boxes and arrows: environments fold into one picture
    for before, after in zip(diagram.views(stacks), diagram.views(more), strict=True):
        nodes_before, edges_before = parse(before)
        nodes_after, edges_after = parse(after)
        assert set(nodes_after) == set(nodes_before), before.title
        assert {(a, b) for a, _, _, b in edges_after} == {(a, b) for a, _, _, b in edges_before}
    # AND the context names the new stack
    assert "platform-dev" in parse(by_title(more)["Context"])[0]["stack_platform"]


def test_a_service_only_some_environments_run_says_so(stacks):
    more = _with_environment(stacks, "dev")
    only = {
        label for label in parse(by_title(more)["platform-<env>"])[0].values() if "only)" in label
    }
    runs_everywhere = parse(by_title(more)["platform-<env>"])[0]["platform_web"]
    assert "only)" not in runs_everywhere
    # Whatever the shipped environments run on their own stays marked as such.
    shipped = {
        label for label in parse(by_title(stacks)["platform-<env>"])[0].values() if "only)" in label
    }
    assert len(only) == len(shipped)


def test_the_views_stay_small_enough_to_read(stacks):
    # The old single picture had ~70 edges; a person reads a view at a glance only if it is
    # small. Pixel sizes are checked on the real rendering (tests/e2e/test_diagram_render.py).
    for view in diagram.views(stacks):
        nodes, edges = parse(view)
        assert len(nodes) <= 20 and len(edges) <= 24, (view.title, len(nodes), len(edges))


def test_a_missing_synth_output_is_one_line_not_a_traceback(tmp_path, capsys):
    assert diagram.main(["--outdir", str(tmp_path), "--check"]) == 2
    err = capsys.readouterr().err
    assert "run `make synth` first" in err and "Traceback" not in err


def test_a_count_agrees_with_its_noun():
    assert [diagram._count(n, "droplet") for n in (1, 2)] == ["1 droplet", "2 droplets"]
