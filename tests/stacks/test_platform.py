"""Behaviour of the synthesized platform stacks, one per environment."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, networks_of, resources, service_labels, services

ENVIRONMENTS = ("main", "staging")
APPS = {
    "web",
    "api",
    "discord-bot",
    "image-generation-frontend",
    "image-generation-service",
    "notification",
    "analytics",
    "matchmaking",
    "replay-parse",
    "elo",
    "submission",
    "legacy-bot",
}
# The facts table of the running deployment: the files each application opens.
SECRET_FILES = {
    "api": {
        "db-password.txt",
        "jwtSecret.txt",
        "minio-secret.txt",
        "minio-access.txt",
        "googleClientId.txt",
        "googleSecret.txt",
        "discord-secret.txt",
        "discord-client.txt",
        "redis-password.txt",
        "epic-client.txt",
        "epic-secret.txt",
        "steam-key.txt",
    },
    "web": {"chatwoot-hmac-key.txt"},
    "image-generation-frontend": {"minio-secret.txt", "minio-access.txt", "db-secret.txt"},
    "discord-bot": {"bot-token.txt", "minio-secret.txt", "minio-access.txt"},
    "image-generation-service": {"minio-secret.txt", "minio-access.txt", "db-secret.txt"},
    "notification": {"redis-password.txt"},
    "matchmaking": {"redis-password.txt"},
    "submission": {"minio-secret.txt", "minio-access.txt", "redis-password.txt"},
    "elo": {"redis-password.txt", "dgraph-api-key.txt"},
    "analytics": {"influx-token"},
    "replay-parse": {"minio-secret.txt", "ballchasing-token"},
}
CONFIG_PATHS = {
    "web": "/app/clients/web/config/production.json",
    "image-generation-frontend": "/app/src/config.json",
}


@pytest.fixture(scope="session", params=ENVIRONMENTS)
def platform(request, stacks) -> tuple[str, dict]:
    return request.param, stacks[f"platform-{request.param}"]


def app_services(env: str, document: dict) -> dict[str, dict]:
    return {name.removeprefix(f"{env}-"): s for name, s in services(document).items()}


def mounted_files(service: dict) -> dict[str, dict]:
    spec = service["task_spec"]["container_spec"]
    return {m["file_name"]: m for m in spec.get("secrets", []) + spec.get("configs", [])}


def backend_config(document: dict) -> str:
    return resources(document, "docker_secret")["backend_config"]["data"]


def test_one_platform_stack_per_environment_with_its_own_state(stacks):
    assert {name for name in stacks if name.startswith("platform-")} == {
        f"platform-{env}" for env in ENVIRONMENTS
    }
    for env in ENVIRONMENTS:
        key = stacks[f"platform-{env}"]["terraform"]["backend"]["s3"]["key"]
        assert key == f"sprocket-infra/platform-{env}.tfstate"


def test_the_twelve_applications_named_after_their_environment(platform):
    env, document = platform
    assert set(services(document)) == {f"{env}-{app}" for app in APPS}


def test_every_secret_file_of_the_facts_table_is_mounted_owner_read_only(platform):
    env, document = platform
    for app, service in app_services(env, document).items():
        files = {
            path.removeprefix("/app/secret/"): mount
            for path, mount in mounted_files(service).items()
            if path.startswith("/app/secret/")
        }
        assert set(files) == SECRET_FILES.get(app, set()), app
        assert all(m["file_mode"] == 0o400 for m in files.values()), app


def test_spaces_access_and_secret_keys_are_not_swapped(platform):
    env, document = platform
    api = mounted_files(app_services(env, document)["api"])
    secrets = resources(document, "docker_secret")
    access = api["/app/secret/minio-access.txt"]["secret_id"].split(".")[1]
    secret = api["/app/secret/minio-secret.txt"]["secret_id"].split(".")[1]
    assert secrets[access]["data"].endswith(".access_key)}")
    assert secrets[secret]["data"].endswith(".secret_key)}")


def test_each_app_reads_its_config_where_it_looks_for_it(platform):
    env, document = platform
    for app, service in app_services(env, document).items():
        path = CONFIG_PATHS.get(app, "/app/config/production.json")
        assert path in mounted_files(service), app


def test_no_secret_value_is_a_literal(platform):
    _, document = platform
    for rid, secret in resources(document, "docker_secret").items():
        assert secret["data"].startswith("${base64encode("), rid
    # The public frontends' config is a plain config file: it must carry no credential.
    for rid, config in resources(document, "docker_config").items():
        content = base64.b64decode(config["data"]).decode()
        assert "amqp://" not in content and "password" not in content.lower(), rid
    # The backends' config holds the broker login, so it is a secret built by Terraform.
    assert "rabbitmq_login" in backend_config(document)


def test_environment_specific_names_differ_between_main_and_staging(stacks):
    main, staging = (backend_config(stacks[f"platform-{env}"]) for env in ENVIRONMENTS)
    for env, config in (("main", main), ("staging", staging)):
        other = "staging" if env == "main" else "main"
        for queue in ("core", "bot", "matchmaking", "analytics", "events", "ig", "submissions"):
            assert f'"{env}-{queue}"' in config and f'"{other}-{queue}"' not in config
        assert f'"{env}-notifications"' in config and f'"{env}-celery"' in config
        assert f'"database" = "sprocket_{env}"' in config
        assert f'"bucket" = "sprocket_{env}"' in config
        assert f'"prefix" = "{env}"' in config
        assert f'"sprocket-{env}-1"' in config and f'"sprocket-replays-{env}-1"' in config
        assert f'"/{env}?heartbeat=60"' in config or f"/{env}?heartbeat=60" in config
    assert '"prefix" = "s."' in main and '"prefix" = "staging."' in staging
    assert '"url" = "https://sprocket.mlesports.gg"' in main
    assert '"url" = "https://staging.sprocket.mlesports.gg"' in staging


def test_buckets_database_and_spaces_key_are_the_environments_own(platform):
    env, document = platform
    buckets = {b["name"]: b for b in resources(document, "digitalocean_spaces_bucket").values()}
    assert set(buckets) == {
        f"sprocket-{env}-1",
        f"sprocket-image-gen-{env}-1",
        f"sprocket-replays-{env}-1",
    }
    for bucket in buckets.values():
        assert bucket["acl"] == "private" and bucket["versioning"] == {"enabled": True}
        assert bucket["lifecycle"] == {"prevent_destroy": True}
    (key,) = resources(document, "digitalocean_spaces_key").values()
    assert len(key["grant"]) == 3 and {g["permission"] for g in key["grant"]} == {"readwrite"}
    (db,) = resources(document, "digitalocean_database_db").values()
    (user,) = resources(document, "digitalocean_database_user").values()
    assert db["name"] == user["name"] == f"sprocket_{env}"
    assert "doadmin" not in json.dumps(document)


def test_routes_with_tls_for_the_public_apps_only(platform):
    env, document = platform
    host = "sprocket.mlesports.gg" if env == "main" else f"{env}.sprocket.mlesports.gg"
    expected = {
        "web": (f"Host(`{host}`)", "3000"),
        "api": (f"Host(`api.{host}`)", "3001"),
        "image-generation-frontend": (f"Host(`image-generation.{host}`)", "3000"),
    }
    for app, service in app_services(env, document).items():
        labels = service_labels(service)
        on_ingress = "traefik-ingress" in networks_of(document, service)
        if app in expected:
            router = f"traefik.http.routers.{env}-{app}"
            assert (
                labels[f"{router}.rule"],
                labels[f"traefik.http.services.{env}-{app}.loadbalancer.server.port"],
            ) == expected[app]
            assert labels[f"{router}.tls"] == "true" and on_ingress
        else:
            assert not labels and not on_ingress, app


def test_networks_come_from_earlier_stacks_and_analytics_joins_monitoring(platform):
    env, document = platform
    for app, service in app_services(env, document).items():
        nets = networks_of(document, service)
        assert "platform-network" in nets, app
        assert ("monitoring-network" in nets) == (app == "analytics"), app
    remote = document["data"]["terraform_remote_state"]
    assert {r["config"]["key"] for r in remote.values()} == {
        "sprocket-infra/layer_1.tfstate",
        "sprocket-infra/layer_2.tfstate",
    }


def test_vault_is_read_with_the_tokens_layer_2_made(platform):
    env, document = platform
    providers = {p.get("alias", "default"): p for p in document["provider"]["vault"]}
    # The environment's own platform token, which reaches no other environment's secrets.
    assert providers["default"]["token"].endswith(f"platform_token_{env}client_token}}")
    assert "infrastructure_tokenclient_token" in providers["infrastructure"]["token"]
    reads = resources(document, "vault_kv_secret_v2") and document["data"]["vault_kv_secret_v2"]
    for read in reads.values():
        if read["mount"] == "infrastructure":
            assert read["provider"] == "vault.infrastructure"


def test_images_are_the_environments_tag_pinned_by_digest(platform):
    env, document = platform
    tag = "main" if env == "main" else "staging"
    for app, service in app_services(env, document).items():
        image = service["task_spec"]["container_spec"]["image"]
        assert image.startswith("asaxplayinghorse/sprocket-") and f":{tag}@${{data." in image, app


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
    assert spec["env"]["CACHE_PORT"] == "6379" and spec["env"]["NODE_ENV"] == "production"


def test_jwt_secret_is_generated_once_and_kept_in_vault(platform):
    env, document = platform
    (password,) = resources(document, "random_password").values()
    assert password["length"] == 64
    paths = {s["name"] for s in resources(document, "vault_kv_secret_v2").values()}
    assert f"{env}/generated/jwt" in paths


def test_changing_one_environment_changes_no_other_stack(tmp_path: Path, stacks):
    import main

    # GIVEN the shipped configuration with only staging's image tag changed
    shutil.copytree(ROOT / "config", tmp_path / "config")
    staging = tmp_path / "config" / "environments" / "staging.yaml"
    data = yaml.safe_load(staging.read_text())
    staging.write_text(yaml.safe_dump({**data, "image_tag": "staging-2"}))
    outdir = tmp_path / "out"
    main.build(tmp_path, outdir=str(outdir)).synth()
    changed = {
        d.name
        for d in (outdir / "stacks").iterdir()
        if json.loads((d / "cdk.tf.json").read_text()) != stacks[d.name]
    }
    # THEN only the staging platform stack differs
    assert changed == {"platform-staging"}
