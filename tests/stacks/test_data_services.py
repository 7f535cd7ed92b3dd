"""The data services' configuration files, rendered by pure functions.

Redis and RabbitMQ's come from ``stacks/datastore_files.py``; the shared services' from their
modules in ``stacks/shared_services/``.
"""

import tomllib

import pytest
import yaml

from constructs_lib.errors import PropsError
from constructs_lib.overlay_network import NetworkRef
from stacks import datastore_files as files
from stacks.shared_services import gatus, grafana, influxdb, loki, telegraf
from stacks.vault_configuration import VaultConfigurationProps


def test_redis_conf_persists_and_includes_the_password_last():
    conf = files.redis_conf(maxmemory_mib=384, auth_include="/run/secrets/redis-auth.conf")
    lines = conf.strip().splitlines()
    assert "appendonly yes" in lines
    assert "save 900 1 300 10 60 10000" in lines
    assert "maxmemory 384mb" in lines
    assert lines[-1] == "include /run/secrets/redis-auth.conf"


def test_rabbitmq_definitions_give_each_user_only_its_vhosts():
    users = [
        files.RabbitUser(
            name="admin", password="A", vhosts=["main", "staging"], administrator=True
        ),
        files.RabbitUser(name="sprocket-main", password="M", vhosts=["main"]),
    ]
    doc = files.rabbitmq_definitions(users, ["staging", "main"])
    assert doc["vhosts"] == [{"name": "main"}, {"name": "staging"}]
    assert doc["users"] == [
        {"name": "admin", "password": "A", "tags": ["administrator"]},
        {"name": "sprocket-main", "password": "M", "tags": []},
    ]
    assert {(p["user"], p["vhost"]) for p in doc["permissions"]} == {
        ("admin", "main"),
        ("admin", "staging"),
        ("sprocket-main", "main"),
    }


def test_rabbitmq_conf_loads_definitions_and_keeps_guest_local():
    conf = files.rabbitmq_conf(
        definitions_path="/etc/rabbitmq/definitions.json", memory_limit_mib=1000
    ).splitlines()
    assert "load_definitions = /etc/rabbitmq/definitions.json" in conf
    assert "loopback_users.guest = true" in conf
    # RabbitMQ 4.3 refuses the applications' transient non-exclusive queues otherwise.
    assert "deprecated_features.permit.transient_nonexcl_queues = true" in conf
    # The memory alarm fires at 60 % of the container's limit, in bytes.
    assert f"vm_memory_high_watermark.absolute = {600 * 1024 * 1024}" in conf


def test_telegraf_conf_is_valid_toml_with_the_token_from_the_secret_store():
    conf = tomllib.loads(
        telegraf.telegraf_conf(
            influx_url="http://i:8086",
            organization="o",
            bucket="b",
            token_secret="tok",
            docker_endpoint="tcp://p:2375",
            traefik_metrics_url="http://traefik:8083/metrics",
            certificate_sources=["https://h:443"],
        )
    )
    (output,) = conf["outputs"]["influxdb_v2"]
    assert output["urls"] == ["http://i:8086"]
    assert output["token"] == "@{docker_secrets:tok}"
    assert output["organization"] == "o" and output["bucket"] == "b"
    assert conf["secretstores"]["docker"][0]["id"] == "docker_secrets"
    assert conf["inputs"]["docker"][0]["endpoint"] == "tcp://p:2375"


def test_telegraf_conf_escapes_its_values():
    # A quote or backslash in a value stays inside its string instead of ending it.
    odd = 'o"\\x = 1'
    conf = tomllib.loads(
        telegraf.telegraf_conf(
            influx_url="http://i:8086",
            organization=odd,
            bucket="b",
            token_secret="tok",
            docker_endpoint="tcp://p:2375",
            traefik_metrics_url="http://traefik:8083/metrics",
            certificate_sources=["https://h:443"],
        )
    )
    assert conf["outputs"]["influxdb_v2"][0]["organization"] == odd
    assert set(conf["inputs"]) == {
        "cpu",
        "mem",
        "swap",
        "system",
        "disk",
        "diskio",
        "net",
        "docker",
        "prometheus",
        "x509_cert",
    }


def test_loki_config_retains_seven_days():
    config = yaml.safe_load(loki.loki_config())
    assert config["limits_config"]["retention_period"] == "168h"
    assert config["compactor"]["delete_request_store"] == "filesystem"
    assert config["auth_enabled"] is False


def test_gatus_config_alerts_on_every_endpoint_and_the_alerting_part_is_separate():
    probes = [
        gatus.Probe(name="web", group="g", url="https://example.com/"),
        gatus.Probe(name="db", group="g", url="tcp://db:5432", conditions=("[CONNECTED] == true",)),
    ]
    config = yaml.safe_load(gatus.gatus_config(probes))
    assert [e["interval"] for e in config["endpoints"]] == ["30s", "30s"]
    assert all(e["alerts"][0]["type"] == "discord" for e in config["endpoints"])
    assert config["endpoints"][1]["conditions"] == ["[CONNECTED] == true"]
    assert gatus.gatus_alerting("URL") == {"alerting": {"discord": {"webhook-url": "URL"}}}


def test_grafana_datasources_read_the_token_from_a_file():
    sources = yaml.safe_load(
        grafana.grafana_datasources(
            influx_url="http://i:8086",
            influx_organization="o",
            influx_token_file="/run/secrets/t",
            default_bucket="b",
            loki_url="http://l:3100",
        )
    )["datasources"]
    assert sources[0]["secureJsonData"] == {"token": "$__file{/run/secrets/t}"}
    assert sources[0]["jsonData"] == {"version": "Flux", "organization": "o", "defaultBucket": "b"}
    assert [s["url"] for s in sources] == ["http://i:8086", "http://l:3100"]


@pytest.mark.parametrize("environments", [[], "main"])
def test_vault_and_influxdb_props_need_a_list_of_environments(environments):
    # GIVEN no environment, or one name where a list belongs
    # WHEN the props are made THEN each says what it needs
    with pytest.raises(PropsError, match="list at least one environment name"):
        VaultConfigurationProps(environments=environments)
    with pytest.raises(PropsError, match="list at least one environment name"):
        influxdb.InfluxDbProps(
            image="influxdb:2.7.12",
            network=NetworkRef(name="monitoring-network", id="n"),
            vault_mount="infrastructure",
            environments=environments,
            vault_network=NetworkRef(name="vault-network", id="v"),
            vault_address="http://vault:8200",
            vault_token=None,
        )
