"""One Sprocket application of one environment, as its image needs to run.

Creates the application's Swarm service (named ``Default``, so its address is the
construct's id: ``docker_service.api``), its config file (a Swarm secret when it carries the
broker login, a plain config otherwise), its route where it is public, and, with
``pin_image_digests``, the registry lookup that pins its image to a digest.

    SprocketApp(self, "api", SprocketAppProps(
        app=APPS_BY_NAME["api"], context=ctx, environment=environment, cluster=cluster,
        repository="asaxplayinghorse/core", networks=[platform_net], ingress=ingress,
        secret_files={"/app/secret/jwtSecret.txt": jwt_secret}, registry_login=None))
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from constructs import Construct

from constructs_lib.overlay_network import NetworkRef
from constructs_lib.registry_image import pinned_image
from constructs_lib.swarm_secret import (
    SwarmSecret,
    generated_value_secret,
    json_value,
)
from constructs_lib.swarm_service import (
    ConfigFile,
    RegistryLogin,
    SwarmService,
    SwarmServiceProps,
)
from constructs_lib.traefik_route import TraefikRoute, TraefikRouteProps
from stacks.applications import AppContext, render_config, service_env
from stacks.applications.catalog import App, Uses
from stacks.config import ClusterConfig, EnvironmentConfig


@dataclass(frozen=True, kw_only=True)
class SprocketAppProps:
    app: App
    # What the application's renderer reads (stacks/applications).
    context: AppContext
    environment: EnvironmentConfig
    cluster: ClusterConfig
    # Image repository (config/applications.yaml); the tag is the environment's image_tag.
    repository: str
    # The environment's platform network, and the monitoring network where the app needs it.
    networks: Sequence[NetworkRef]
    # Joined only by routed applications.
    ingress: NetworkRef
    # Path in the container -> the Swarm secret mounted there.
    secret_files: Mapping[str, SwarmSecret]
    # Default: images are pulled anonymously.
    registry_login: RegistryLogin | None = None


class SprocketApp(Construct):
    def __init__(self, scope: Construct, id: str, props: SprocketAppProps) -> None:
        super().__init__(scope, id)
        app, environment = props.app, props.environment
        name = props.context.names.service(app.name)
        document = render_config(app.name, props.context)
        networks = list(props.networks)
        routes = []
        if app.port is not None and app.route_prefix is not None:
            networks.append(props.ingress)
            routes.append(
                TraefikRoute(
                    self,
                    "Route",
                    TraefikRouteProps(
                        name=name,
                        hosts=[environment.host(props.cluster, app.route_prefix or None)],
                        port=app.port,
                        network=props.ingress.name,
                    ),
                )
            )
        secret_files = [
            secret.file(path, uid=app.uid, gid=app.uid)
            for path, secret in sorted(props.secret_files.items())
        ]
        config_files: list[ConfigFile] = []
        if Uses.RABBITMQ in app.uses:
            # The config carries the broker login (and the replay parser's Redis URL).
            value = json_value(document)
            config_secret = generated_value_secret(
                self, "Config", name=f"{name}-config", value=value
            )
            secret_files.append(config_secret.file(app.config_path, uid=app.uid, gid=app.uid))
        else:
            config_files.append(
                ConfigFile(
                    target=app.config_path, content=json.dumps(document, indent=2, sort_keys=True)
                )
            )
        SwarmService(
            self,
            "Default",
            SwarmServiceProps(
                name=name,
                image=pinned_image(
                    self,
                    "Image",
                    f"{props.repository}:{environment.image_tag}",
                    by_digest=environment.pin_image_digests,
                ),
                command=list(app.command) if app.command else None,
                networks=networks,
                env=service_env(app, props.context),
                routes=routes,
                config_files=config_files,
                secret_files=secret_files,
                replicas=environment.replicas.get(app.name, app.replicas),
                memory_limit_mib=app.memory_limit_mib,
                cpu_limit=app.cpu_limit,
                registry_login=props.registry_login,
            ),
        )
