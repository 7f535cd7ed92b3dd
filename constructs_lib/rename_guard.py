"""Renames that a provider would apply in place, turned into a plan that stops.

Some names are not ForceNew: renaming a ``digitalocean_spaces_bucket`` rewrites only the
state (the bucket keeps its name; everything configured with the new one points at a
bucket that does not exist), and renaming a ``vault_mount`` remounts it (its secrets move,
as do any readers' paths). ``rename_guard`` gives such a resource a ``terraform_data``
holding the name, and ``replace_triggered_by`` on it: a new name plans a replacement,
which the resource's ``prevent_destroy`` refuses, so ``plan`` stops naming the resource
(proven with real Terraform in tests/e2e/test_rename_guard.py). docs/changes.md says how
to rename on purpose.

    bucket = SpacesBucketResource(self, "Default", name=props.name,
        lifecycle=TerraformResourceLifecycle(prevent_destroy=True))
    rename_guard(bucket, self, "Name", props.name)
"""

from __future__ import annotations

from cdktf import DataResource, TerraformResource
from constructs import Construct


def rename_guard(resource: TerraformResource, scope: Construct, id: str, name: str) -> DataResource:
    """A ``terraform_data`` replaced whenever ``name`` changes (``triggers_replace``), and
    ``resource`` replaced with it. The reference is written as a bare address: cdktf renders
    ``replace_triggered_by`` as ``"${terraform_data.x}"``, which Terraform refuses ("Invalid
    expression", found by tests/e2e/test_rename_guard.py)."""
    guard = DataResource(scope, id, triggers_replace={"name": name})
    address = f"{guard.terraform_resource_type}.{guard.friendly_unique_id}"
    resource.add_override("lifecycle.replace_triggered_by", [address])
    return guard
