from scripts import diagram


def test_committed_diagram_is_current(stacks):
    # A stale picture fails here: regenerate with `make diagram` and commit it.
    assert diagram.DOC.read_text() == diagram.document(stacks)


def test_diagram_draws_routes_networks_and_remote_state(stacks):
    text = diagram.mermaid(stacks)
    assert 'internet -->|"sprocket.mlesports.gg"| platform_main_main_web' in text
    assert 'internet -->|"api.staging.sprocket.mlesports.gg"| platform_staging_staging_api' in text
    assert "platform_main_main_redis --- net_main_platform" in text
    assert "layer_1_traefik --- net_socket_proxy" in text
    assert "stack_platform_main -.->|remote state| stack_layer_2" in text
    assert "stack_layer_2 -.->|remote state| stack_layer_1" in text
    # Internal services have no route from the Internet.
    assert not any(
        line.endswith("platform_main_main_redis")
        for line in text.splitlines()
        if "internet" in line
    )
