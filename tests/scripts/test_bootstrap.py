import yaml

from tests.conftest import CONFIG, ROOT

BOOTSTRAP = ROOT / "scripts" / "bootstrap"


def cloud_config(name: str) -> dict:
    text = (BOOTSTRAP / name).read_text()
    assert text.startswith("#cloud-config\n"), "cloud-init ignores user data without this line"
    return yaml.safe_load(text)


def test_manager_installs_docker_and_initialises_the_swarm():
    config = cloud_config("manager.cloud-init.yaml")
    assert "docker.io" in config["packages"]
    commands = " ".join(config["runcmd"])
    assert "docker swarm init --advertise-addr" in commands
    assert "interfaces/private/0/ipv4/address" in commands


def test_worker_joins_with_a_token_it_is_given_never_one_in_the_repository():
    config = cloud_config("worker.cloud-init.yaml")
    (join,) = [c for c in config["runcmd"] if "swarm join" in c]
    assert '"${SWARM_JOIN_TOKEN}"' in join and '"${MANAGER_ADDR}:2377"' in join
    assert "SWMTKN-" not in (BOOTSTRAP / "worker.cloud-init.yaml").read_text()


def test_the_manager_carries_the_labels_its_configuration_entry_gives_it():
    from stacks.capacity import node_labels

    # GIVEN the manager's entry in config/cluster.yaml (the node the cloud-init makes)
    swarm = CONFIG.cluster.swarm
    (manager,) = (node for node in swarm.nodes if node.name == swarm.manager_droplet)
    labels = node_labels(manager)
    # THEN the cloud-init adds exactly those labels, after the swarm exists
    commands = cloud_config("manager.cloud-init.yaml")["runcmd"]
    added = [c for c in commands if "docker node update" in c]
    assert added == [
        "docker node update "
        + " ".join(f"--label-add {k}={v}" for k, v in sorted(labels.items()))
        + ' "$(hostname)"'
    ]
    assert commands.index(added[0]) > next(i for i, c in enumerate(commands) if "swarm init" in c)
