"""Vault policies end to end: layer_2's synthesized mounts and policies, loaded into real OpenBao.

OpenBao (the open-source fork of Vault: same HTTP API and policy language) runs as
``bao server -dev`` on 127.0.0.1, once for this module. Everything it enforces comes from the
synthesized ``layer_2`` ``cdk.tf.json``, never from hand-written copies:

- each ``vault_mount`` is enabled as synthesized (KV version 2), each ``vault_policy`` is written
  with its synthesized policy document, JSON (Vault's and OpenBao's policy parser reads JSON as
  well as HCL: constructs_lib/vault_policy.py cites the source);
- one token per policy is minted as root; the ``vault_token`` resources (infrastructure's and
  one per environment) are minted with their own settings (orphan, periodic, default policy
  kept), their ``${vault_policy.<id>.name}`` references resolved to the policy names.

Then every case of ``MATRIX`` (policy, operation, target, allowed?) is a real request with
``hvac``; a denial must be exactly 403 (``hvac.exceptions.Forbidden``).

The GitHub team -> policy mapping is checked on the JSON only: OpenBao ships no ``github`` auth
plugin (../shared/reference/verifying-here.md).

Last, the unsealer script (``UNSEAL_SCRIPT``) runs against a real, uninitialised, non-dev
OpenBao (in-memory storage): it initialises it with PGP-encrypted shares, and once given the
decrypted shares, unseals it, without printing any of them.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import hvac
import hvac.exceptions
import pytest

from constructs_lib.vault_config import UNSEAL_SCRIPT, render_init_request
from tests.conftest import ENVIRONMENTS, resources
from tests.e2e.openbao import (
    ROOT_TOKEN,
    STOP_TIMEOUT,
    BaoServer,
    free_port,
    start_bao,
)

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

# Bounds for everything that waits, so a hung server fails the test instead of hanging CI.
SCRIPT_TIMEOUT = 30

# --- What the synthesized JSON holds ---------------------------------------------------------

_POLICY_REF = re.compile(r"^\$\{vault_policy\.(?P<id>[\w-]+)\.name\}$")


def policy_name(document: dict, reference: str) -> str:
    """A ``vault_token``'s policy entry as a policy name: follows ``${vault_policy.<id>.name}``."""
    match = _POLICY_REF.match(reference)
    if not match:
        return reference
    policy = resources(document, "vault_policy").get(match["id"])
    assert policy is not None, f"{reference} names no vault_policy in the stack"
    return policy["name"]


def synthesized_policies(document: dict) -> dict[str, str]:
    """Policy name -> policy document (JSON text), as synthesized."""
    return {p["name"]: p["policy"] for p in resources(document, "vault_policy").values()}


# --- The allow/deny matrix -------------------------------------------------------------------

ADMINS = "admins"
PLAN = "plan"


def _built_grants() -> tuple[dict[str, list[tuple[str, tuple[str, ...]]]], list[str]]:
    """Each environment's platform policy rules and the plan policy's paths, from the stacks as
    main.py builds them (the matrix is made at collection, before any fixture runs); the
    tests below check that the synthesized policies are exactly these."""
    import main
    from tests.conftest import ROOT

    with tempfile.TemporaryDirectory(prefix="vault-matrix-") as outdir:
        vault = main.build(ROOT, outdir=outdir).node.find_child("layer_2").vault
        platform = {
            env: [(rule.path, tuple(rule.capabilities)) for rule in grants.rules()]
            for env, grants in vault.platform_grants.items()
        }
        plan = [rule.path for rule in vault._plan_policy.props.rules]
    return platform, plan


PLATFORM_RULES, PLAN_PATHS = _built_grants()


def kv_target(api_path: str) -> str | None:
    """``platform/data/main/x`` -> ``platform/main/x``; None for a non-KV path."""
    mount, _, rest = api_path.partition("/")
    kind, _, path = rest.partition("/")
    return f"{mount}/{path}" if kind == "data" else None


def granted(env: str, capability: str) -> list[str]:
    return sorted(
        target
        for path, capabilities in PLATFORM_RULES[env]
        if capability in capabilities and (target := kv_target(path))
    )


# Secrets written as root before any case runs: every secret a policy grants, in each
# environment, and a few that no platform policy grants.
UNGRANTED = ["infrastructure/redis", "infrastructure/rabbitmq/main"]
PLAN_TARGETS = sorted(filter(None, map(kv_target, PLAN_PATHS)))
SAMPLES: dict[str, dict[str, str]] = {
    target: {"sample": target}
    for target in sorted(
        {t for env in ENVIRONMENTS for t in granted(env, "read")}
        # ...and each environment's secrets at the same place in every other one
        | {
            t.replace(f"platform/{env}/", f"platform/{other}/", 1)
            for env in ENVIRONMENTS
            for t in granted(env, "read")
            for other in ENVIRONMENTS
        }
        | set(PLAN_TARGETS)
        | {f"platform/{env}/manual/not-granted" for env in ENVIRONMENTS}
        | set(UNGRANTED)
    )
}
# Targets the delete/destroy cases remove; root (re)writes them just before each such case.
SCRATCH = {
    *(f"platform/{env}/{kind}/scratch" for env in ENVIRONMENTS for kind in ("manual", "generated")),
    "infrastructure/scratch",
    *(t for env in ENVIRONMENTS for t in granted(env, "delete")),
}


@dataclass(frozen=True)
class Case:
    policy: str
    # One of KV_OPERATIONS (target: "<mount>/<path>", "<mount>/" for the mount's root)
    # or SYS_OPERATIONS (target: "").
    operation: str
    target: str
    allowed: bool

    @property
    def id(self) -> str:
        verdict = "allowed" if self.allowed else "denied"
        return f"{self.policy}:{self.operation}:{self.target or 'sys'}:{verdict}"


def _cases(policy: str, allowed: list[tuple[str, str]], denied: list[tuple[str, str]]):
    return [Case(policy, op, target, True) for op, target in allowed] + [
        Case(policy, op, target, False) for op, target in denied
    ]


def per_environment(
    *cases: tuple[str, str], environments: Sequence[str] = ENVIRONMENTS
) -> list[tuple[str, str]]:
    """Each (operation, target) for every one of ``environments``, ``{env}`` in the target
    standing for the environment's name."""
    return [(op, target.format(env=env)) for env in environments for op, target in cases]


def elsewhere(target: str, env: str, other: str) -> str:
    return target.replace(f"platform/{env}/", f"platform/{other}/", 1)


def platform_service_cases(env: str) -> list[Case]:
    """platform-<env>-service, minted from its role: every secret its stack grants itself, in
    the way granted, succeeds; the same secret in another environment, any other secret, a
    listing and destroying history are denied."""
    reads, writes, deletes = granted(env, "read"), granted(env, "create"), granted(env, "delete")
    others = [other for other in ENVIRONMENTS if other != env]
    own = [t for t in reads if t.startswith(f"platform/{env}/")]
    return _cases(
        f"platform-{env}-service",
        allowed=[
            *(("read", t) for t in reads),
            *(("write", t) for t in writes),
            *(("delete", t) for t in deletes),
        ],
        denied=[
            *(("read", elsewhere(t, env, o)) for t in own for o in others),
            *(("write", elsewhere(t, env, o)) for t in writes for o in others),
            ("read", f"platform/{env}/manual/not-granted"),
            *(("read", t) for t in UNGRANTED),
            *(("write", t) for t in reads if t not in writes),
            *(("destroy", t) for t in deletes),
            ("list", "platform/"),
            ("list", f"platform/{env}/"),
            ("list", "infrastructure/"),
        ],
    )


def plan_cases() -> list[Case]:
    """plan: every KV secret a refresh reads, read-only; nothing written, listed or destroyed."""
    reads = PLAN_TARGETS
    return _cases(
        PLAN,
        allowed=[("read", t) for t in reads],
        denied=[
            *(("write", t) for t in reads),
            *(("delete", t) for t in reads if t in SCRATCH),
            ("read", "infrastructure/redis"),
            ("list", "platform/"),
            ("list", "infrastructure/"),
        ],
    )


def influxdb_tokens_cases() -> list[Case]:
    """influxdb-tokens (the InfluxDB bucket loop): writes each environment's InfluxDB token and
    sees whether it exists; reads no value, not even those, and writes nothing else."""
    return _cases(
        "influxdb-tokens",
        allowed=per_environment(
            ("write", "platform/{env}/influxdb"), ("metadata", "platform/{env}/influxdb")
        ),
        denied=[
            *per_environment(
                ("read", "platform/{env}/influxdb"),
                ("write", "platform/{env}/manual/not-granted"),
                ("destroy", "platform/{env}/manual/scratch"),
            ),
            ("read", "infrastructure/redis"),
            ("list", "platform/"),
        ],
    )


# Intent, written by hand: what each team policy is for (stacks/vault_policies.py).
SAMPLE_IN = {env: f"platform/{env}/manual/not-granted" for env in ENVIRONMENTS}
KV_INTENT: list[Case] = [
    *(case for env in ENVIRONMENTS for case in platform_service_cases(env)),
    *plan_cases(),
    *influxdb_tokens_cases(),
    *_cases(
        "readonly",
        allowed=[
            *(("metadata", path) for path in SAMPLES),
            ("list", "platform/"),
            ("list", "infrastructure/"),
        ],
        denied=[
            *(("read", path) for path in SAMPLES),
            ("write", "infrastructure/redis"),
            ("patch", "infrastructure/rabbitmq/main"),
            ("delete", "infrastructure/scratch"),
            ("destroy", "infrastructure/scratch"),
            *per_environment(
                ("write", "platform/{env}/manual/not-granted"),
                ("delete", "platform/{env}/manual/scratch"),
                ("destroy", "platform/{env}/manual/scratch"),
            ),
        ],
    ),
    *_cases(
        "developers",
        allowed=[
            ("list", "platform/"),
            *per_environment(
                ("read", "platform/{env}/manual/not-granted"),
                ("write", "platform/{env}/manual/not-granted"),
                ("patch", "platform/{env}/manual/not-granted"),
                ("metadata", "platform/{env}/manual/not-granted"),
                ("delete", "platform/{env}/manual/scratch"),
                ("undelete", "platform/{env}/manual/scratch"),
            ),
        ],
        denied=[
            # History is never destroyed: no destroy/, no DELETE metadata/.
            *per_environment(
                ("destroy", "platform/{env}/manual/scratch"),
                ("destroy-versions", "platform/{env}/manual/scratch"),
            ),
            ("read", "infrastructure/redis"),
            ("list", "infrastructure/"),
            ("write", "infrastructure/redis"),
            ("delete", "infrastructure/scratch"),
        ],
    ),
    *_cases(
        "ops",
        allowed=[
            ("read", "infrastructure/redis"),
            ("read", "infrastructure/rabbitmq/main"),
            ("list", "infrastructure/"),
            ("write", "infrastructure/redis"),
            ("patch", "infrastructure/rabbitmq/main"),
            ("delete", "infrastructure/scratch"),
            ("destroy", "infrastructure/scratch"),
        ],
        denied=[
            ("list", "platform/"),
            *per_environment(
                ("read", "platform/{env}/manual/not-granted"),
                ("write", "platform/{env}/manual/not-granted"),
                ("delete", "platform/{env}/manual/scratch"),
            ),
        ],
    ),
]
# Vault's own configuration and other tokens: administrators only; plan reads what a refresh
# reads (mounts, policies, token roles, audit devices) and changes none of it.
SYS_OPERATION_NAMES = (
    "policy-write",
    "policy-read",
    "policy-list",
    "mount-enable",
    "mount-read",
    "mount-list",
    "auth-list",
    "audit-list",
    "role-read",
    "token-create-admins",
    "token-create-orphan",
)
PLAN_SYS_READS = {"policy-read", "mount-read", "audit-list", "role-read"}
NON_ADMIN_POLICIES = sorted({case.policy for case in KV_INTENT})
MATRIX: list[Case] = [
    *KV_INTENT,
    # admins may do everything any other policy may or may not.
    *(
        Case(ADMINS, op, target, True)
        for op, target in sorted({(c.operation, c.target) for c in KV_INTENT})
    ),
    *(
        Case(policy, op, "", policy == ADMINS or (policy == PLAN and op in PLAN_SYS_READS))
        for policy in [ADMINS, *NON_ADMIN_POLICIES]
        for op in SYS_OPERATION_NAMES
    ),
]


def _param(case: Case):
    return pytest.param(case, id=case.id)


# --- Operations, as hvac requests ------------------------------------------------------------


def split_target(target: str) -> tuple[str, str]:
    mount, _, path = target.partition("/")
    return mount, path


def _kv(client: hvac.Client):
    return client.secrets.kv.v2


def payload(policy: str, target: str) -> dict[str, str]:
    """What a write sends: the sample's keys (reads keep finding them) and the writer's mark."""
    return {**SAMPLES.get(target, {"value": "e2e"}), f"written_by_{policy}": "1"}


def op_read(client: hvac.Client, case: Case):
    mount, path = split_target(case.target)
    data = _kv(client).read_secret_version(path, mount_point=mount, raise_on_deleted_version=True)[
        "data"
    ]["data"]
    assert SAMPLES[case.target].items() <= data.items(), data
    return data


def op_list(client: hvac.Client, case: Case):
    mount, path = split_target(case.target)
    keys = _kv(client).list_secrets(path, mount_point=mount)["data"]["keys"]
    assert keys, f"nothing listed at {case.target}"
    return keys


def op_write(client: hvac.Client, case: Case):
    mount, path = split_target(case.target)
    return _kv(client).create_or_update_secret(
        path, secret=payload(case.policy, case.target), mount_point=mount
    )


def op_patch(client: hvac.Client, case: Case):
    # A real HTTP PATCH (hvac's kv.v2.patch is a read and a write, which needs no "patch").
    mount, path = split_target(case.target)
    return client.adapter.request(
        "PATCH",
        f"/v1/{mount}/data/{path}",
        json={"data": {f"patched_by_{case.policy}": "1"}},
        headers={"Content-Type": "application/merge-patch+json"},
    )


def op_delete(client: hvac.Client, case: Case):
    # Soft delete of the latest version: DELETE <mount>/data/<path>.
    mount, path = split_target(case.target)
    return _kv(client).delete_latest_version_of_secret(path, mount_point=mount)


def op_metadata(client: hvac.Client, case: Case):
    # Versions and times, no value: GET <mount>/metadata/<path>.
    mount, path = split_target(case.target)
    return _kv(client).read_secret_metadata(path, mount_point=mount)


def op_undelete(client: hvac.Client, case: Case):
    # Restores a soft-deleted version: POST <mount>/undelete/<path>.
    mount, path = split_target(case.target)
    return _kv(client).undelete_secret_versions(path, versions=[1], mount_point=mount)


def op_destroy_versions(client: hvac.Client, case: Case):
    # Versions removed for good: POST <mount>/destroy/<path>.
    mount, path = split_target(case.target)
    return _kv(client).destroy_secret_versions(path, versions=[1], mount_point=mount)


def op_destroy(client: hvac.Client, case: Case):
    # Every version and the metadata: DELETE <mount>/metadata/<path>.
    mount, path = split_target(case.target)
    return _kv(client).delete_metadata_and_all_versions(path, mount_point=mount)


KV_OPERATIONS: dict[str, Callable[[hvac.Client, Case], object]] = {
    "read": op_read,
    "list": op_list,
    "write": op_write,
    "patch": op_patch,
    "delete": op_delete,
    "destroy": op_destroy,
    "metadata": op_metadata,
    "undelete": op_undelete,
    "destroy-versions": op_destroy_versions,
}
SYS_OPERATIONS: dict[str, Callable[[hvac.Client, Case], object]] = {
    "policy-write": lambda c, case: c.sys.create_or_update_acl_policy(
        name=f"e2e-by-{case.policy}", policy='path "platform/data/*" { capabilities = ["read"] }'
    ),
    "policy-read": lambda c, case: c.sys.read_acl_policy(ADMINS),
    "policy-list": lambda c, case: c.sys.list_acl_policies(),
    "mount-enable": lambda c, case: c.sys.enable_secrets_engine(
        "kv", path=f"e2e-by-{case.policy}", options={"version": "2"}
    ),
    "mount-read": lambda c, case: c.adapter.get("/v1/sys/mounts/platform"),
    "mount-list": lambda c, case: c.sys.list_mounted_secrets_engines(),
    "role-read": lambda c, case: c.adapter.get(f"/v1/auth/token/roles/platform-{ENVIRONMENTS[0]}"),
    "auth-list": lambda c, case: c.sys.list_auth_methods(),
    "audit-list": lambda c, case: c.sys.list_enabled_audit_devices(),
    "token-create-admins": lambda c, case: c.auth.token.create(policies=[ADMINS], ttl="5m"),
    "token-create-orphan": lambda c, case: c.auth.token.create_orphan(policies=[ADMINS], ttl="5m"),
}
assert set(SYS_OPERATIONS) == set(SYS_OPERATION_NAMES)


@pytest.fixture(scope="module")
def bao(bao_dev_server: BaoServer) -> BaoServer:
    return bao_dev_server


@pytest.fixture(scope="module")
def root(bao: BaoServer) -> hvac.Client:
    return bao.client(ROOT_TOKEN)


@pytest.fixture(scope="module")
def applied(layer_2: dict, root: hvac.Client) -> dict:
    """layer_2's mounts and policies, applied as synthesized; the sample secrets written."""
    for mount in resources(layer_2, "vault_mount").values():
        # The dev server already mounts "secret/" (KV v2); the synthesized paths are others.
        root.sys.enable_secrets_engine(
            backend_type=mount["type"],
            path=mount["path"],
            description=mount.get("description"),
            options=mount.get("options"),
        )
    for name, document in synthesized_policies(layer_2).items():
        # A string is sent as it is: OpenBao parses the JSON text itself.
        root.sys.create_or_update_acl_policy(name=name, policy=document)
    for target, data in SAMPLES.items():
        mount, path = split_target(target)
        root.secrets.kv.v2.create_or_update_secret(path, secret=data, mount_point=mount)
    return layer_2


def role_of(document: dict, name: str) -> dict:
    (role,) = (
        r for r in resources(document, "vault_token_auth_backend_role").values()
        if r["role_name"] == name
    )  # fmt: skip
    return role


@pytest.fixture(scope="module")
def tokens(applied: dict, root: hvac.Client) -> dict[str, str]:
    """Policy name -> a token holding it (and the default policy).

    The token roles are created as synthesized, and the platform and plan tokens are minted
    from them, as a deployer mints them; every team policy gets a short-lived orphan token
    minted by root.
    """
    minted: dict[str, str] = {}
    for role in resources(applied, "vault_token_auth_backend_role").values():
        policies = [policy_name(applied, ref) for ref in role["token_policies"]]
        # Every synthesized argument as the provider sends it (the API's own field names).
        settings = {k: v for k, v in role.items() if k not in ("//", "role_name")}
        settings["allowed_policies"] = [policy_name(applied, r) for r in role["allowed_policies"]]
        settings["token_policies"] = policies
        root.write(f"auth/token/roles/{role['role_name']}", **settings)
        (policy,) = policies
        minted[policy] = root.auth.token.create(role_name=role["role_name"])["auth"]["client_token"]
    for name in synthesized_policies(applied):
        if name not in minted:
            auth = root.auth.token.create_orphan(
                policies=[name], display_name=f"e2e-{name}", ttl="30m"
            )["auth"]
            minted[name] = auth["client_token"]
    return minted


# --- Tests -----------------------------------------------------------------------------------


def test_synthesized_mounts_are_kv_v2_and_live(applied: dict, root: hvac.Client) -> None:
    mounts = resources(applied, "vault_mount")
    assert sorted(m["path"] for m in mounts.values()) == ["infrastructure", "platform"]
    live = root.sys.list_mounted_secrets_engines()["data"]
    for mount in mounts.values():
        assert (mount["type"], mount["options"]) == ("kv", {"version": "2"})
        assert live[f"{mount['path']}/"]["type"] == "kv"
        assert live[f"{mount['path']}/"]["options"]["version"] == "2"


def test_synthesized_policies_are_stored_verbatim(applied: dict, root: hvac.Client) -> None:
    policies = synthesized_policies(applied)
    assert sorted(policies) == sorted([ADMINS, *NON_ADMIN_POLICIES])
    for name, document in policies.items():
        assert list(json.loads(document)) == ["path"], name
        assert root.sys.read_acl_policy(name)["data"]["policy"] == document


def test_matrix_covers_every_synthesized_policy(applied: dict) -> None:
    assert {case.policy for case in MATRIX} == set(synthesized_policies(applied))


def test_tokens_minted_from_the_roles_carry_exactly_their_policy(
    applied: dict, bao: BaoServer, root: hvac.Client, tokens: dict[str, str]
) -> None:
    roles = {
        r["role_name"]: r for r in resources(applied, "vault_token_auth_backend_role").values()
    }
    assert set(roles) == {PLAN, *(f"platform-{env}" for env in ENVIRONMENTS)}
    for name, role in roles.items():
        (policy,) = (policy_name(applied, ref) for ref in role["token_policies"])
        looked_up = root.auth.token.lookup(tokens[policy])["data"]
        assert sorted(looked_up["policies"]) == sorted({"default", policy}), name
        assert looked_up["orphan"] is True, name
        if "token_period" in role:
            # periodic (the plan workflow's stored token): renewable, one period at a time
            assert looked_up["renewable"] is True, name
            assert looked_up["creation_ttl"] == role["token_period"], looked_up
            assert looked_up["explicit_max_ttl"] == 0, looked_up
            # ...and the token renews itself, as the plan review does on each run
            renewed = bao.client(tokens[policy]).auth.token.renew_self()["auth"]
            assert renewed["lease_duration"] == role["token_period"]
        else:
            assert looked_up["renewable"] is False, name
            assert 0 < looked_up["ttl"] <= role["token_explicit_max_ttl"], name
    # A token of one environment's role cannot be minted with another's policy
    with pytest.raises(hvac.exceptions.InvalidRequest):
        root.auth.token.create(
            role_name=f"platform-{ENVIRONMENTS[0]}",
            policies=[f"platform-{ENVIRONMENTS[-1]}-service", ADMINS],
        )


def test_the_synthesized_policies_are_the_grants_the_stacks_declared(applied: dict) -> None:
    policies = synthesized_policies(applied)
    for env, rules in PLATFORM_RULES.items():
        document = json.loads(policies[f"platform-{env}-service"])["path"]
        assert {p: tuple(v["capabilities"]) for p, v in document.items()} == dict(rules), env
    assert sorted(json.loads(policies[PLAN])["path"]) == sorted(PLAN_PATHS)
    # plan changes nothing: read everywhere, and the sudo listing audit devices needs
    for path, rule in json.loads(policies[PLAN])["path"].items():
        allowed = {"sys/audit": {"read", "sudo"}, "auth/token/lookup-accessor": {"update"}}
        assert set(rule["capabilities"]) <= allowed.get(path, {"read"}), path


def test_github_teams_name_only_synthesized_policies(applied: dict, root: hvac.Client) -> None:
    # JSON-level only: OpenBao has no github auth plugin, so a team login cannot be tried here.
    teams = resources(applied, "vault_github_team")
    backends = resources(applied, "vault_github_auth_backend")
    policies = synthesized_policies(applied)
    assert teams, "layer_2 synthesizes no vault_github_team"
    for team in teams.values():
        assert team["backend"] in {f"${{vault_github_auth_backend.{bid}.id}}" for bid in backends}
        assert team["policies"], f"team {team['team']} gets no policy"
        for name in team["policies"]:
            assert name in policies, f"team {team['team']}: policy {name!r} is not synthesized"
            # ...and it is live in OpenBao, as synthesized.
            assert root.sys.read_acl_policy(name)["data"]["policy"] == policies[name]


@pytest.mark.parametrize("case", [_param(case) for case in MATRIX])
def test_policy_matrix(case: Case, bao: BaoServer, root: hvac.Client, tokens: dict[str, str]):
    if case.target in SCRATCH:
        mount, path = split_target(case.target)
        data = SAMPLES.get(case.target, {"v": "1"})
        root.secrets.kv.v2.create_or_update_secret(path, secret=data, mount_point=mount)
    operation = KV_OPERATIONS.get(case.operation) or SYS_OPERATIONS[case.operation]
    client = bao.client(tokens[case.policy])
    if case.allowed:
        try:
            operation(client, case)
        except hvac.exceptions.Forbidden as denied:
            raise AssertionError(
                f"{case.policy} was denied {case.operation} {case.target or ''}: {denied}"
            ) from None
        if case.operation == "write":
            mount, path = split_target(case.target)
            stored = root.secrets.kv.v2.read_secret_version(
                path, mount_point=mount, raise_on_deleted_version=True
            )["data"]["data"]
            assert stored == payload(case.policy, case.target)
    else:
        with pytest.raises(hvac.exceptions.Forbidden):
            operation(client, case)
        if case.operation in ("write", "patch") and case.target in SAMPLES:
            mount, path = split_target(case.target)
            stored = root.secrets.kv.v2.read_secret_version(
                path, mount_point=mount, raise_on_deleted_version=True
            )["data"]
            assert not any(key.endswith(f"_by_{case.policy}") for key in stored["data"])


# --- The unsealer script against a real, uninitialised OpenBao -------------------------------


def wget_flavours() -> list[str]:
    """GNU wget always; BusyBox's wget (what the hashicorp/vault image has) when installed."""
    return ["gnu", *(["busybox"] if shutil.which("busybox") else [])]


class Gpg:
    """A throwaway GnuPG home with operators' keys (RSA 2048, no passphrase)."""

    def __init__(self, home: Path) -> None:
        self.home = home

    def run(self, *args: str, stdin: bytes | None = None) -> bytes:
        result = subprocess.run(
            ["gpg", "--batch", "--quiet", "--homedir", str(self.home), *args],
            input=stdin,
            capture_output=True,
            timeout=SCRIPT_TIMEOUT,
        )
        assert result.returncode == 0, result.stderr.decode(errors="replace")
        return result.stdout

    def new_key(self, email: str) -> str:
        """Make a key pair; return the public key as Vault's pgp_keys want it (base64)."""
        spec = (
            "%no-protection\nKey-Type: RSA\nKey-Length: 2048\n"
            f"Name-Real: e2e operator\nName-Email: {email}\nExpire-Date: 0\n%commit\n"
        )
        self.run("--gen-key", stdin=spec.encode())
        return base64.b64encode(self.run("--export", email)).decode()

    def decrypt(self, ciphertext_base64: str) -> str:
        return self.run("--decrypt", stdin=base64.b64decode(ciphertext_base64)).decode().strip()


@pytest.fixture
def gpg() -> Iterator[Gpg]:
    assert shutil.which("gpg"), "gpg is needed to make the operators' PGP keys"
    # A short path: gpg-agent's socket lives in the home and socket paths are length-limited.
    home = Path(tempfile.mkdtemp(prefix="e2e-gpg-"))
    try:
        yield Gpg(home)
    finally:
        # Stop the gpg-agent this home started, then remove the keys.
        subprocess.run(
            ["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"],
            capture_output=True,
            timeout=STOP_TIMEOUT,
        )
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def sealed_bao(tmp_path: Path) -> Iterator[BaoServer]:
    """A non-dev OpenBao: in-memory storage, plain HTTP on loopback, not initialised."""
    workdir = tmp_path / "bao"
    workdir.mkdir()

    def args(port: int) -> list[str]:
        config = workdir / "config.json"
        config.write_text(
            json.dumps(
                {
                    "storage": {"inmem": {}},
                    "listener": {
                        "tcp": {
                            "address": f"127.0.0.1:{port}",
                            "cluster_address": f"127.0.0.1:{free_port()}",
                            "tls_disable": True,
                        }
                    },
                    "disable_mlock": True,
                },
                indent=2,
                sort_keys=True,
            )
        )
        return [f"-config={config}"]

    # /sys/health answers 501 while not initialised.
    server = start_bao(workdir, args, ready={501})
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("wget", wget_flavours())
def test_unsealer_initialises_and_unseals_a_real_openbao(
    wget: str, sealed_bao: BaoServer, gpg: Gpg, tmp_path: Path
) -> None:
    bin_dir, init_dir, shm = tmp_path / "bin", tmp_path / "init", tmp_path / "shm"
    for folder in (bin_dir, init_dir, shm):
        folder.mkdir()
    (bin_dir / "wget").symlink_to(shutil.which("busybox" if wget == "busybox" else "wget"))
    script = tmp_path / "vault-unseal"
    script.write_text(UNSEAL_SCRIPT)
    keys_file, request_file = tmp_path / "unseal-keys", tmp_path / "init-request.json"
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "VAULT_ADDR": sealed_bao.address,
        "INIT_REQUEST_FILE": str(request_file),
        "INIT_DIR": str(init_dir),
        "SHM_DIR": str(shm),
        "UNSEAL_KEYS_FILE": str(keys_file),
        "RUN_ONCE": "1",
    }

    def run_script() -> str:
        result = subprocess.run(
            ["/bin/sh", str(script)],
            env=env,
            capture_output=True,
            text=True,
            timeout=SCRIPT_TIMEOUT,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout + result.stderr

    # GIVEN two operators' public keys in the init request, as render_init_request writes it
    operators = [gpg.new_key("op1@example.invalid"), gpg.new_key("op2@example.invalid")]
    request_file.write_text(
        render_init_request(
            key_shares=2, key_threshold=2, pgp_keys=operators, root_token_pgp_key=operators[0]
        )
    )
    assert sealed_bao.seal_status()["initialized"] is False

    # WHEN the unsealer runs once against the uninitialised server
    first = run_script()

    # THEN OpenBao is initialised, with the requested shares, still sealed
    status = sealed_bao.seal_status()
    assert (status["initialized"], status["sealed"], status["n"], status["t"]) == (
        True,
        True,
        2,
        2,
    ), first
    # AND the init response is kept 0600 and holds only PGP ciphertext
    (response_file,) = init_dir.iterdir()
    assert stat.S_IMODE(response_file.stat().st_mode) == 0o600
    response = json.loads(response_file.read_text())
    shares = [gpg.decrypt(ciphertext) for ciphertext in response["keys_base64"]]
    root_token = gpg.decrypt(response["root_token"])
    assert len(shares) == 2 and all(re.fullmatch(r"[0-9a-f]{66}", s) for s in shares), shares
    assert not set(shares) & set(response["keys"]) and root_token != response["root_token"]
    # AND nothing secret, not even ciphertext, reached the script's output
    secrets = [*shares, root_token, *response["keys"], *response["keys_base64"]]
    assert not [s for s in secrets if s in first], first
    assert "Vault initialised" in first

    # WHEN the operators' decrypted shares (threshold of them) are mounted and it runs again
    keys_file.write_text("# unseal key shares\n" + "\n".join(shares[: status["t"]]) + "\n")
    second = run_script()

    # THEN OpenBao is unsealed, no share or token was printed, and tmpfs holds no request body
    assert sealed_bao.seal_status()["sealed"] is False, second
    assert "submitted 2 unseal key share(s)" in second
    assert not [s for s in secrets if s in second], second
    assert list(shm.iterdir()) == []
    # AND the decrypted root token is a working root token
    assert sealed_bao.client(root_token).auth.token.lookup_self()["data"]["policies"] == ["root"]
