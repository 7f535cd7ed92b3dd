"""Remote state end to end: each stack's synthesized S3 backend, run by real Terraform against moto.

A local S3 API (``moto_server`` on 127.0.0.1) stands in for DigitalOcean Spaces. For every
stack, Terraform gets a tiny configuration that holds the stack's synthesized
``terraform.backend.s3`` block, changed only by ``local_backend`` (endpoint and path style), and
one built-in ``terraform_data`` resource: no provider is downloaded. The tests then check:

- ``init`` and ``apply`` accept the block and write the state object at exactly the synthesized key,
  and the lockfile ``<key>.tflock`` is gone after the apply;
- while one apply holds the lock, a second apply (another working directory, as a second operator
  would have) stops with Terraform's "Error acquiring the state lock", and the state afterwards is
  the first apply's (docs/decisions/state-locking.md).

No request leaves the machine: Terraform's HTTP(S) proxy is a closed loopback port, which Go
bypasses only for loopback hosts such as moto. Skipped only when ``terraform`` is not on PATH.
"""

from __future__ import annotations

import contextlib
import copy
import http.client
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from scripts.bootstrap_state import ensure_state_bucket
from tests.conftest import STACK_NAMES, flatten
from tests.e2e.swarm.spaces import spaces_stand_in

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

TERRAFORM = shutil.which("terraform")
MOTO_SERVER = Path(sys.executable).with_name("moto_server")
# Credentials moto accepts; Spaces keys come from the deploy environment, never from here.
FAKE_KEY_ID = "moto-test-key-id"
FAKE_SECRET = "moto-test-secret"
# Bounds for everything that waits, so a hung Terraform or moto fails the test instead of CI.
COMMAND_TIMEOUT = 60
START_TIMEOUT = 30
# Upper bound for the lock holder's gate loop (tenths of a second); the test releases it sooner.
HOLD_TICKS = 300


def local_backend(backend: dict, endpoint: str) -> dict:
    """The synthesized S3 backend block, pointed at a local S3 API. Pure: returns a new block.

    Exactly two settings change, everything else (bucket, key, region, skip flags,
    use_lockfile) is passed through as synthesized:
    - ``endpoints.s3`` becomes ``endpoint`` (the Spaces URL is out of reach from tests);
    - ``use_path_style`` becomes true: the local API is an IP address, so the bucket cannot be
      a host name label (Spaces is reached with virtual-host style).
    """
    if "s3" not in backend.get("endpoints", {}) or "use_path_style" not in backend:
        raise ValueError(f"not a synthesized Spaces backend block: {backend}")
    local = copy.deepcopy(backend)
    local["endpoints"]["s3"] = endpoint
    local["use_path_style"] = True
    return local


def probe_config(backend: dict, stack_name: str) -> dict:
    """A provider-less Terraform configuration that stores its state through ``backend``.

    ``terraform_data`` is built into Terraform. Its ``local-exec`` provisioner (also built in)
    runs on every (re)creation: with ``gate`` set it touches ``<gate>/held`` and waits, bounded,
    for ``<gate>/release``, so a test can keep an apply, and the state lock, held.
    Changing ``revision`` replaces the resource, so every apply with a new revision writes state.
    """
    hold = (
        'if [ -n "$GATE" ]; then touch "$GATE/held"; i=0; '
        f'while [ ! -e "$GATE/release" ] && [ "$i" -lt {HOLD_TICKS} ]; '
        "do sleep 0.1; i=$((i+1)); done; fi"
    )
    return {
        "terraform": {"backend": {"s3": backend}},
        "variable": {
            "gate": {"type": "string", "default": ""},
            "revision": {"type": "string", "default": "1"},
        },
        "resource": {
            "terraform_data": {
                "probe": {
                    "input": stack_name,
                    "triggers_replace": "${var.revision}",
                    "provisioner": [
                        {"local-exec": {"command": hold, "environment": {"GATE": "${var.gate}"}}}
                    ],
                }
            }
        },
        "output": {"probe": {"value": "${terraform_data.probe.output}"}},
    }


def backend_of(document: dict) -> dict:
    return document["terraform"]["backend"]["s3"]


# --- The synthesized backend blocks (no Terraform needed) ---------------------------------------


def test_every_stack_is_covered(stacks: dict[str, dict]) -> None:
    assert sorted(stacks) == sorted(STACK_NAMES)


def test_backends_differ_only_in_key(stacks: dict[str, dict]) -> None:
    for name, document in stacks.items():
        assert list(document["terraform"]["backend"]) == ["s3"], name
    blocks = {name: backend_of(document) for name, document in stacks.items()}
    shared = {name: {k: v for k, v in b.items() if k != "key"} for name, b in blocks.items()}
    first = next(iter(shared.values()))
    assert all(rest == first for rest in shared.values()), shared
    keys = [block["key"] for block in blocks.values()]
    assert len(set(keys)) == len(keys), keys
    assert {name: block["key"] for name, block in blocks.items()} == {
        name: f"sprocket-infra/{name}.tfstate" for name in stacks
    }
    assert first["use_lockfile"] is True


def test_local_backend_changes_only_endpoint_and_path_style(stacks: dict[str, dict]) -> None:
    for document in stacks.values():
        synthesized = backend_of(document)
        before = copy.deepcopy(synthesized)
        local = local_backend(synthesized, "http://127.0.0.1:1")
        assert synthesized == before  # not mutated
        old, new = flatten(synthesized), flatten(local)
        assert old.keys() == new.keys()
        assert {path for path in old if old[path] != new[path]} <= {
            ("endpoints", "s3"),
            ("use_path_style",),
        }
        assert new[("endpoints", "s3")] == "http://127.0.0.1:1"
        assert new[("use_path_style",)] is True


# --- Terraform against a local S3 API ------------------------------------------------------------


@pytest.fixture(scope="module")
def terraform_version(terraform_env: dict[str, str]) -> str:
    if TERRAFORM is None:
        pytest.skip(
            "terraform is not on PATH: remote-state end-to-end tests need Terraform >= 1.11"
        )
    result = subprocess.run(
        [TERRAFORM, "version", "-json"],
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        env=terraform_env,
        check=True,
    )
    version = json.loads(result.stdout)["terraform_version"]
    major, minor = (int(part) for part in version.split(".")[:2])
    if (major, minor) < (1, 11):
        pytest.fail(f"Terraform {version}: the stacks require >= 1.11 (state-locking.md)")
    return version


@pytest.fixture(scope="module")
def moto_endpoint(
    terraform_version: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A moto S3 API on 127.0.0.1 for this module; stopped at teardown.

    Depends on ``terraform_version`` so that without Terraform nothing is started.
    """
    assert MOTO_SERVER.exists(), f"{MOTO_SERVER} missing: install the dev extra (moto[server])"
    with spaces_stand_in("127.0.0.1", tmp_path_factory.mktemp("moto") / "moto.log") as moto:
        yield moto.endpoint


@pytest.fixture(scope="module")
def s3(moto_endpoint: str, stacks: dict[str, dict]):
    """A boto3 S3 client on moto, with every synthesized state bucket created."""
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id=FAKE_KEY_ID,
        aws_secret_access_key=FAKE_SECRET,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
    )
    # The state bucket is made the way operators make it: by the bootstrap script.
    for bucket in sorted({backend_of(document)["bucket"] for document in stacks.values()}):
        ensure_state_bucket(client, bucket)
    return client


@pytest.fixture(scope="module")
def terraform_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment for Terraform: fake moto keys, no CLI config, no way off the machine."""
    home = tmp_path_factory.mktemp("terraform-env")
    empty = home / "empty"
    empty.write_text("")
    # A bound but never listening loopback port refuses every connection: any non-loopback
    # HTTP(S) request (registry, checkpoint, real AWS) fails instead of leaving the machine.
    trap = socket.socket()
    trap.bind(("127.0.0.1", 0))
    proxy = f"http://127.0.0.1:{trap.getsockname()[1]}"
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("TF_", "AWS_"))
        and name.lower() not in {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
    }
    env.update(
        TF_CLI_CONFIG_FILE=str(empty),
        TF_IN_AUTOMATION="1",
        CHECKPOINT_DISABLE="1",
        JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
        AWS_ACCESS_KEY_ID=FAKE_KEY_ID,
        AWS_SECRET_ACCESS_KEY=FAKE_SECRET,
        AWS_CONFIG_FILE=str(empty),
        AWS_SHARED_CREDENTIALS_FILE=str(empty),
        AWS_EC2_METADATA_DISABLED="true",
        HTTP_PROXY=proxy,
        HTTPS_PROXY=proxy,
        http_proxy=proxy,
        https_proxy=proxy,
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    try:
        yield env
    finally:
        trap.close()


def terraform(
    workdir: Path, env: dict[str, str], *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    assert TERRAFORM is not None
    result = subprocess.run(
        [TERRAFORM, *args, "-input=false", "-no-color"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
    )
    if check:
        assert result.returncode == 0, (
            f"terraform {' '.join(args)} in {workdir} failed ({result.returncode}):\n"
            f"{result.stdout}\n{result.stderr}"
        )
    return result


@pytest.fixture(scope="module")
def workdir(
    tmp_path_factory: pytest.TempPathFactory,
    stacks: dict[str, dict],
    moto_endpoint: str,
    s3,
    terraform_env: dict[str, str],
    terraform_version: str,
) -> Callable[[str, str], Path]:
    """``workdir(stack, operator)``: an initialized working directory, made once per pair."""
    made: dict[tuple[str, str], Path] = {}

    def get(stack_name: str, operator: str = "a") -> Path:
        if (stack_name, operator) not in made:
            path = tmp_path_factory.mktemp(f"{stack_name}-{operator}")
            backend = local_backend(backend_of(stacks[stack_name]), moto_endpoint)
            config = probe_config(backend, stack_name)
            (path / "main.tf.json").write_text(json.dumps(config, indent=2))
            result = terraform(path, terraform_env, "init")
            assert 'Successfully configured the backend "s3"' in result.stdout
            # Nothing was downloaded: only the built-in provider, no lock file, no plugins.
            assert "terraform.io/builtin/terraform is built in" in result.stdout
            assert not (path / ".terraform.lock.hcl").exists()
            assert not (path / ".terraform" / "providers").exists()
            made[stack_name, operator] = path
        return made[stack_name, operator]

    return get


def read_state(s3, stacks: dict[str, dict], stack_name: str) -> dict:
    backend = backend_of(stacks[stack_name])
    body = s3.get_object(Bucket=backend["bucket"], Key=backend["key"])["Body"].read()
    return json.loads(body)


def objects_at(s3, stacks: dict[str, dict], stack_name: str) -> list[str]:
    """Keys in the state bucket that start with the stack's state key."""
    backend = backend_of(stacks[stack_name])
    listing = s3.list_objects_v2(Bucket=backend["bucket"], Prefix=backend["key"])
    return sorted(item["Key"] for item in listing.get("Contents", []))


def probe_of(state: dict) -> dict:
    [probe] = [
        r
        for r in state["resources"]
        if (r["mode"], r["type"], r["name"]) == ("managed", "terraform_data", "probe")
    ]
    [instance] = probe["instances"]
    return instance["attributes"]


@pytest.mark.parametrize("stack_name", STACK_NAMES)
def test_apply_writes_state_at_synthesized_key(
    stack_name: str,
    stacks: dict[str, dict],
    s3,
    workdir: Callable[[str, str], Path],
    terraform_env: dict[str, str],
    terraform_version: str,
) -> None:
    path = workdir(stack_name, "a")
    terraform(path, terraform_env, "apply", "-auto-approve", "-var", "revision=apply-test")

    key = backend_of(stacks[stack_name])["key"]
    assert objects_at(s3, stacks, stack_name) == [key]  # the state, and no .tflock left behind
    state = read_state(s3, stacks, stack_name)
    assert state["version"] == 4
    assert state["terraform_version"] == terraform_version
    assert state["outputs"]["probe"]["value"] == stack_name
    assert probe_of(state)["triggers_replace"]["value"] == "apply-test"
    # The state lives only in the bucket, not in the working directory.
    assert not (path / "terraform.tfstate").exists()


@pytest.mark.parametrize("stack_name", STACK_NAMES)
def test_second_apply_is_refused_while_the_lock_is_held(
    stack_name: str,
    stacks: dict[str, dict],
    s3,
    workdir: Callable[[str, str], Path],
    terraform_env: dict[str, str],
    tmp_path: Path,
) -> None:
    backend = backend_of(stacks[stack_name])
    first, second = workdir(stack_name, "a"), workdir(stack_name, "b")
    terraform(first, terraform_env, "apply", "-auto-approve", "-var", "revision=before-lock")
    before = read_state(s3, stacks, stack_name)

    gate = tmp_path / "gate"
    gate.mkdir()
    holder_log = tmp_path / "holder.log"
    holder_vars = ["-var", f"gate={gate}", "-var", "revision=holder"]
    with holder_log.open("w") as log:
        holder = subprocess.Popen(
            [TERRAFORM, "apply", "-auto-approve", "-input=false", "-no-color", *holder_vars],
            cwd=first,
            env=terraform_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not (gate / "held").exists():
            assert holder.poll() is None, f"holder apply ended early:\n{holder_log.read_text()}"
            assert time.monotonic() < deadline, f"holder never started:\n{holder_log.read_text()}"
            time.sleep(0.05)

        # Terraform's lockfile is in place next to the state while the holder runs.
        lock_key = f"{backend['key']}.tflock"
        assert lock_key in objects_at(s3, stacks, stack_name), "the holder took no lockfile"
        lock = json.loads(s3.get_object(Bucket=backend["bucket"], Key=lock_key)["Body"].read())
        assert lock["Path"] == f"{backend['bucket']}/{backend['key']}"
        assert lock["Operation"] == "OperationTypeApply"

        started = time.monotonic()
        contender = terraform(
            second,
            terraform_env,
            "apply",
            "-auto-approve",
            "-lock-timeout=0s",
            "-var",
            "revision=contender",
            check=False,
        )
        refused_after = time.monotonic() - started
        output = contender.stdout + contender.stderr
        assert contender.returncode != 0, output
        assert "Error acquiring the state lock" in output, output
        # Refused by the conditional write of the lockfile (If-None-Match: *), naming our lock.
        assert "PreconditionFailed" in output, output
        assert lock["ID"] in output, output
        assert refused_after < 20, refused_after
        during = read_state(s3, stacks, stack_name)
        assert during["lineage"] == before["lineage"]
        assert "contender" not in json.dumps(during)
    finally:
        (gate / "release").touch()
        try:
            holder.wait(timeout=COMMAND_TIMEOUT)
        except subprocess.TimeoutExpired:
            holder.kill()
            holder.wait(timeout=10)
    assert holder.returncode == 0, holder_log.read_text()

    after = read_state(s3, stacks, stack_name)
    assert after["lineage"] == before["lineage"]
    assert after["serial"] > before["serial"]
    assert after["outputs"]["probe"]["value"] == stack_name
    assert probe_of(after)["triggers_replace"]["value"] == "holder"  # the contender wrote nothing
    assert objects_at(s3, stacks, stack_name) == [backend["key"]]  # lock released


def test_bootstrap_makes_the_state_bucket_private_versioned_and_is_idempotent(s3, stacks):
    bucket = backend_of(stacks["layer_1"])["bucket"]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    grants = s3.get_bucket_acl(Bucket=bucket)["Grants"]
    assert all("AllUsers" not in str(g.get("Grantee", {})) for g in grants)
    assert ensure_state_bucket(s3, bucket) == [f"bucket {bucket} exists"]


# --- The checksum headers Terraform sends --------------------------------------------------------

# Request headers of the AWS SDK's flexible checksums (aws-sdk-go-v2 service/s3
# internal/checksum): a checksum of the body, the algorithm, a trailer, or asking for one back.
CHECKSUM_HEADERS = re.compile(r"^x-amz-(checksum-|sdk-checksum-algorithm$|trailer$)")


@contextlib.contextmanager
def recording_proxy(upstream: str) -> Iterator[tuple[str, list[tuple[str, str, list[str]]]]]:
    """An HTTP proxy on 127.0.0.1 that forwards to ``upstream`` and records, per request,
    (method, path, header names)."""
    seen: list[tuple[str, str, list[str]]] = []
    target = urllib.parse.urlsplit(upstream)

    class Forward(http.server.BaseHTTPRequestHandler):
        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            seen.append((self.command, self.path, [h.lower() for h in self.headers]))
            upstream_connection = http.client.HTTPConnection(
                target.hostname, target.port, timeout=30
            )
            try:
                upstream_connection.request(self.command, self.path, body, dict(self.headers))
                answer = upstream_connection.getresponse()
                data = answer.read()
            finally:
                upstream_connection.close()
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in {"transfer-encoding", "connection", "content-length"}:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Forward)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("with_settings", [False, True], ids=["as-is", "with-the-settings"])
def test_the_checksum_settings_keep_terraform_to_plain_s3_requests(
    with_settings, stacks, moto_endpoint, s3, terraform_env, terraform_version, tmp_path
):
    from constructs_lib.remote_state import S3_COMPATIBLE_ENVIRONMENT

    # GIVEN a stack's synthesized backend, its requests recorded on their way to the S3 API
    with recording_proxy(moto_endpoint) as (endpoint, seen):
        backend = local_backend(backend_of(stacks["layer_1"]), endpoint)
        backend["key"] = f"checksums/{'with' if with_settings else 'without'}.tfstate"
        (tmp_path / "main.tf.json").write_text(json.dumps(probe_config(backend, "layer_1")))
        env = {**terraform_env, **(S3_COMPATIBLE_ENVIRONMENT if with_settings else {})}
        # WHEN Terraform initializes, applies (lock, write state, unlock) and plans
        terraform(tmp_path, env, "init")
        terraform(tmp_path, env, "apply", "-auto-approve", "-var", "revision=1")
        terraform(tmp_path, env, "plan", "-var", "revision=1")
    checksummed = sorted(
        {(method, path.split("?")[0]) for method, path, names in seen
         if any(CHECKSUM_HEADERS.match(name) for name in names)}
    )  # fmt: skip
    assert any(method == "PUT" for method, _, _ in seen)  # state and lock were written
    if with_settings:
        # THEN with the settings no request carries a checksum header
        assert checksummed == []
    else:
        # THEN without them Terraform 1.11.2+ sends checksum headers despite skip_s3_checksum
        # (before 1.11.2 it did not: then this half shows nothing and says so)
        major, minor, patch = (int(p) for p in terraform_version.split(".")[:3])
        if (major, minor, patch) >= (1, 11, 2):
            assert checksummed, f"Terraform {terraform_version} sent no checksum header"
        else:
            assert checksummed == []
