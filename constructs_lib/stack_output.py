"""A named stack output for operators and scripts.

Downstream *stacks* do not read these: passing a value from one stack's typed
outputs into another lets cdktf emit its own output and remote-state lookup.
These named outputs are for people (``cdktf output layer_1``) and tooling.

    export(self, "VaultAddress", "https://vault.example.com", "Vault's public URL")
"""

from __future__ import annotations

from collections.abc import Mapping

from cdktf import TerraformOutput
from constructs import Construct


def export(
    scope: Construct,
    name: str,
    value: str | Mapping[str, str],
    description: str,
    *,
    sensitive: bool = False,
) -> TerraformOutput:
    return TerraformOutput(scope, name, value=value, description=description, sensitive=sensitive)
