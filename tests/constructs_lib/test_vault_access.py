import pytest

from constructs_lib.errors import PropsError
from constructs_lib.generated_secret import GeneratedSecret, GeneratedSecretProps
from constructs_lib.managed_postgres import ManagedPostgresDatabaseProps
from constructs_lib.vault_access import (
    VaultGithubAuth,
    VaultGithubAuthProps,
    VaultServiceToken,
    VaultServiceTokenProps,
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


def test_service_token_is_an_orphan_periodic_token(synth_stack):
    doc = synth_stack(
        lambda s: VaultServiceToken(
            s, "tok", VaultServiceTokenProps(name="platform", policies=["platform-service"])
        )
    )
    (token,) = doc["resource"]["vault_token"].values()
    assert token["no_parent"] is True and token["renewable"] is True
    assert token["period"] == f"{32 * 24 * 3600}s"
    assert token["renew_min_lease"] == 16 * 24 * 3600
    assert token["policies"] == ["platform-service"]


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
        (lambda: VaultServiceTokenProps(name="x", policies=[]), "at least one policy"),
        (lambda: VaultServiceTokenProps(name="x", policies=["root"]), "never carry 'root'"),
        (
            lambda: VaultServiceTokenProps(name="x", policies=["p"], period_s=10, renew_below_s=20),
            "renew_below_s=20",
        ),
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
