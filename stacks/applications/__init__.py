"""The Sprocket applications: catalog (what each image needs), renderers, contracts.

``app_context`` builds what an application's renderer takes from the configuration and the
environment's endpoints; ``validate`` renders every application of every environment with
stand-in values for the secrets and checks each against its contract, so a configuration
that would start an application without a key it reads fails before anything is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from stacks.applications import contract
from stacks.applications.catalog import APPS, APPS_BY_NAME, SECRET_DIR, App, Secret
from stacks.applications.render import AppContext, Endpoints, SettingConflict, render_config
from stacks.applications.render import render_env as derived_env
from stacks.contracts import EnvironmentNames

if TYPE_CHECKING:
    from stacks.config import ApplicationsConfig, ClusterConfig, EnvironmentConfig

APPLICATIONS_FILE = "config/applications.yaml"
REDIS_PORT = 6379
RABBITMQ_PORT = 5672
DGRAPH_GRPC_PORT = 9080
INFLUX_URL = "http://influxdb:8086"


def spaces_host(region: str) -> str:
    return f"{region}.digitaloceanspaces.com"


def broker_url_template(names: EnvironmentNames) -> str:
    """``format()`` template of the environment's AMQP URL; Terraform fills in the password."""
    return (
        f"amqp://{names.rabbitmq_user}:%s@{names.service('rabbitmq')}:{RABBITMQ_PORT}/"
        f"{names.rabbitmq_vhost}?heartbeat=60"
    )


def celery_backend_template(names: EnvironmentNames) -> str:
    return f"redis://:%s@{names.service('redis')}:{REDIS_PORT}"


def endpoints(
    names: EnvironmentNames,
    cluster: ClusterConfig,
    environment: EnvironmentConfig,
    *,
    rabbitmq_url: str,
    celery_backend_url: str,
) -> Endpoints:
    return Endpoints(
        web_host=environment.host(cluster),
        api_host=environment.host(cluster, "api"),
        rabbitmq_url=rabbitmq_url,
        redis_host=names.service("redis"),
        redis_port=REDIS_PORT,
        celery_backend_url=celery_backend_url,
        postgres_host=cluster.postgres.host,
        postgres_port=cluster.postgres.port,
        influx_url=INFLUX_URL,
        spaces_host=spaces_host(cluster.spaces_region),
        dgraph_address=f"{names.service('dgraph-alpha')}:{DGRAPH_GRPC_PORT}",
    )


def app_context(
    app: App,
    names: EnvironmentNames,
    endpoints_: Endpoints,
    environment: EnvironmentConfig,
    applications: ApplicationsConfig,
) -> AppContext:
    settings = applications.applications[app.name]
    chatwoot = environment.chatwoot
    return AppContext(
        names=names,
        endpoints=endpoints_,
        settings=settings.settings,
        events_key=(settings.events_key or "").replace("{env}", names.env)
        or names.events_key(app.name),
        log_levels=environment.log_levels,
        chatwoot=(chatwoot.url, chatwoot.website_token) if chatwoot else None,
    )


def service_env(app: App, ctx: AppContext) -> dict[str, str]:
    return {**app.env, **derived_env(app.name, ctx)}


def secret_files(app: App, environment: EnvironmentConfig) -> dict[str, object]:
    """File path -> source of every secret file the service mounts."""
    files = {f"{SECRET_DIR}/{name}": source for name, source in app.secrets.items()}
    if app.name == "web" and environment.chatwoot is not None:
        files[f"{SECRET_DIR}/chatwoot-hmac-key.txt"] = Secret.CHATWOOT_HMAC_KEY
    return files


def validate(
    cluster: ClusterConfig,
    environments: Mapping[str, EnvironmentConfig],
    applications: ApplicationsConfig,
) -> list[str]:
    """Every way the configuration would start an application without what its code reads."""
    problems: list[str] = []
    for env_name, environment in sorted(environments.items()):
        names = EnvironmentNames(env_name)
        stand_in = endpoints(
            names,
            cluster,
            environment,
            rabbitmq_url=broker_url_template(names) % "<password>",
            celery_backend_url=celery_backend_template(names) % "<password>",
        )
        keys: dict[str, str] = {}
        for app in APPS:
            ctx = app_context(app, names, stand_in, environment, applications)
            where = f"{APPLICATIONS_FILE}: applications.{app.name}"
            try:
                rendered = render_config(app.name, ctx)
            except SettingConflict as conflict:
                problems.append(
                    f"{where}.settings.{conflict.key}: is derived from the environment "
                    f"({env_name}); remove it from the settings"
                )
                continue
            for key, message in contract.problems(
                contract.load(app.name),
                rendered,
                config_path=app.config_path,
                secret_files=set(secret_files(app, environment)),
                env=service_env(app, ctx),
            ):
                problems.append(
                    f"{where}.settings: {app.name} ({env_name}) config key {key} {message}"
                )
            if "transport" in rendered and app.name != "image-generation-frontend":
                if ctx.events_key in keys:
                    problems.append(
                        f"{where}.events_key: {ctx.events_key!r} is also "
                        f"{keys[ctx.events_key]}'s in {env_name}; each application needs its own "
                        "(it names the application's event queues)"
                    )
                keys.setdefault(ctx.events_key, app.name)
    return problems


__all__ = [
    "APPS",
    "APPS_BY_NAME",
    "App",
    "AppContext",
    "Endpoints",
    "render_config",
    "secret_files",
    "service_env",
    "validate",
]
