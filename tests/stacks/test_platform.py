"""Behaviour of the synthesized platform stacks, one per environment."""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from stacks.applications import contract
from stacks.applications.catalog import APPS_BY_NAME
from tests.conftest import (
    CONFIG,
    ENVIRONMENTS,
    ROOT,
    config_content,
    mounted_secret_document,
    networks_of,
    public_host,
    resources,
    service_labels,
    services,
)

APPS = set(APPS_BY_NAME)
DATASTORES = {"redis", "rabbitmq", "dgraph-zero", "dgraph-alpha"}
# The daily backup of the datastores' volumes (tests/stacks/test_backups.py).
HELPERS = {"backup"}


@pytest.fixture(scope="session", params=ENVIRONMENTS)
def platform(request, stacks) -> tuple[str, dict]:
    return request.param, stacks[f"platform-{request.param}"]


def app_services(env: str, document: dict) -> dict[str, dict]:
    return {
        name.removeprefix(f"{env}-"): s
        for name, s in services(document).items()
        if name.removeprefix(f"{env}-") in APPS
    }


def mounted_files(service: dict) -> dict[str, dict]:
    spec = service["task_spec"]["container_spec"]
    return {m["file_name"]: m for m in spec.get("secrets", []) + spec.get("configs", [])}


def app_config(document: dict, service: dict, path: str) -> dict:
    """The config document a service reads at ``path``: a secret or a plain config."""
    if any(
        m["file_name"] == path for m in service["task_spec"]["container_spec"].get("secrets", [])
    ):
        return mounted_secret_document(document, service, path)
    return json.loads(config_content(document, service, path))


def test_one_platform_stack_per_environment_with_its_own_state(stacks):
    assert {name for name in stacks if name.startswith("platform-")} == {
        f"platform-{env}" for env in ENVIRONMENTS
    }
    for env in ENVIRONMENTS:
        key = stacks[f"platform-{env}"]["terraform"]["backend"]["s3"]["key"]
        assert key == f"sprocket-infra/platform-{env}.tfstate"


def legacy_services(env: str) -> set[str]:
    """What the legacy platform adds where the environment's file has ``legacy`` (production)."""
    legacy = CONFIG.environments[env].legacy
    if legacy is None:
        return set()
    return {"legacy-redis", "legacy-worker", *(f"legacy-bot-{b.lower()}" for b in legacy.bots)}


def mentions(text: str, env: str) -> bool:
    """Whether ``text`` names environment ``env`` (``main-core``, ``sprocket_main``), not merely
    contains its letters (``domain``)."""
    return re.search(rf"(?<![a-z0-9]){re.escape(env)}(?![a-z0-9])", text) is not None


def test_the_applications_and_their_own_datastores_named_after_their_environment(platform):
    env, document = platform
    expected = APPS | DATASTORES | HELPERS | legacy_services(env)
    assert set(services(document)) == {f"{env}-{s}" for s in expected}


def test_each_app_mounts_exactly_the_secret_files_its_code_opens_owner_read_only(platform):
    env, document = platform
    for app, service in app_services(env, document).items():
        config_path = contract.load(app).config_path
        files = {
            path: mount
            for path, mount in mounted_files(service).items()
            if path.startswith("/app/secret/")
        }
        expected = {s.name for s in contract.load(app).secret_files}
        assert set(files) == expected, app
        # Every image runs as root (dockerfiles/node.Dockerfile has no USER).
        assert all(m["file_mode"] == 0o400 and m["file_uid"] == "0" for m in files.values()), app
        assert config_path in mounted_files(service), app


def test_spaces_access_and_secret_keys_are_not_swapped(platform):
    env, document = platform
    api = mounted_files(app_services(env, document)["api"])
    secrets = resources(document, "docker_secret")
    access = api["/app/secret/minio-access.txt"]["secret_id"].split(".")[1]
    secret = api["/app/secret/minio-secret.txt"]["secret_id"].split(".")[1]
    assert secrets[access]["data"].endswith(".access_key)}")
    assert secrets[secret]["data"].endswith(".secret_key)}")


def test_each_synthesized_config_meets_its_applications_contract(platform):
    env, document = platform
    for app, service in app_services(env, document).items():
        spec = service["task_spec"]["container_spec"]
        path = contract.load(app).config_path
        found = contract.problems(
            contract.load(app),
            app_config(document, service, path),
            config_path=path,
            secret_files=set(mounted_files(service)),
            env=spec.get("env", {}),
        )
        assert found == [], app


def test_no_secret_value_is_a_literal(platform):
    _, document = platform
    for rid, secret in resources(document, "docker_secret").items():
        assert secret["data"].startswith("${base64encode("), rid
    # A plain config file (web's, the datastores') carries no credential.
    for rid, config in resources(document, "docker_config").items():
        if config["data"].startswith("${"):
            # The legacy platform's database CA certificate, read from DigitalOcean.
            assert "digitalocean_database_ca" in config["data"], rid
            continue
        content = base64.b64decode(config["data"]).decode()
        assert "amqp://" not in content and "requirepass" not in content, rid
    # A config that holds the broker login is a secret built by Terraform.
    api = app_services(platform[0], document)["api"]
    url = app_config(document, api, "/app/config/production.json")["transport"]["url"]
    assert (
        url
        == f"amqp://sprocket-{platform[0]}:<secret>@{platform[0]}-rabbitmq:5672/{platform[0]}?heartbeat=60"
    )


def test_environment_specific_names_are_the_environments_own(platform):
    env, document = platform
    api = app_services(env, document)["api"]
    config = app_config(document, api, "/app/config/production.json")
    queues = {k: v for k, v in config["transport"].items() if k not in ("url",)}
    assert all(v.startswith(f"{env}-") for v in queues.values()), queues
    assert config["transport"]["events_application_key"] == f"{env}-api"
    assert config["db"]["database"] == config["db"]["username"] == f"sprocket_{env}"
    assert config["redis"] == {
        "host": f"{env}-redis",
        "port": 6379,
        "prefix": env,
        "secure": False,
    }
    assert config["minio"]["bucketNames"]["replays"] == f"sprocket-replays-{env}-1"
    others = [other for other in ENVIRONMENTS if other != env]
    assert not [other for other in others if mentions(json.dumps(config), other)]


def test_the_bot_answers_to_s_in_production_and_to_the_environments_name_elsewhere(platform):
    env, document = platform
    bot = app_config(
        document, app_services(env, document)["discord-bot"], "/app/config/production.json"
    )
    # EnvironmentNames.bot_prefix (stacks/contracts.py) keys production on its name, "main".
    assert bot["bot"]["prefix"] == ("s." if env == "main" else f"{env}.")


def test_buckets_database_and_spaces_key_are_the_environments_own(platform):
    env, document = platform
    buckets = {
        b["name"]: b
        for b in resources(document, "digitalocean_spaces_bucket").values()
        if not b["name"].startswith("sprocket-backups-")  # the backups' (test_backups.py)
    }
    assert set(buckets) == {
        f"sprocket-{env}-1",
        f"sprocket-image-gen-{env}-1",
        f"sprocket-replays-{env}-1",
    }
    for bucket in buckets.values():
        assert bucket["acl"] == "private" and bucket["versioning"] == {"enabled": True}
        # Kept, and a new name stops the plan (the provider would only rewrite its state)
        assert bucket["lifecycle"]["prevent_destroy"] is True
        (guard,) = bucket["lifecycle"]["replace_triggered_by"]
        guard_id = guard.removeprefix("terraform_data.")
        assert document["resource"]["terraform_data"][guard_id]["triggers_replace"] == {
            "name": bucket["name"]
        }
    (key,) = [
        k
        for k in resources(document, "digitalocean_spaces_key").values()
        if not k["name"].endswith("-backup")
    ]
    assert len(key["grant"]) == 3 and {g["permission"] for g in key["grant"]} == {"readwrite"}
    (db,) = resources(document, "digitalocean_database_db").values()
    (user,) = resources(document, "digitalocean_database_user").values()
    assert db["name"] == user["name"] == f"sprocket_{env}"
    assert "doadmin" not in json.dumps(document)


def test_routes_with_tls_for_the_public_apps_only(platform, stacks):
    env, document = platform
    expected = {
        "web": (f"Host(`{public_host(env)}`)", "3000"),
        "api": (f"Host(`{public_host(env, 'api')}`)", "3001"),
        "image-generation-frontend": (f"Host(`{public_host(env, 'image-generation')}`)", "3000"),
    }
    for app, service in app_services(env, document).items():
        labels = service_labels(service)
        on_ingress = "traefik-ingress" in networks_of(document, service, stacks)
        if app in expected:
            router = f"traefik.http.routers.{env}-{app}"
            assert (
                labels[f"{router}.rule"],
                labels[f"traefik.http.services.{env}-{app}.loadbalancer.server.port"],
            ) == expected[app]
            assert labels[f"{router}.tls"] == "true" and on_ingress
        else:
            assert not labels and not on_ingress, app


def test_apps_share_their_environments_network_and_only_analytics_joins_monitoring(
    platform, stacks
):
    env, document = platform
    for app, service in app_services(env, document).items():
        nets = networks_of(document, service, stacks)
        assert f"{env}-platform" in nets and "platform-network" not in nets, app
        assert ("monitoring-network" in nets) == (app == "analytics"), app
    remote = document["data"]["terraform_remote_state"]
    # the layers, and the cluster only for the database host check (stacks/cluster.py)
    assert {r["config"]["key"] for r in remote.values()} == {
        "sprocket-infra/cluster.tfstate",
        "sprocket-infra/layer_1.tfstate",
        "sprocket-infra/layer_2.tfstate",
    }


def test_vault_is_reached_with_the_deployers_token_and_only_granted_paths(platform, layer_2):
    env, document = platform
    # One Vault provider, whose token is the deployer's (VAULT_TOKEN, minted from the
    # environment's role): no token comes from another stack
    (provider,) = document["provider"]["vault"]
    assert "token" not in provider and provider["skip_child_token"] is True
    # Every secret read or written is in the environment's policy, path by path
    policy = next(
        p for p in resources(layer_2, "vault_policy").values()
        if p["name"] == f"platform-{env}-service"
    )  # fmt: skip
    paths = json.loads(policy["policy"])["path"]
    for read in document["data"]["vault_kv_secret_v2"].values():
        assert "read" in paths[f"{read['mount']}/data/{read['name']}"]["capabilities"], read
    for written in resources(document, "vault_kv_secret_v2").values():
        granted = paths[f"{written['mount']}/data/{written['name']}"]["capabilities"]
        assert {"create", "update"} <= set(granted), written
    # ...and nothing else: every granted path is one this stack uses
    used = {
        f"{r['mount']}/data/{r['name']}" for r in document["data"]["vault_kv_secret_v2"].values()
    }
    writes = resources(document, "vault_kv_secret_v2").values()
    used |= {f"{w['mount']}/{part}/{w['name']}" for w in writes for part in ("data", "metadata")}
    assert set(paths) == used


def test_images_are_the_configured_repositories_at_the_environments_tag_by_digest(platform):
    env, document = platform
    repositories = yaml.safe_load((ROOT / "config" / "applications.yaml").read_text())
    for app, service in app_services(env, document).items():
        image = service["task_spec"]["container_spec"]["image"]
        repository = repositories["applications"][app]["repository"]
        assert image.startswith(f"{repository}:{env}@${{data.docker_registry_image."), app
        # Pulled with the configured account; the token is a sensitive variable.
        assert service["auth"] == {
            "server_address": "registry-1.docker.io",
            "username": "asaxplayinghorse",
            "password": "${var.registry_password}",
        }, app
    assert document["variable"]["registry_password"]["sensitive"] is True


def test_replay_parse_has_memory_limits_and_bounded_celery_workers(platform):
    env, document = platform
    replay = app_services(env, document)["replay-parse"]
    limit = replay["task_spec"]["resources"]["limits"]["memory_bytes"]
    celery = replay["task_spec"]["container_spec"]["env"]
    concurrency = int(celery["CELERY_WORKER_CONCURRENCY"])
    per_child_kib = int(celery["CELERY_WORKER_MAX_MEMORY_PER_CHILD"])
    assert concurrency * per_child_kib * 1024 < limit
    assert int(celery["CELERY_WORKER_MAX_TASKS_PER_CHILD"]) > 0


def test_api_starts_as_the_running_deployment_does(platform):
    env, document = platform
    spec = app_services(env, document)["api"]["task_spec"]["container_spec"]
    assert spec["command"] == ["node", "/app/core/dist/main.js"]
    assert spec["env"] == {"NODE_ENV": "production"}


def test_generated_secrets_are_kept_in_the_environments_own_vault_paths(platform):
    env, document = platform
    (jwt,) = [p for rid, p in resources(document, "random_password").items() if "jwt" in rid]
    assert jwt["length"] == 64
    paths = {s["name"] for s in resources(document, "vault_kv_secret_v2").values()}
    expected = {
        f"{env}/generated/{n}" for n in ("jwt", "redis", "rabbitmq", "dgraph", "credentials")
    }
    assert expected <= paths
    assert all(p.startswith(f"{env}/generated/") for p in paths), paths


def test_changing_one_environment_changes_no_other_stack(tmp_path: Path, stacks):
    import main

    # GIVEN the shipped configuration with only one environment's image tag changed
    env = ENVIRONMENTS[-1]
    shutil.copytree(ROOT / "config", tmp_path / "config")
    path = tmp_path / "config" / "environments" / f"{env}.yaml"
    data = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**data, "image_tag": f"{data['image_tag']}-2"}))
    outdir = tmp_path / "out"
    main.build(tmp_path, outdir=str(outdir)).synth()
    changed = {
        d.name
        for d in (outdir / "stacks").iterdir()
        if json.loads((d / "cdk.tf.json").read_text()) != stacks[d.name]
    }
    # THEN only that environment's platform stack differs
    assert changed == {f"platform-{env}"}


def shared_settings() -> list[str]:
    """Each string in config/applications.yaml's settings as a config file renders it,
    ``"key" = "value"`` inside the file's jsonencode expression."""

    def leaves(settings: dict):
        for key, value in settings.items():
            if isinstance(value, dict):
                yield from leaves(value)
            elif isinstance(value, str):
                yield f'"{key}" = "{value}"'

    apps = CONFIG.applications.applications.values()
    return [leaf for app in apps for leaf in leaves(app.settings)]


def test_nothing_in_an_environments_stack_or_what_it_reads_names_another(platform, stacks):
    env, document = platform
    others = [other for other in ENVIRONMENTS if other != env]
    # As a name appears in resources: main-api, sprocket_main, platform/main/ (not main.js)
    names = "|".join(map(re.escape, others))
    word = re.compile(rf"(?<![A-Za-z0-9.])({names})(?![A-Za-z0-9.])")
    # GIVEN the stack as synthesized (its metadata aside), without the fixed settings of
    # config/applications.yaml, the same in every environment: replay-parse's
    # parsed_object_prefix "dev" names no environment, even beside one called dev
    text = json.dumps({k: v for k, v in document.items() if k != "//"})
    for setting in shared_settings():
        text = text.replace(json.dumps(setting)[1:-1], "")
    # THEN no other environment's name appears in it...
    assert not word.findall(text), sorted(set(word.findall(text)))
    # ...nor in any output of a stack it reads: a terraform_remote_state data source keeps
    # every output of that state in this stack's own state, not only those it uses
    sources = document["data"]["terraform_remote_state"].values()
    assert sources
    for source in sources:
        name = source["config"]["key"].rsplit("/", 1)[-1].removesuffix(".tfstate")
        for output, body in stacks[name]["output"].items():
            value = json.dumps(body["value"])
            assert not word.findall(output + value), (name, output)
            assert not re.search(r"vault_token|random_password|password|secret", value), output
