"""The security policy holds for every synthesized stack, and each rule can fail."""

from __future__ import annotations

import base64
import copy

import pytest
import yaml

from tests import security_rules as rules
from tests.conftest import ENVIRONMENTS, STACK_NAMES, resources, services

# The environment whose platform stack the breakers below break: any one will do.
ANY_ENV = ENVIRONMENTS[0]
PLATFORM = f"platform-{ANY_ENV}"


@pytest.mark.parametrize("stack_name", STACK_NAMES)
@pytest.mark.parametrize("rule_name", sorted(rules.RULES))
def test_every_stack_complies(stacks, stack_name, rule_name):
    assert rules.RULES[rule_name](stacks[stack_name]) == []


def first(mapping: dict) -> dict:
    return next(iter(mapping.values()))


def break_literal_secret(s):
    first(resources(s["layer_1"], "docker_secret"))["data"] = base64.b64encode(b"x").decode()
    return s["layer_1"]


def break_credential_in_env(s):
    spec = services(s[PLATFORM])[f"{ANY_ENV}-redis"]["task_spec"]["container_spec"]
    spec["env"] = {"TOKEN": "dop_v1_" + "ab" * 16}
    return s[PLATFORM]


def break_credential_in_a_config_file(s):
    import base64

    config = first(resources(s["layer_1"], "docker_config"))
    text = base64.b64decode(config["data"]).decode() + "\ntoken: ghp_" + "N0tReal" * 6 + "\n"
    config["data"] = base64.b64encode(text.encode()).decode()
    return s["layer_1"]


def break_public_database_port(s):
    fw = first(resources(s["cluster"], "digitalocean_firewall"))
    fw["inbound_rule"].append(
        {"protocol": "tcp", "port_range": "5432", "source_addresses": ["0.0.0.0/0"]}
    )
    return s["cluster"]


def break_published_port(s):
    services(s[PLATFORM])[f"{ANY_ENV}-redis"]["endpoint_spec"]["ports"] = [
        {"target_port": 6379, "published_port": 6379}
    ]
    return s[PLATFORM]


def break_open_ssh(s):
    fw = first(resources(s["cluster"], "digitalocean_firewall"))
    fw["inbound_rule"].append({"protocol": "tcp", "port_range": "22", "source_addresses": ["::/0"]})
    return s["cluster"]


def break_socket_in_vault(s):
    spec = services(s["layer_1"])["vault"]["task_spec"]["container_spec"]
    spec["mounts"] = [
        {"type": "bind", "source": "/var/run/docker.sock", "target": "/s", "read_only": True}
    ]
    return s["layer_1"]


def break_writable_socket(s):
    spec = services(s["layer_1"])["socket-proxy"]["task_spec"]["container_spec"]
    spec["mounts"][0]["read_only"] = False
    return s["layer_1"]


def break_unpinned_image(s):
    services(s["layer_2"])["loki"]["task_spec"]["container_spec"]["image"] = "grafana/loki:latest"
    return s["layer_2"]


def break_tag_without_digest(s):
    spec = services(s[PLATFORM])[f"{ANY_ENV}-web"]["task_spec"]["container_spec"]
    spec["image"] = "asaxplayinghorse/sprocket-web:${var.tag}"
    return s[PLATFORM]


def break_no_limits(s):
    del services(s["layer_2"])["neo4j"]["task_spec"]["resources"]["limits"]
    return s["layer_2"]


def break_restarts_that_give_up(s):
    services(s["layer_2"])["neo4j"]["task_spec"]["restart_policy"]["max_attempts"] = 5
    return s["layer_2"]


def break_no_rollback(s):
    services(s["layer_2"])["neo4j"]["update_config"]["failure_action"] = "pause"
    return s["layer_2"]


def break_stateful_start_first(s):
    services(s[PLATFORM])[f"{ANY_ENV}-redis"]["update_config"]["order"] = "start-first"
    return s[PLATFORM]


def break_secret_mode(s):
    spec = services(s[PLATFORM])[f"{ANY_ENV}-api"]["task_spec"]["container_spec"]
    spec["secrets"][0]["file_mode"] = 0o444
    return s[PLATFORM]


def break_token_output(s):
    # An output carrying a generated password, not marked sensitive
    password = next(iter(s["layer_2"]["resource"]["random_password"]))
    s["layer_2"]["output"]["LeakedPassword"] = {"value": f"${{random_password.{password}.result}}"}
    return s["layer_2"]


def break_variable(s):
    s["layer_1"]["variable"]["traefik_dashboard_users"]["sensitive"] = False
    return s["layer_1"]


def break_traefik_static(change):
    def breaker(s):
        for config in resources(s["layer_1"], "docker_config").values():
            if not config["name"].startswith("traefik-traefik-yml-"):
                continue
            document = yaml.safe_load(base64.b64decode(config["data"]))
            if "entryPoints" in document:
                change(document)
                config["data"] = base64.b64encode(yaml.safe_dump(document).encode()).decode()
        return s["layer_1"]

    breaker.__name__ = f"break_traefik_{change.__name__}"
    return breaker


def insecure_api(document):
    document["api"]["insecure"] = True


def no_redirect(document):
    document["entryPoints"]["web"].pop("http")


def break_bucket(field, value):
    def breaker(s):
        first(resources(s[PLATFORM], "digitalocean_spaces_bucket"))[field] = value
        return s[PLATFORM]

    breaker.__name__ = f"break_bucket_{field}"
    return breaker


BROKEN = [
    ("no_literal_secrets", break_literal_secret),
    ("no_literal_secrets", break_credential_in_env),
    ("no_literal_secrets", break_credential_in_a_config_file),
    ("only_web_ports_public", break_public_database_port),
    ("only_web_ports_public", break_published_port),
    ("ssh_only_from_admins", break_open_ssh),
    ("docker_socket_only_in_proxies", break_socket_in_vault),
    ("docker_socket_only_in_proxies", break_writable_socket),
    ("images_pinned", break_unpinned_image),
    ("images_pinned", break_tag_without_digest),
    ("limits_restarts_and_rollback", break_no_limits),
    ("limits_restarts_and_rollback", break_restarts_that_give_up),
    ("limits_restarts_and_rollback", break_no_rollback),
    ("stateful_services_stop_first", break_stateful_start_first),
    ("secret_files_private", break_secret_mode),
    ("sensitive_outputs_marked", break_token_output),
    ("sensitive_outputs_marked", break_variable),
    ("traefik_never_insecure", break_traefik_static(insecure_api)),
    ("traefik_never_insecure", break_traefik_static(no_redirect)),
    ("buckets_private_and_versioned", break_bucket("acl", "public-read")),
    ("buckets_private_and_versioned", break_bucket("versioning", {"enabled": False})),
]


@pytest.mark.parametrize(
    ("rule_name", "breaker"), BROKEN, ids=[f"{r}-{b.__name__}" for r, b in BROKEN]
)
def test_each_rule_catches_a_broken_stack(stacks, rule_name, breaker):
    # GIVEN a copy of the synthesized stacks with one deliberate violation
    broken = breaker(copy.deepcopy(stacks))
    # THEN the rule reports it
    assert rules.RULES[rule_name](broken), f"{rule_name} missed {breaker.__name__}"


def test_every_rule_has_a_broken_case():
    assert {rule for rule, _ in BROKEN} == set(rules.RULES)
