"""Provider blocks, configured only from the deploy environment.

No argument here carries a credential: each provider reads its own environment
variables at plan time (the exports in the README's "Deploying" section).

    use_docker(stack)         # DOCKER_HOST, e.g. ssh://deploy@manager-1
    use_digitalocean(stack)   # DIGITALOCEAN_TOKEN, SPACES_ACCESS_KEY_ID, SPACES_SECRET_ACCESS_KEY
    use_vault(stack, address) # VAULT_TOKEN, or the token passed in
    use_random(stack)         # no configuration
"""

from __future__ import annotations

from cdktf import TerraformStack
from cdktf_cdktf_provider_digitalocean.provider import DigitaloceanProvider
from cdktf_cdktf_provider_docker.provider import DockerProvider, DockerProviderRegistryAuth
from cdktf_cdktf_provider_random.provider import RandomProvider
from cdktf_cdktf_provider_vault.provider import VaultProvider

# The bindings (cdktf-cdktf-provider-docker 12.0.3) were generated for kreuzwerker/docker
# 3.6.2; the stacks require 3.9.0, where a service's labels (its Traefik routes) update in
# place instead of replacing the service. Every attribute the bindings write means the same
# there: docs/decisions/docker-provider-version.md.
DOCKER_PROVIDER_VERSION = "3.9.0"


def use_docker(
    stack: TerraformStack, *, registry: tuple[str, str, str] | None = None
) -> DockerProvider:
    """The Docker provider; ``registry`` is (address, username, password expression) of the
    account that reads image digests from a private registry."""
    auth = None
    if registry:
        address, username, password = registry
        auth = [DockerProviderRegistryAuth(address=address, username=username, password=password)]
    stack.add_override("terraform.required_providers.docker.version", DOCKER_PROVIDER_VERSION)
    return DockerProvider(stack, "docker", registry_auth=auth)


def use_digitalocean(stack: TerraformStack) -> DigitaloceanProvider:
    return DigitaloceanProvider(stack, "digitalocean")


def use_vault(
    stack: TerraformStack, address: str, token: str | None = None, *, alias: str | None = None
) -> VaultProvider:
    """Vault at ``address``; ``token`` (an expression, e.g. another stack's output) or VAULT_TOKEN.

    The provider would otherwise mint a child token for every run; the token is used as
    it is, so its own policies are what apply. ``alias`` names a second Vault provider
    (another token) in the same stack.
    """
    return VaultProvider(
        stack,
        f"vault_{alias}" if alias else "vault",
        address=address,
        token=token,
        alias=alias,
        skip_child_token=True,
    )


def use_random(stack: TerraformStack) -> RandomProvider:
    return RandomProvider(stack, "random")
