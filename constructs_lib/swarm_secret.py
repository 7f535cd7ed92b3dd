"""A Swarm secret holding one value that only Terraform sees, and the file that mounts it.

Creates one ``docker_secret``. The value is a Terraform expression (a sensitive
variable, a Vault read, a generated key): it never appears in the synthesized JSON.
Swarm secrets are immutable, so the name carries a hash of a *version marker* — a
value that changes whenever the secret does but reveals nothing about it (a Vault
version timestamp, an access key id) — and the replacement is created before the
old one is destroyed, so a changed value rolls the services that use it.

    secret = SwarmSecret(self, "dashboard_users", SwarmSecretProps(
        name="traefik-dashboard-users", value=users_var.value, version_marker=users_var.value_hash))
    SwarmService(self, "traefik", SwarmServiceProps(..., secret_files=[
        secret.file("/run/secrets/dashboard-users")]))
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf import Fn, TerraformResourceLifecycle
from cdktf_cdktf_provider_docker.secret import Secret
from constructs import Construct

from constructs_lib.errors import raise_if
from constructs_lib.tokens import is_unresolved
from constructs_lib.validation import docker_name_problem

# Swarm mounts secrets on an in-memory filesystem; 0400 keeps them owner-read-only.
DEFAULT_SECRET_MODE = 0o400


@dataclass(frozen=True, kw_only=True)
class SecretFile:
    """One secret mounted into a service's containers."""

    secret_id: str
    secret_name: str
    # Absolute path inside the container.
    target: str
    # Default: 0400, readable by the file's owner only.
    mode: int = DEFAULT_SECRET_MODE
    # Default: root ("0"). Set to the image's user when it does not run as root.
    uid: str = "0"
    gid: str = "0"

    def __post_init__(self) -> None:
        problems = []
        if not self.target.startswith("/"):
            problems.append(f"target={self.target!r}: must be an absolute path")
        if self.mode not in (0o400, 0o440, 0o444):
            problems.append(
                f"mode={oct(self.mode)}: must be 0o400 or 0o440 (0o444 only for public material)"
            )
        raise_if("SecretFile", problems)


@dataclass(frozen=True, kw_only=True)
class SwarmSecretProps:
    # Prefix of the Docker secret name; a hash of version_marker is appended.
    name: str
    # The secret value as a Terraform expression; never a literal.
    value: str
    # An expression that changes whenever value changes and reveals nothing about it.
    version_marker: str

    def __post_init__(self) -> None:
        problems = []
        if problem := docker_name_problem(self.name):
            problems.append(f"name={self.name!r}: {problem}")
        if not is_unresolved(self.value):
            # The value itself is deliberately not echoed: it may be a secret.
            problems.append(
                "value: must be a Terraform expression (variable, Vault read, generated value); "
                "a literal would be written into the synthesized JSON"
            )
        raise_if("SwarmSecret", problems)


def json_value(document: object) -> str:
    """A secret value holding ``document`` as JSON (also valid YAML); tokens inside resolve."""
    return Fn.jsonencode(document)


def text_value(template: str, *values: str) -> str:
    """A secret value rendered by Terraform's ``format``: ``%s`` in ``template`` take ``values``.

    Keeping the literal text and the tokens apart is what cdktf's built-in functions need;
    a literal with embedded tokens would have to be escaped by hand.
    """
    return Fn.format(template, list(values))


def generated_value_secret(scope: Construct, id: str, *, name: str, value: str) -> SwarmSecret:
    """A Swarm secret of a generated or derived value that is its own version marker: the
    values are long and random, so hashing them for the name reveals nothing."""
    return SwarmSecret(scope, id, SwarmSecretProps(name=name, value=value, version_marker=value))


class SwarmSecret(Construct):
    def __init__(self, scope: Construct, id: str, props: SwarmSecretProps) -> None:
        super().__init__(scope, id)
        self.props = props
        marker = Fn.substr(Fn.sha256(props.version_marker), 0, 10)
        self.resource = Secret(
            self,
            "Default",
            name=f"{props.name}-{marker}",
            data=Fn.base64encode(props.value),
            lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
        )
        # Read once: every attribute read is a round trip to the jsii runtime, and one
        # secret is often mounted by many services.
        self.id: str = self.resource.id
        self.name: str = self.resource.name

    def file(
        self, target: str, *, mode: int = DEFAULT_SECRET_MODE, uid: str = "0", gid: str = "0"
    ) -> SecretFile:
        return SecretFile(
            secret_id=self.id,
            secret_name=self.name,
            target=target,
            mode=mode,
            uid=uid,
            gid=gid,
        )
