"""Provider blocks, configured only from the deploy environment.

No argument here carries a credential: each provider reads its own environment
variables at plan time (README, "Credentials").

    use_docker(stack)         # DOCKER_HOST, e.g. ssh://deploy@manager-1
    use_digitalocean(stack)   # DIGITALOCEAN_TOKEN, SPACES_ACCESS_KEY_ID, SPACES_SECRET_ACCESS_KEY
    use_vault(stack, address) # VAULT_TOKEN
"""

from __future__ import annotations

from cdktf import TerraformStack
from cdktf_cdktf_provider_digitalocean.provider import DigitaloceanProvider
from cdktf_cdktf_provider_docker.provider import DockerProvider
from cdktf_cdktf_provider_vault.provider import VaultProvider


def use_docker(stack: TerraformStack) -> DockerProvider:
    return DockerProvider(stack, "docker")


def use_digitalocean(stack: TerraformStack) -> DigitaloceanProvider:
    return DigitaloceanProvider(stack, "digitalocean")


def use_vault(stack: TerraformStack, address: str) -> VaultProvider:
    # The provider would otherwise mint a child token for every run; the operator's
    # token from VAULT_TOKEN is used as is, so its policies are what apply.
    return VaultProvider(stack, "vault", address=address, skip_child_token=True)
