"""Why the deploy job's Vault token is an administrator's (docs/decisions/deploy-token.md):
whatever may apply layer_2 may give itself every right, so a narrower deploy role would be
no boundary.

On real OpenBao (the open-source Vault), a token holding only the rights layer_2's apply
uses for two of the resource kinds it synthesizes — writing ACL policies (``vault_policy``)
and token roles (``vault_token_auth_backend_role``), and creating tokens from a role, as the
deploy workflow does for each platform stack — writes a policy of everything, a role that
allows it, and a token from that role that reads what the first one could not.
"""

from __future__ import annotations

import hvac
import pytest

from tests.conftest import resources
from tests.e2e.openbao import ROOT_TOKEN, BaoServer

# The capabilities those writes need: the policies' and the roles' API paths (Vault's
# sys/policies/acl and auth/token/roles endpoints), and token creation through a role.
NARROW = """
path "sys/policies/acl/*" { capabilities = ["create", "read", "update", "delete"] }
path "auth/token/roles/*" { capabilities = ["create", "read", "update", "delete"] }
path "auth/token/create/*" { capabilities = ["update"] }
"""


def test_layer_2_writes_the_policies_and_token_roles_its_deployer_must_be_able_to_write(layer_2):
    # The premise: layer_2's apply writes Vault's policies and token roles.
    assert resources(layer_2, "vault_policy")
    assert resources(layer_2, "vault_token_auth_backend_role")


def test_a_token_that_may_write_policies_and_token_roles_can_give_itself_everything(
    bao_dev_server: BaoServer,
):
    root = bao_dev_server.client(ROOT_TOKEN)
    root.secrets.kv.v2.create_or_update_secret(
        mount_point="secret", path="platform/main/manual/discord", secret={"token": "x"}
    )
    root.sys.create_or_update_policy("deploy-narrow", NARROW)
    narrow = bao_dev_server.client(
        root.auth.token.create(policies=["deploy-narrow"])["auth"]["client_token"]
    )
    # GIVEN the narrow token reads no secret
    with pytest.raises(hvac.exceptions.Forbidden):
        narrow.secrets.kv.v2.read_secret_version(
            mount_point="secret", path="platform/main/manual/discord", raise_on_deleted_version=True
        )
    # WHEN it writes a policy of everything, a token role allowing it, and a token of that role
    # (at sys/policies/acl, where the provider writes them: constructs_lib/vault_grants.py)
    everything = 'path "*" { capabilities = ["read"] }'
    narrow.adapter.put("/v1/sys/policies/acl/everything", json={"policy": everything})
    narrow.auth.token.create_or_update_role("escalate", allowed_policies=["everything"])
    minted = narrow.auth.token.create(role_name="escalate", policies=["everything"])
    wider = bao_dev_server.client(minted["auth"]["client_token"])
    # THEN that token reads the secret the narrow one could not
    secret = wider.secrets.kv.v2.read_secret_version(
        mount_point="secret", path="platform/main/manual/discord", raise_on_deleted_version=True
    )
    assert secret["data"]["data"] == {"token": "x"}
