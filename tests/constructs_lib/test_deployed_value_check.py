"""DeployedValueCheck: the synthesized precondition, and props that could compare nothing."""

from __future__ import annotations

import pytest

from constructs_lib.deployed_value_check import DeployedValueCheck, DeployedValueCheckProps
from constructs_lib.errors import PropsError


def test_the_precondition_compares_the_deployed_value_as_text(synth_stack):
    from cdktf import TerraformVariable

    def build(stack):
        deployed = TerraformVariable(stack, "port", type="number")
        DeployedValueCheck(
            stack,
            "port_check",
            DeployedValueCheckProps(
                field="config/x.yaml port",
                expected="25060",
                deployed=deployed.string_value,
                source="the other stack's Port",
            ),
        )

    (precondition,) = synth_stack(build)["resource"]["terraform_data"]["port_check"]["lifecycle"][
        "precondition"
    ]
    assert precondition["condition"] == '${(tostring(var.port) == "25060")}'
    assert precondition["error_message"] == (
        "config/x.yaml port is '25060', but the other stack's Port is ${var.port}: "
        "set config/x.yaml port to it and synthesize again."
    )


def test_a_literal_deployed_value_is_refused(stack):
    with pytest.raises(PropsError, match=r"deployed='db.example': must be a reference"):
        DeployedValueCheck(
            stack,
            "check",
            DeployedValueCheckProps(
                field="f", expected="db.example", deployed="db.example", source="s"
            ),
        )
