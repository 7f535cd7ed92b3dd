"""Scaling is a change to configuration only, and the synth diff touches only what it must."""

from __future__ import annotations

import itertools
import re
import shutil
from pathlib import Path

import yaml

from scripts import synth_diff
from tests.conftest import (
    CONFIG,
    ENVIRONMENTS,
    PLATFORM_STACKS,
    ROOT,
    STACK_NAMES,
    WORKER,
    add_worker,
)


def synth_with(tmp_path: Path, change) -> Path:
    import main

    shutil.copytree(ROOT / "config", tmp_path / "config")
    change(tmp_path / "config")
    outdir = tmp_path / "cdktf.out"
    main.build(tmp_path, outdir=str(outdir)).synth()
    return outdir


def test_more_replicas_changes_only_that_service(tmp_path, synth_dir):
    env = ENVIRONMENTS[0]
    replicas = CONFIG.environments[env].replicas.get("api", 1)

    def scale_api(config: Path) -> None:
        path = config / "environments" / f"{env}.yaml"
        data = yaml.safe_load(path.read_text())
        path.write_text(
            yaml.safe_dump({**data, "replicas": {**data.get("replicas", {}), "api": replicas + 2}})
        )

    diffs = synth_diff.diff_dirs(synth_dir, synth_with(tmp_path, scale_api))
    changed = {name: d for name, d in diffs.items() if not d.empty}
    assert list(changed) == [f"platform-{env}"]
    assert changed[f"platform-{env}"].changed == {
        "docker_service.api": [("mode.replicated.replicas", str(replicas), str(replicas + 2), [])]
    }
    assert not changed[f"platform-{env}"].added and not changed[f"platform-{env}"].removed


def test_a_worker_is_one_droplet_and_changes_nothing_the_stacks_deploy(tmp_path, synth_dir):
    # GIVEN one more worker node in config/cluster.yaml (one entry)
    out = synth_with(tmp_path, add_worker)
    diffs = synth_diff.diff_dirs(synth_dir, out)
    # THEN the cluster stack adds that node's droplet and changes nothing else
    cluster = diffs.pop("cluster")
    assert cluster.added == [f"digitalocean_droplet.node_{WORKER['name'].replace('-', '_')}"]
    assert not cluster.removed and not cluster.changed
    # AND no other stack changes: the stateful services stay pinned to the node with the
    # volumes (a label, not a node count), and nothing else is placed by name
    assert {name: d for name, d in diffs.items() if not d.empty} == {}
    assert set(diffs) | {"cluster"} == set(STACK_NAMES)
    # AND the worker joins the manager's private address with the token an operator supplies
    import json

    cluster_json = json.loads((out / "stacks" / "cluster" / "cdk.tf.json").read_text())
    droplet = cluster_json["resource"]["digitalocean_droplet"][
        f"node_{WORKER['name'].replace('-', '_')}"
    ]
    assert '--token "${var.swarm_join_token}"' in droplet["user_data"]
    assert (
        "${digitalocean_droplet.node_sprocket_manager_1.ipv4_address_private}:2377"
        in (droplet["user_data"])
    )
    assert cluster_json["variable"]["swarm_join_token"]["sensitive"] is True


def unused_environment_names(count: int) -> list[str]:
    """``count`` names no environment has, as name or as subdomain; with a hyphen, which
    names that allow only letters, digits and "_" (databases, buckets) must survive."""
    taken = set(ENVIRONMENTS) | {env.subdomain for env in CONFIG.environments.values()}
    free = (f"new-{i}" for i in itertools.count() if f"new-{i}" not in taken)
    return [next(free) for _ in range(count)]


def test_a_new_environment_adds_its_stack_and_touches_only_the_shared_services(tmp_path, synth_dir):
    (new,) = unused_environment_names(1)

    def add_environment(config: Path) -> None:
        # As the README says: a file with an image tag and a subdomain, and a node for it.
        (config / "environments" / f"{new}.yaml").write_text(
            f"image_tag: {new}\nsubdomain: {new}\n"
        )
        add_worker(config)

    diffs = synth_diff.diff_dirs(synth_dir, synth_with(tmp_path, add_environment))
    # A new stack of its own...
    assert diffs[f"platform-{new}"] == "added"
    # ...no change to layer_1 or to the other environments...
    for name in ("layer_1", *PLATFORM_STACKS):
        assert diffs[name].empty, name
    # ...and in layer_2 only what serves every environment: its Vault policy and token,
    # its InfluxDB bucket, its uptime, certificate and backup checks, its business dashboard
    # (its datastores and their backup are in its own stack).
    layer_2 = diffs["layer_2"]
    assert not layer_2.removed
    added = {re.sub(r"_(Stored|Default)_[0-9A-F]{8}$", "", a) for a in layer_2.added}
    assert added == {
        f"vault_policy.policy_platform_{new.replace('-', '_')}_service",
        f"vault_token_auth_backend_role.platform_role_{new}",
    }
    touched = {re.sub(r"_[0-9A-F]{8}$", "", address) for address in layer_2.changed}
    assert touched == {
        "docker_config.influxdb_buckets_Config-influxdb-buckets",
        "docker_config.gatus_Config-endpoints-yaml",
        # plan reads what every stack's refresh reads: the new environment's too
        "vault_policy.policy_plan",
        # the bucket loop may write the new environment's InfluxDB token
        "vault_policy.policy_influxdb_tokens",
        # the business dashboard offers its bucket; its backup gets "failed"/"missing" rules
        "docker_config.grafana_Config-business-json",
        "docker_config.grafana_Config-etc-grafana-provisioning-alerting-sprocket-yaml",
        # its public hosts' certificates are checked
        "docker_config.telegraf_Config-telegraf-conf",
    }


def test_an_environment_that_does_not_fit_is_refused_with_the_totals(tmp_path):
    # GIVEN more environments and no node for them, one at a time until they do not fit
    # (the shipped nodes are full with the shipped environments: the first one already)
    from stacks.config import ConfigError

    names = unused_environment_names(8)
    problems = None
    for count in range(1, len(names) + 1):

        def add_environments(config: Path, count=count) -> None:
            for new in names[:count]:
                (config / "environments" / f"{new}.yaml").write_text(
                    f"image_tag: {new}\nsubdomain: {new}\n"
                )

        shutil.rmtree(tmp_path, ignore_errors=True)
        tmp_path.mkdir()
        try:
            synth_with(tmp_path, add_environments)
        except ConfigError as error:
            problems = error.problems
            break
    # THEN synthesis refuses it, naming the node, what it has and what it would need
    assert problems is not None, f"{len(names)} more environments on the same nodes were accepted"
    assert len(problems) == 1, problems
    found = re.match(
        r"config/cluster.yaml: swarm.nodes: node (\S+) \((\S+)\) has (\d+) MiB, but needs ",
        problems[0],
    )
    assert found, problems[0]
    node = next(n for n in CONFIG.cluster.swarm.nodes if n.name == found[1])
    assert (found[2], int(found[3])) == (node.size, node.memory_mib)
    assert "start-first headroom" in problems[0] and "add a node" in problems[0]


# Attributes of docker_service whose change replaces the service, kreuzwerker/docker 3.9.0
# resource_docker_service.go (ForceNew: 26-58, 90, 261, 361-375, 506, 705-719). A label change
# updates in place from 3.9.0 (docs/decisions/docker-provider-version.md).
SERVICE_FORCE_NEW = re.compile(
    r"^(name|auth\..*|task_spec\.networks_advanced.*|task_spec\.container_spec\.(labels|hosts|"
    r"sysctl).*|task_spec\.container_spec\.mounts\.\d+\.volume_options\.labels.*)$"
)


def test_a_route_change_updates_the_services_in_place(tmp_path, synth_dir):
    # GIVEN an environment served under a new subdomain: every route host of it changes
    env = next(e for e in ENVIRONMENTS if CONFIG.environments[e].subdomain)

    def move(config: Path) -> None:
        path = config / "environments" / f"{env}.yaml"
        data = yaml.safe_load(path.read_text())
        path.write_text(yaml.safe_dump({**data, "subdomain": f"{data['subdomain']}2"}))

    diffs = synth_diff.diff_dirs(synth_dir, synth_with(tmp_path, move))
    changed = diffs[f"platform-{env}"].changed
    services = {a: c for a, c in changed.items() if a.startswith("docker_service.")}
    # THEN the routed services change their labels...
    assert any(path.startswith("labels") for c in services.values() for path, *_ in c)
    # ...and nothing a service is replaced for
    replaced = {a: p for a, c in services.items() for p, *_ in c if SERVICE_FORCE_NEW.match(p)}
    assert replaced == {}
    assert not diffs[f"platform-{env}"].removed
