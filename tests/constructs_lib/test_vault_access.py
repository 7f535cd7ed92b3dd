import pytest

from constructs_lib.errors import PropsError
from constructs_lib.generated_secret import GeneratedSecret, GeneratedSecretProps
from constructs_lib.managed_postgres import ManagedPostgresDatabaseProps
from constructs_lib.vault_access import (
    VaultGithubAuth,
    VaultGithubAuthProps,
    VaultTokenRole,
    VaultTokenRoleProps,
)
from constructs_lib.vault_kv import VaultKvMountProps, VaultKvSecretProps


def test_generated_secret_is_alphanumeric_and_stored_in_vault(synth_stack):
    def build(stack):
        GeneratedSecret(
            stack, "pw", GeneratedSecretProps(mount="infrastructure", path="redis", key="password")
        )

    doc = synth_stack(build)
    (password,) = doc["resource"]["random_password"].values()
    assert password == {**password, "length": 40, "special": False}
    (stored,) = doc["resource"]["vault_kv_secret_v2"].values()
    assert stored["mount"] == "infrastructure" and stored["name"] == "redis"
    assert stored["data_json"] == '${jsonencode({"password" = random_password.pw.result})}'


def test_token_role_mints_short_lived_orphans_with_exactly_its_policies(synth_stack):
    doc = synth_stack(
        lambda s: VaultTokenRole(
            s, "role", VaultTokenRoleProps(name="platform-main", policies=["platform-main-service"])
        )
    )
    (role,) = doc["resource"]["vault_token_auth_backend_role"].values()
    assert role["role_name"] == "platform-main"
    assert role["allowed_policies"] == role["token_policies"] == ["platform-main-service"]
    assert role["disallowed_policies"] == ["root"]
    assert role["orphan"] is True and role["renewable"] is False
    assert role["token_ttl"] == role["token_max_ttl"] == role["token_explicit_max_ttl"] == 7200
    # No token is made: nothing to store in any state
    assert "vault_token" not in doc["resource"]


def test_github_auth_maps_each_team(synth_stack):
    doc = synth_stack(
        lambda s: VaultGithubAuth(
            s,
            "gh",
            VaultGithubAuthProps(organization="Org", teams={"b-team": ["b"], "a-team": ["a"]}),
        )
    )
    teams = [t["team"] for t in doc["resource"]["vault_github_team"].values()]
    assert sorted(teams) == ["a-team", "b-team"]
    (backend,) = doc["resource"]["vault_github_auth_backend"].values()
    assert backend["token_ttl"] == 8 * 3600


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: VaultTokenRoleProps(name="x", policies=[]), "at least one policy"),
        (lambda: VaultTokenRoleProps(name="x", policies=["root"]), "never grant 'root'"),
        (lambda: VaultTokenRoleProps(name="x", policies=["p"], ttl_s=10), "ttl_s=10"),
        (lambda: VaultTokenRoleProps(name="X_1", policies=["p"]), "name='X_1'"),
        (
            lambda: VaultGithubAuthProps(organization="O", teams={"Admins Team": ["a"]}),
            "'Admins Team' must be a GitHub team slug",
        ),
        (
            lambda: VaultGithubAuthProps(
                organization="O", teams={}, token_ttl_s=10, token_max_ttl_s=5
            ),
            "token_ttl_s=10",
        ),
        (lambda: VaultKvMountProps(path="a/b"), "path='a/b'"),
        (lambda: VaultKvSecretProps(mount="m", path="a//b", data={"k": "v"}), "path='a//b'"),
        (lambda: VaultKvSecretProps(mount="m", path="a", data={}), "at least one key"),
        (lambda: GeneratedSecretProps(mount="m", path="p", key="k", length=8), "length=8"),
        (
            lambda: ManagedPostgresDatabaseProps(cluster_name="c", name="Grafana"),
            "name='Grafana'",
        ),
        (
            lambda: ManagedPostgresDatabaseProps(cluster_name="c", name="doadmin"),
            "is the cluster's own",
        ),
    ],
)
def test_each_invalid_prop_is_named(make, expected):
    with pytest.raises(PropsError) as error:
        make()
    assert expected in str(error.value)


def test_a_periodic_token_role_renews_one_period_at_a_time(synth_stack):
    doc = synth_stack(
        lambda s: VaultTokenRole(
            s, "role", VaultTokenRoleProps(name="plan", policies=["plan"], period_s=7 * 86400)
        )
    )
    (role,) = doc["resource"]["vault_token_auth_backend_role"].values()
    assert role["token_period"] == 7 * 86400 and role["renewable"] is True
    assert "token_explicit_max_ttl" not in role and role["orphan"] is True
