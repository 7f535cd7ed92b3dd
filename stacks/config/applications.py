"""config/applications.yaml: the Sprocket applications' images, registry and fixed settings."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from stacks.config.types import Hostname, _Model


class RegistryConfig(_Model):
    # Registry host the application images are pulled from.
    address: Hostname = "registry-1.docker.io"
    # Default: none, images are pulled anonymously. With an account, platform deploys need
    # the sensitive variable TF_VAR_registry_password.
    username: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9._-]{0,254}$")


_REPOSITORY = r"^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$"


class ApplicationConfig(_Model):
    # Image repository, without tag: the environment's image_tag is the tag.
    repository: str = Field(pattern=_REPOSITORY)
    # Keys of the application's config file that are fixed choices, not derived.
    # Default: none.
    settings: dict[str, Any] = Field(default_factory=dict)
    # transport.events_application_key; "{env}" in it is the environment's name.
    # Default: "{env}-<application>".
    events_key: str | None = Field(default=None, pattern=r"^([A-Za-z0-9._-]|\{env\}){1,100}$")


class ApplicationsConfig(_Model):
    # Default: Docker Hub, pulled anonymously.
    registry: RegistryConfig = RegistryConfig()
    applications: dict[str, ApplicationConfig]

    @field_validator("applications", mode="before")
    @classmethod
    def _every_application(cls, value: Any) -> Any:
        from stacks.applications.catalog import APPS_BY_NAME, LEGACY_IMAGES

        if not isinstance(value, dict):
            return value
        known = set(APPS_BY_NAME) | set(LEGACY_IMAGES)
        problems = []
        if unknown := sorted(set(value) - known):
            problems.append(f"names unknown applications {unknown}; known: {sorted(known)}")
        if missing := sorted(known - set(value)):
            problems.append(f"lacks {missing}: every application needs its repository")
        if problems:
            raise ValueError("; ".join(problems))
        return value
