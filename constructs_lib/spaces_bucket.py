"""A private, versioned DigitalOcean Spaces bucket that Terraform will not delete.

Creates one ``digitalocean_spaces_bucket`` with ``acl = private``, versioning on,
``force_destroy = false`` and ``prevent_destroy``: a bucket holding Vault's storage
or uploaded replays is not something a plan should ever remove. A new name stops the plan
too (constructs_lib/rename_guard.py).

    bucket = SpacesBucket(self, "vault_storage", SpacesBucketProps(
        name="vault-secrets", region="nyc3"))
    bucket.name  # for grants and configuration
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_digitalocean.spaces_bucket import (
    SpacesBucket as SpacesBucketResource,
)
from cdktf_cdktf_provider_digitalocean.spaces_bucket import (
    SpacesBucketLifecycleRule,
    SpacesBucketLifecycleRuleNoncurrentVersionExpiration,
    SpacesBucketVersioning,
)
from cdktf_cdktf_provider_digitalocean.spaces_key import SpacesKey, SpacesKeyGrant
from constructs import Construct

from constructs_lib.errors import raise_if
from constructs_lib.rename_guard import rename_guard

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


@dataclass(frozen=True, kw_only=True)
class SpacesBucketProps:
    # Globally unique within the region. The provider would "rename" in place, rewriting only
    # its state (digitalocean v2.71.0 spaces/resource_spaces_bucket.go:35-39, no ForceNew;
    # Update, 271-306, never renames), so a change stops the plan instead (rename_guard).
    name: str
    region: str
    # Default: kept for ever. Days an overwritten or deleted object's old version stays
    # restorable before Spaces expires it.
    noncurrent_version_days: int | None = None

    def __post_init__(self) -> None:
        problems = []
        if not _BUCKET.match(self.name):
            problems.append(
                f"name={self.name!r}: must be 3-63 lower-case letters, digits or '-', "
                "starting and ending with a letter or digit"
            )
        if not re.match(r"^[a-z]{3}[0-9]$", self.region):
            problems.append(f"region={self.region!r}: must be a Spaces region such as 'nyc3'")
        days = self.noncurrent_version_days
        if days is not None and not 1 <= days <= 3650:
            problems.append(f"noncurrent_version_days={days}: must be from 1 to 3650")
        raise_if("SpacesBucket", problems)


class SpacesBucket(Construct):
    def __init__(self, scope: Construct, id: str, props: SpacesBucketProps) -> None:
        super().__init__(scope, id)
        self.props = props
        self.resource = SpacesBucketResource(
            self,
            "Default",
            name=props.name,
            region=props.region,
            acl="private",
            force_destroy=False,
            versioning=SpacesBucketVersioning(enabled=True),
            # The id is given: the provider reads it back and would otherwise make one up
            # (digitalocean v2.71.0 spaces/resource_spaces_bucket.go:132-137, 404-406).
            lifecycle_rule=[
                SpacesBucketLifecycleRule(
                    id="expire-noncurrent-versions",
                    enabled=True,
                    noncurrent_version_expiration=(
                        SpacesBucketLifecycleRuleNoncurrentVersionExpiration(
                            days=props.noncurrent_version_days
                        )
                    ),
                )
            ]
            if props.noncurrent_version_days
            else None,
            lifecycle=TerraformResourceLifecycle(prevent_destroy=True),
        )
        rename_guard(self.resource, self, "Name", props.name)
        self.name = self.resource.name

    def access_key(self, id: str, key_name: str, *, read_only: bool = False) -> SpacesKey:
        """A Spaces access key limited to this bucket (the resource holds the secret key)."""
        return spaces_access_key(self, id, key_name, [self], read_only=read_only)


def spaces_access_key(
    scope: Construct,
    id: str,
    key_name: str,
    buckets: list[SpacesBucket],
    *,
    read_only: bool = False,
) -> SpacesKey:
    """A Spaces key granted ``buckets`` only; its access_key and secret_key are expressions."""
    permission = "read" if read_only else "readwrite"
    return SpacesKey(
        scope,
        id,
        name=key_name,
        grant=[SpacesKeyGrant(bucket=b.resource.name, permission=permission) for b in buckets],
    )
