"""A value a stack was synthesized with, checked at plan time against what another stack deployed.

Some values exist only once another stack is applied, yet are needed at synthesis: the
database host DigitalOcean chooses goes into application config files whose Swarm config
names hash their content when ``make synth`` runs. The configuration holds such a value;
``DeployedValueCheck`` creates a ``terraform_data`` whose precondition compares it with the
deployed one (a cross-stack reference, which cdktf turns into a remote-state lookup). A
mismatch stops the plan before anything changes, naming the field and the deployed value
(proven with real Terraform in tests/e2e/test_deployed_value_check.py).

    DeployedValueCheck(self, "postgres_host", DeployedValueCheckProps(
        field="config/cluster.yaml postgres.host", expected=cluster.postgres.host,
        deployed=cluster_outputs.postgres_host, source="the cluster stack's PostgresHost"))
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf import DataResource, Fn, Op, Precondition, TerraformResourceLifecycle
from constructs import Construct

from constructs_lib.errors import raise_if
from constructs_lib.tokens import is_unresolved


@dataclass(frozen=True, kw_only=True)
class DeployedValueCheckProps:
    # Where the expected value is set, for the error: "<file> <field>".
    field: str
    # The value this stack was synthesized with, as text (a port as "25060").
    expected: str
    # The deployed value: a reference to another stack's attribute (a Terraform expression).
    deployed: str
    # What the deployed value is, for the error ("the cluster stack's output PostgresHost").
    source: str

    def __post_init__(self) -> None:
        problems = []
        if not is_unresolved(self.deployed):
            problems.append(
                f"deployed={self.deployed!r}: must be a reference to what another stack "
                "deployed; a literal compares nothing"
            )
        if is_unresolved(self.expected):
            problems.append("expected: must be the synthesized value, not an expression")
        raise_if("DeployedValueCheck", problems)


class DeployedValueCheck(Construct):
    def __init__(self, scope: Construct, id: str, props: DeployedValueCheckProps) -> None:
        super().__init__(scope, id)
        # Terraform checks a resource's preconditions in every plan, before planning the
        # resource, and fails the plan when one is false (Terraform's custom conditions).
        DataResource(
            self,
            "Default",
            lifecycle=TerraformResourceLifecycle(
                precondition=[
                    Precondition(
                        # tostring: Terraform's == is false between 25060 and "25060".
                        condition=Op.eq(Fn.tostring(props.deployed), props.expected),
                        error_message=(
                            f"{props.field} is {props.expected!r}, but {props.source} is "
                            f"{props.deployed}: set {props.field} to it and synthesize again."
                        ),
                    )
                ]
            ),
        )
