"""Terraform state for a stack in a DigitalOcean Spaces bucket, through the S3 backend.

Access keys are not part of the configuration: Terraform reads them from
``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` in the deploy environment.

    use_spaces_backend(stack, SpacesBackendSettings(
        bucket="sprocket-terraform-state", region="nyc3", key="sprocket-infra/layer_1.tfstate"))
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf import S3Backend, S3BackendEndpointConfig, TerraformStack

from constructs_lib.vault_config import spaces_endpoint

# Spaces speaks the S3 API but is not AWS: Terraform must not look for AWS accounts,
# regions, instance metadata or the checksums Spaces does not implement.
SPACES_SKIP_FLAGS = {
    "skip_credentials_validation": True,
    "skip_metadata_api_check": True,
    "skip_region_validation": True,
    "skip_requesting_account_id": True,
    "skip_s3_checksum": True,
}


# What the deploy environment must also set. From Terraform 1.11.2 (AWS SDK for Go v2 S3
# module 1.75) the SDK adds CRC32 checksums to uploads and asks for checksums on downloads
# unless told otherwise, and skip_s3_checksum does not stop it (hashicorp/terraform#36704,
# open; no release sets the SDK option). S3-compatible stores may reject those headers.
# tests/e2e/test_remote_state.py records what real Terraform sends, with and without these.
S3_COMPATIBLE_ENVIRONMENT = {
    "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
    "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
}


@dataclass(frozen=True, kw_only=True)
class SpacesBackendSettings:
    bucket: str
    # Spaces region, e.g. "nyc3".
    region: str
    # Object key of this stack's state.
    key: str
    # Default: lock with a conditional write of "<key>.tflock" next to the state
    # (docs/decisions/state-locking.md says why).
    use_lockfile: bool = True
    # Default: the region's public Spaces endpoint. Tests point it at a local S3 API.
    endpoint: str | None = None


def use_spaces_backend(stack: TerraformStack, settings: SpacesBackendSettings) -> S3Backend:
    backend = S3Backend(
        stack,
        bucket=settings.bucket,
        key=settings.key,
        # The S3 backend insists on an AWS region name for request signing; Spaces
        # accepts us-east-1 for every region and routes by endpoint.
        region="us-east-1",
        endpoints=S3BackendEndpointConfig(s3=settings.endpoint or spaces_endpoint(settings.region)),
        use_path_style=False,
        **SPACES_SKIP_FLAGS,
    )
    if settings.use_lockfile:
        # cdktf 0.21 predates the backend's use_lockfile argument (Terraform >= 1.10).
        stack.add_override("terraform.backend.s3.use_lockfile", True)
    return backend
