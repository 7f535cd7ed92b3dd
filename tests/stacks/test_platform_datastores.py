"""Each environment's own datastores and, in production, the legacy platform."""

from __future__ import annotations

import base64

import pytest

from tests.conftest import (
    CONFIG,
    ENVIRONMENTS,
    LEGACY_ENVIRONMENTS,
    config_content,
    networks_of,
    resources,
    service_labels,
    services,
)


@pytest.fixture(scope="session", params=ENVIRONMENTS)
def platform(request, stacks) -> tuple[str, dict]:
    return request.param, stacks[f"platform-{request.param}"]


def spec(service: dict) -> dict:
    return service["task_spec"]["container_spec"]


def secret_mounts(service: dict) -> dict[str, dict]:
    return {m["file_name"]: m for m in spec(service).get("secrets", [])}


def test_datastores_are_reachable_only_on_the_environments_network(platform, stacks):
    env, document = platform
    found = services(document)
    for name in ("redis", "rabbitmq", "dgraph-alpha"):
        service = found[f"{env}-{name}"]
        assert networks_of(document, service, stacks) <= {f"{env}-platform", f"{env}-dgraph"}, name
        assert f"{env}-platform" in networks_of(document, service, stacks), name
        assert not service_labels(service) and "ports" not in service["endpoint_spec"], name
    assert networks_of(document, found[f"{env}-dgraph-zero"], stacks) == {f"{env}-dgraph"}
    nets = {n["name"]: n for n in resources(document, "docker_network").values()}
    assert nets[f"{env}-dgraph"]["internal"] is True


def test_redis_8_loads_its_modules_through_the_images_entrypoint(platform):
    env, document = platform
    redis = services(document)[f"{env}-redis"]
    # GIVEN the official image, whose entrypoint appends --loadmodule for each bundled module
    assert spec(redis)["image"].startswith("redis:8.")
    # THEN the service passes arguments (keeping the entrypoint), never an entrypoint override
    assert "command" not in spec(redis)
    assert spec(redis)["args"] == ["redis-server", "/usr/local/etc/redis/redis.conf"]
    conf = config_content(document, redis, "/usr/local/etc/redis/redis.conf")
    # A second loadmodule of a bundled module aborts the server (redis/redis#14178).
    assert "loadmodule" not in conf and "include /run/secrets/redis-auth.conf" in conf


def test_datastore_secret_files_belong_to_the_images_users(platform):
    env, document = platform
    redis = secret_mounts(services(document)[f"{env}-redis"])
    assert {(m["file_uid"], m["file_gid"], m["file_mode"]) for m in redis.values()} == {
        ("999", "999", 0o400)
    }
    rabbit = secret_mounts(services(document)[f"{env}-rabbitmq"])
    (definitions,) = rabbit.values()
    # rabbitmq:*-alpine runs as uid 100, gid 101 (docker-library/rabbitmq 4.3/alpine/Dockerfile).
    assert (definitions["file_uid"], definitions["file_gid"]) == ("100", "101")


def test_rabbitmq_permits_the_applications_transient_queues_and_loads_its_login(platform):
    env, document = platform
    rabbit = services(document)[f"{env}-rabbitmq"]
    assert spec(rabbit)["image"].startswith("rabbitmq:4.3.")
    conf = config_content(document, rabbit, "/etc/rabbitmq/conf.d/30-sprocket.conf")
    assert "deprecated_features.permit.transient_nonexcl_queues = true" in conf.splitlines()
    assert "load_definitions = /etc/rabbitmq/definitions.json" in conf.splitlines()
    rid = secret_mounts(rabbit)["/etc/rabbitmq/definitions.json"]["secret_id"].split(".")[1]
    definitions = resources(document, "docker_secret")[rid]["data"]
    assert f'"name" = "sprocket-{env}"' in definitions and f'"vhost" = "{env}"' in definitions
    assert "guest" not in definitions and "administrator" not in definitions


def test_elo_reaches_its_environments_dgraph_over_grpc(platform):
    env, document = platform
    elo = spec(services(document)[f"{env}-elo"])
    assert elo["env"]["DGRAPH_DATABASE_URL"] == f"{env}-dgraph-alpha:9080"
    assert elo["env"]["REDIS_HOST"] == f"{env}-redis" and elo["env"]["REDIS_PREFIX"] == env
    alpha = spec(services(document)[f"{env}-dgraph-alpha"])
    assert alpha["command"][:2] == ["dgraph", "alpha"]
    assert f"--zero={env}-dgraph-zero:5080" in alpha["command"]


def test_production_alone_runs_the_legacy_platform():
    # config/environments/main.yaml: legacy; no other environment file has it.
    assert LEGACY_ENVIRONMENTS == ("main",)


def test_the_legacy_platform_runs_only_where_the_environment_file_asks_for_it(platform):
    env, document = platform
    config = CONFIG.environments[env].legacy
    expected = (
        {f"{env}-legacy-redis", f"{env}-legacy-worker"}
        | {f"{env}-legacy-bot-{bot.lower()}" for bot in config.bots}
        if config
        else set()
    )
    assert {n for n in services(document) if "legacy" in n} == expected


@pytest.fixture(scope="session", params=LEGACY_ENVIRONMENTS)
def legacy_platform(request, stacks) -> tuple[str, dict]:
    return request.param, stacks[f"platform-{request.param}"]


def test_legacy_services_get_their_settings_as_the_running_platform_did(legacy_platform, stacks):
    env, document = legacy_platform
    config = CONFIG.environments[env].legacy
    bot_services = {bot: f"{env}-legacy-bot-{bot.lower()}" for bot in config.bots}
    for name in (f"{env}-legacy-worker", *bot_services.values()):
        service = services(document)[name]
        variables = spec(service)["env"]
        assert {
            "NODE_ENV",
            "REDIS_HOST",
            "REDIS_PORT",
            "REDIS_PASSWORD",
            "bot_token",
            "connstring",
            "file_bucket",
            "file_token",
            "file_token_secret",
            "SPROCKET",
        } <= set(variables), name
        # Secret values are Terraform expressions, never literals in the JSON.
        for key in ("REDIS_PASSWORD", "bot_token", "connstring", "file_token_secret"):
            assert variables[key].startswith("${"), (name, key)
        # Certificates are verified against the database's CA, not switched off.
        assert "NODE_TLS_REJECT_UNAUTHORIZED" not in variables
        configs = {m["file_name"] for m in spec(service)["configs"]}
        assert variables["NODE_EXTRA_CA_CERTS"] in configs
        assert networks_of(document, service, stacks) == {f"{env}-legacy"}
    for bot, name in bot_services.items():
        assert spec(services(document)[name])["env"]["bot"] == bot
    # The worker logs in with its configured bot's token.
    worker = spec(services(document)[f"{env}-legacy-worker"])["env"]["bot_token"]
    worker_bot = services(document)[bot_services[config.worker_bot]]
    assert worker == spec(worker_bot)["env"]["bot_token"]


def test_datastore_configs_hold_no_credentials(platform):
    _, document = platform
    for rid, config in resources(document, "docker_config").items():
        if config["data"].startswith("${"):
            # The legacy platform's database CA certificate, read from DigitalOcean.
            assert "digitalocean_database_ca" in config["data"], rid
            continue
        text = base64.b64decode(config["data"]).decode()
        assert "requirepass" not in text and "amqp://" not in text, rid


def test_redis_requires_a_password_and_persists_rdb_and_aof(platform):
    env, document = platform
    redis = services(document)[f"{env}-redis"]
    conf = config_content(document, redis, "/usr/local/etc/redis/redis.conf")
    # It persists both ways, and takes its password last, from a secret file.
    assert "appendonly yes" in conf and "save 900 1 300 10 60 10000" in conf
    assert conf.strip().splitlines()[-1] == "include /run/secrets/redis-auth.conf"
    assert "requirepass" not in conf
    rid = secret_mounts(redis)["/run/secrets/redis-auth.conf"]["secret_id"].split(".")[1]
    data = resources(document, "docker_secret")[rid]["data"]
    assert 'format("requirepass %s\\n", random_password.datastores_redis_password_' in data
