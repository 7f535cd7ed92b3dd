"""The deployment's configuration: YAML files under ``config/``, validated in one place.

- ``config/cluster.yaml``: the Swarm cluster and what layer_1 and layer_2 serve.
- ``config/images.yaml``: every infrastructure image, pinned, in one file.
- ``config/applications.yaml``: the Sprocket applications' images and fixed settings.
- ``config/environments/<name>.yaml``: one Sprocket environment each (``main`` is production).

``load_config`` reads them all and reports every problem of every file at once as a
``ConfigError`` whose lines each name the file, the field, the value and what is allowed.
No secret belongs in any of these files; secrets come from Vault or the deploy environment.
"""

from __future__ import annotations

from stacks.config.applications import ApplicationConfig, ApplicationsConfig, RegistryConfig
from stacks.config.cluster import (
    AlertsConfig,
    BackupsConfig,
    ClusterConfig,
    DeployTunnelConfig,
    ImagesConfig,
    PostgresConfig,
    StateConfig,
    SwarmConfig,
    TunnelPeer,
    VaultConfig,
)
from stacks.config.environment import (
    ENVIRONMENT_NAME,
    RESERVED_SUBDOMAINS,
    ChatwootConfig,
    EnvironmentConfig,
    LegacyConfig,
)
from stacks.config.loader import ConfigError, InfraConfig, load_config

__all__ = [
    "ENVIRONMENT_NAME",
    "RESERVED_SUBDOMAINS",
    "AlertsConfig",
    "ApplicationConfig",
    "ApplicationsConfig",
    "BackupsConfig",
    "ChatwootConfig",
    "ClusterConfig",
    "ConfigError",
    "DeployTunnelConfig",
    "EnvironmentConfig",
    "ImagesConfig",
    "InfraConfig",
    "LegacyConfig",
    "PostgresConfig",
    "RegistryConfig",
    "StateConfig",
    "SwarmConfig",
    "TunnelPeer",
    "VaultConfig",
    "load_config",
]
