"""A sensitive value the operator supplies at deploy time, as a Terraform variable.

Creates one ``variable`` block marked sensitive. Its value comes from the deploy
environment (``TF_VAR_<name>``), never from the repository or the synthesized JSON.

    users = SensitiveInput(self, "traefik_dashboard_users", SensitiveInputProps(
        description="htpasswd lines (bcrypt) allowed into the Traefik dashboard"))
    SwarmSecret(self, "dashboard_users", SwarmSecretProps(
        name="traefik-dashboard-users", value=users.value, version_marker=users.value))
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf import TerraformVariable
from constructs import Construct


@dataclass(frozen=True, kw_only=True)
class SensitiveInputProps:
    description: str
    # Default: required; the plan stops and names the variable when it is missing.
    # Set a non-secret placeholder only where an unset value has a safe meaning.
    default: str | None = None


class SensitiveInput(Construct):
    def __init__(self, scope: Construct, id: str, props: SensitiveInputProps) -> None:
        super().__init__(scope, id)
        # The variable is named after the construct id so TF_VAR_<id> sets it.
        self.variable = TerraformVariable(
            scope,
            f"{id}_value",
            type="string",
            sensitive=True,
            nullable=False,
            description=props.description,
            default=props.default,
        )
        self.variable.override_logical_id(id)
        self.value: str = self.variable.string_value
