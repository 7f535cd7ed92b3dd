"""Field types and the base model every configuration file's model shares."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StrictInt

from constructs_lib.validation import (
    admin_network_problem,
    hostname_problem,
    pinned_version_problem,
    port_problem,
)
from stacks.config.digitalocean import (
    DATABASE_SIZES,
    DROPLET_SIZES,
    POSTGRES_VERSIONS,
    REGIONS,
    one_of,
)

# \Z, not $: Python's $ also matches before a trailing newline.
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}\Z")


def _check(problem_of):
    def validate(value):
        if problem := problem_of(value):
            raise ValueError(problem)
        return value

    return AfterValidator(validate)


def _spaces_region(value: str) -> str:
    if not re.match(r"^[a-z]{3}[0-9]\Z", value):
        raise ValueError("must be a DigitalOcean Spaces region such as 'nyc3'")
    return value


def _bucket(value: str) -> str:
    if not re.match(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]\Z", value):
        raise ValueError("must be 3-63 lower-case letters, digits or '-' (a Spaces bucket name)")
    return value


def _image_tag(value: str) -> str:
    if not _TAG.match(value) and not _DIGEST.match(value):
        raise ValueError("must be a Docker tag ([A-Za-z0-9_.-], up to 128) or sha256:<64 hex>")
    if value == "latest":
        raise ValueError("must not be 'latest': name the build to deploy")
    return value


Hostname = Annotated[str, _check(hostname_problem)]
# Strict: YAML's true would otherwise become port 1.
Port = Annotated[StrictInt, _check(port_problem)]
# A network SSH may be opened to.
Cidr = Annotated[str, _check(admin_network_problem)]
AdminUiNetwork = Annotated[str, _check(lambda value: admin_network_problem(value, "the admin UIs"))]
Image = Annotated[str, _check(pinned_version_problem)]
SpacesRegion = Annotated[str, AfterValidator(_spaces_region)]
BucketName = Annotated[str, AfterValidator(_bucket)]
ImageTag = Annotated[str, AfterValidator(_image_tag)]


def _private_range(value: str) -> str:
    try:
        network = ipaddress.ip_network(value)
    except ValueError:
        raise ValueError("must be a CIDR such as 10.10.0.0/20") from None
    if network.version != 4 or not network.is_private or not 16 <= network.prefixlen <= 24:
        raise ValueError("must be a private IPv4 range from /16 to /24, such as 10.10.0.0/20")
    return value


PrivateRange = Annotated[str, AfterValidator(_private_range)]
# What DigitalOcean offers (stacks/config/digitalocean.py).
Region = Annotated[str, AfterValidator(lambda v: one_of("region", REGIONS, v))]
DropletSize = Annotated[str, AfterValidator(lambda v: one_of("Droplet size", DROPLET_SIZES, v))]
DatabaseSize = Annotated[str, AfterValidator(lambda v: one_of("database size", DATABASE_SIZES, v))]
PostgresVersion = Annotated[
    str, AfterValidator(lambda v: one_of("PostgreSQL version", POSTGRES_VERSIONS, v))
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
