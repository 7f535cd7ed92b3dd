from scripts import diagram
from scripts.diagram import node_id
from tests.conftest import ENVIRONMENTS, public_host


def test_committed_diagram_is_current(stacks):
    # A stale picture fails here: regenerate with `make diagram` and commit it.
    assert diagram.DOC.read_text() == diagram.document(stacks)


def test_diagram_draws_routes_networks_and_remote_state(stacks):
    text = diagram.mermaid(stacks)
    for env in ENVIRONMENTS:
        stack = f"platform-{env}"
        web, api, redis = (node_id(stack, f"{env}-{name}") for name in ("web", "api", "redis"))
        assert f'internet -->|"{public_host(env)}"| {web}' in text
        assert f'internet -->|"{public_host(env, "api")}"| {api}' in text
        assert f"{redis} --- {node_id('net', f'{env}-platform')}" in text
        assert f"{node_id('stack', stack)} -.->|remote state| stack_layer_2" in text
        # Internal services have no route from the Internet.
        assert not any(line.endswith(redis) for line in text.splitlines() if "internet" in line)
    assert "layer_1_traefik --- net_socket_proxy" in text
    assert "stack_layer_2 -.->|remote state| stack_layer_1" in text
