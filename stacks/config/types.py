"""Field types and the base model every configuration file's model shares."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

from constructs_lib.validation import cidr_problem, hostname_problem, image_problem, port_problem

_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")


def _check(problem_of):
    def validate(value):
        if problem := problem_of(value):
            raise ValueError(problem)
        return value

    return AfterValidator(validate)


def _spaces_region(value: str) -> str:
    if not re.match(r"^[a-z]{3}[0-9]$", value):
        raise ValueError("must be a DigitalOcean Spaces region such as 'nyc3'")
    return value


def _bucket(value: str) -> str:
    if not re.match(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", value):
        raise ValueError("must be 3-63 lower-case letters, digits or '-' (a Spaces bucket name)")
    return value


def _image_tag(value: str) -> str:
    if not _TAG.match(value) and not _DIGEST.match(value):
        raise ValueError("must be a Docker tag ([A-Za-z0-9_.-], up to 128) or sha256:<64 hex>")
    if value == "latest":
        raise ValueError("must not be 'latest': name the build to deploy")
    return value


Hostname = Annotated[str, _check(hostname_problem)]
Port = Annotated[int, _check(port_problem)]
Cidr = Annotated[str, _check(cidr_problem)]
Image = Annotated[str, _check(image_problem)]
SpacesRegion = Annotated[str, AfterValidator(_spaces_region)]
BucketName = Annotated[str, AfterValidator(_bucket)]
ImageTag = Annotated[str, AfterValidator(_image_tag)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
