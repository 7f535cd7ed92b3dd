import pytest

from constructs_lib.errors import PropsError
from constructs_lib.sensitive_input import SensitiveInput, SensitiveInputProps
from constructs_lib.swarm_secret import SecretFile, SwarmSecret, SwarmSecretProps
from constructs_lib.swarm_service import SwarmService, SwarmServiceProps
from constructs_lib.vault_secret_mount import VaultSecretMount, VaultSecretMountProps


def google_secret(**overrides) -> VaultSecretMountProps:
    base = {"mount": "platform", "path": "main/manual/oauth/google", "key": "secret"}
    return VaultSecretMountProps(**{**base, **overrides})


def test_reads_one_key_of_kv_v2_into_a_swarm_secret(synth_stack):
    # GIVEN a secret mounted from Vault into a service
    def build(stack):
        mount = VaultSecretMount(stack, "google", google_secret(file_name="googleSecret.txt"))
        SwarmService(
            stack, "api", SwarmServiceProps(name="api", image="x/api:1", secret_files=[mount.file])
        )

    doc = synth_stack(build)
    # THEN Vault is read through the KV v2 data source
    (source,) = doc["data"]["vault_kv_secret_v2"].values()
    assert source["mount"] == "platform" and source["name"] == "main/manual/oauth/google"
    # AND the Swarm secret holds only an expression of that read, never a literal
    secret = doc["resource"]["docker_secret"]["google"]
    source_ref = "data.vault_kv_secret_v2.google_Source_"
    assert secret["data"].startswith("${base64encode(" + source_ref)
    assert '.data["secret"]' in secret["data"]
    # AND the name changes with the KV version's timestamp, not with a hash of the value
    assert "created_time" in secret["name"] and ".data" not in secret["name"]
    assert secret["lifecycle"] == {"create_before_destroy": True}
    # AND the application finds it where it reads secrets, owner-read-only
    (mounted,) = doc["resource"]["docker_service"]["api"]["task_spec"]["container_spec"]["secrets"]
    assert mounted["file_name"] == "/app/secret/googleSecret.txt"
    assert mounted["file_mode"] == 0o400


def test_default_file_name_is_key_dot_txt():
    assert google_secret().target == "/app/secret/secret.txt"
    assert google_secret(directory="/run/secrets/").target == "/run/secrets/secret.txt"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"mount": "plat/form"}, "mount='plat/form'"),
        ({"path": "/main/x"}, "path='/main/x'"),
        ({"path": "main//x"}, "path='main//x'"),
        ({"path": ""}, "path=''"),
        ({"key": ""}, "key=''"),
        ({"file_name": "../etc/passwd"}, "file_name='../etc/passwd'"),
        ({"directory": "app/secret"}, "directory='app/secret'"),
        ({"mode": 0o644}, "mode=0o644"),
    ],
)
def test_each_invalid_prop_is_named(overrides, expected):
    with pytest.raises(PropsError) as error:
        google_secret(**overrides)
    assert expected in str(error.value)


def test_swarm_secret_refuses_a_literal_value_without_echoing_it(stack):
    with pytest.raises(PropsError) as error:
        SwarmSecretProps(name="db-password", value="hunter2-literal", version_marker="v1")
    assert "must be a Terraform expression" in str(error.value)
    assert "hunter2-literal" not in str(error.value)


def test_swarm_secret_from_sensitive_input(synth_stack):
    def build(stack):
        users = SensitiveInput(stack, "dashboard_users", SensitiveInputProps(description="users"))
        SwarmSecret(
            stack,
            "users",
            SwarmSecretProps(name="users", value=users.value, version_marker=users.value),
        )

    doc = synth_stack(build)
    assert doc["variable"]["dashboard_users"]["sensitive"] is True
    assert "default" not in doc["variable"]["dashboard_users"]
    assert doc["resource"]["docker_secret"]["users"]["data"] == (
        "${base64encode(var.dashboard_users)}"
    )


def test_secret_file_mode_must_not_be_world_writable():
    with pytest.raises(PropsError, match="mode=0o666"):
        SecretFile(secret_id="a", secret_name="b", target="/run/secrets/x", mode=0o666)
