"""Shared fixtures: one synthesis of the shipped configuration per test session."""

from __future__ import annotations

import base64
import json
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from stacks.config import load_config

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("CHECKPOINT_DISABLE", "1")

ROOT = Path(__file__).resolve().parent.parent

# The shipped configuration, read after the settings above (validating it starts jsii). Tests
# take the environments from it, never from a list of their own, so a new
# config/environments/<name>.yaml needs no test edit, only its stack's snapshot.
CONFIG = load_config(ROOT)
ENVIRONMENTS = tuple(sorted(CONFIG.environments))
# Every stack main.py builds, in deploy order: the layers, then one platform stack per environment.
PLATFORM_STACKS = tuple(f"platform-{env}" for env in ENVIRONMENTS)
STACK_NAMES = ("cluster", "layer_1", "layer_2", *PLATFORM_STACKS)
# The environments that run the legacy platform (config/environments/<env>.yaml: legacy).
LEGACY_ENVIRONMENTS = tuple(env for env in ENVIRONMENTS if CONFIG.environments[env].legacy)


def public_host(env: str, prefix: str | None = None) -> str:
    """Where ``env`` serves ``prefix``, as its environment file says: an environment without a
    subdomain (production) at the cluster hostname itself, any other at
    ``<subdomain>.<hostname>``; ``prefix`` (``api``, ...) goes in front."""
    hostname = CONFIG.cluster.hostname
    subdomain = CONFIG.environments[env].subdomain
    base = f"{subdomain}.{hostname}" if subdomain else hostname
    return f"{prefix}.{base}" if prefix else base


# A node as config/cluster.yaml lists one, for the tests that add one (scaling, a new
# environment).
WORKER = {"name": "sprocket-worker-9", "role": "worker", "size": "s-4vcpu-8gb"}


def add_worker(config: Path) -> None:
    """``WORKER`` appended to the nodes of the cluster.yaml under ``config``."""
    import yaml

    path = config / "cluster.yaml"
    data = yaml.safe_load(path.read_text())
    data["swarm"]["nodes"].append(WORKER)
    path.write_text(yaml.safe_dump(data))


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """cdktf.out of the shipped configuration, synthesized once."""
    import main

    outdir = tmp_path_factory.mktemp("cdktf.out")
    main.build(ROOT, outdir=str(outdir)).synth()
    return outdir


@pytest.fixture(scope="session")
def stacks(synth_dir: Path) -> dict[str, dict]:
    """Every stack of the session's synthesis, parsed, keyed by stack name."""
    return {
        d.name: json.loads((d / "cdk.tf.json").read_text())
        for d in sorted((synth_dir / "stacks").iterdir())
    }


@pytest.fixture(scope="session")
def layer_1(stacks: dict[str, dict]) -> dict:
    return stacks["layer_1"]


def digest_pinned(document: dict, image: str) -> str:
    """The configured reference of a service ``image`` pinned at plan time,
    ``<reference>@${data.docker_registry_image.<id>.sha256_digest}``, where the data source
    looks up that same reference; fails the test for anything else."""
    import re

    found = re.fullmatch(
        r"([^@$]+)@\$\{data\.docker_registry_image\.([\w-]+)\.sha256_digest\}", image
    )
    assert found, f"{image!r} is not pinned to a digest read at plan time"
    reference, lookup = found.groups()
    assert document["data"]["docker_registry_image"][lookup]["name"] == reference, image
    return reference


def resources(document: dict, kind: str) -> dict[str, dict]:
    return document.get("resource", {}).get(kind, {})


def services(document: dict) -> dict[str, dict]:
    """docker_service resources keyed by Swarm service name."""
    return {r["name"]: r for r in resources(document, "docker_service").values()}


def service_labels(service: dict) -> dict[str, str]:
    return {item["label"]: item["value"] for item in service.get("labels", [])}


def network_names(document: dict) -> dict[str, str]:
    """Map "${docker_network.<id>.id}" to the network's Docker name."""
    return {
        f"${{docker_network.{rid}.id}}": r["name"]
        for rid, r in resources(document, "docker_network").items()
    }


def service_networks(document: dict, service: dict) -> set[str]:
    names = network_names(document)
    return {names[n["name"]] for n in service["task_spec"].get("networks_advanced", [])}


def flatten(document: Mapping, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], object]:
    """Every leaf of nested mappings, keyed by its path of keys; a list is a leaf."""
    flat: dict[tuple[str, ...], object] = {}
    for key, value in document.items():
        path = (*prefix, str(key))
        if isinstance(value, Mapping):
            flat.update(flatten(value, path))
        else:
            flat[path] = value
    return flat


def config_content(document: dict, service: dict, target: str) -> str:
    """Decoded content of the Swarm config mounted at ``target`` in ``service``."""
    for mount in service["task_spec"]["container_spec"].get("configs", []):
        if mount["file_name"] == target:
            rid = mount["config_id"].split(".")[1]
            return base64.b64decode(resources(document, "docker_config")[rid]["data"]).decode()
    raise AssertionError(f"no config mounted at {target}")


@pytest.fixture
def synth_stack(tmp_path: Path) -> Callable[[Callable], dict]:
    """Build a throwaway stack with ``build(stack)`` and return its parsed JSON."""
    from cdktf import TerraformStack
    from cdktf import Testing as CdktfTesting

    def run(build: Callable) -> dict:
        # An outdir of the test's own: Testing.app() otherwise leaves a cdktf.outdir.* behind.
        app = CdktfTesting.app(outdir=str(tmp_path))
        stack = TerraformStack(app, "test")
        build(stack)
        return json.loads(CdktfTesting.synth(stack))

    return run


@pytest.fixture
def stack(tmp_path: Path) -> Iterator:
    """A bare stack for constructing (and failing to construct) constructs."""
    from cdktf import TerraformStack
    from cdktf import Testing as CdktfTesting

    yield TerraformStack(CdktfTesting.app(outdir=str(tmp_path)), "test")


@pytest.fixture(scope="session")
def layer_2(stacks: dict[str, dict]) -> dict:
    return stacks["layer_2"]


_REMOTE_NETWORK = re.compile(
    r"^\$\{data\.terraform_remote_state\.cross-stack-reference-input-(?P<stack>[\w-]+)"
    r"\.outputs\.cross-stack-output-docker_network(?P<rid>\w+)id\}$"
)


def networks_of(document: dict, service: dict, stacks: Mapping[str, dict]) -> set[str]:
    """Docker names of a service's networks; a reference into an earlier stack's remote state
    is looked up in that stack's document in ``stacks``."""
    local = network_names(document)
    names = set()
    for network in service["task_spec"].get("networks_advanced", []):
        ref = network["name"]
        if ref in local:
            names.add(local[ref])
            continue
        match = _REMOTE_NETWORK.match(ref)
        assert match, f"unresolvable network reference {ref}"
        owner = stacks[match["stack"]]
        names.add(resources(owner, "docker_network")[match["rid"]]["name"])
    return names


_FORMAT_CALL = re.compile(r'format\("((?:[^"\\]|\\.)*)", ([\w.\[\]"-]+)\)')
_STRING = re.compile(r'("(?:[^"\\]|\\.)*")')
_REFERENCE = re.compile(r"\b(?:data\.)?[a-z_]+\.[\w-]+(?:\.[\w-]+|\[\w+\])+")


def decode_json_secret(expression: str, stand_in: str | Callable[[str], str] = "<secret>") -> dict:
    """The document inside a synthesized ``${base64encode(jsonencode({...}))}`` secret, with
    every Terraform expression in it (``format("...%s...", random_password.x.result)``, a bare
    reference) replaced by ``stand_in`` (formatted into the surrounding text for ``format``).
    ``stand_in`` may be a function of the reference, e.g. one password per resource."""
    value = stand_in if callable(stand_in) else (lambda reference: stand_in)
    match = re.fullmatch(r"\$\{base64encode\(jsonencode\((.*)\)\)\}", expression, re.S)
    assert match, f"not a JSON secret: {expression[:80]}"
    body = _FORMAT_CALL.sub(
        lambda m: json.dumps(json.loads(f'"{m[1]}"').replace("%s", value(m[2]))), match[1]
    )
    # References appear only outside string literals.
    parts = _STRING.split(body)
    body = "".join(
        part if i % 2 else _REFERENCE.sub(lambda m: json.dumps(value(m[0])), part)
        for i, part in enumerate(parts)
    )
    # HCL object syntax ("key" = value) to JSON ("key": value); no value here contains " = ".
    return json.loads(body.replace('" = ', '": '))


def mounted_secret(document: dict, service: dict, target: str) -> tuple[dict, dict]:
    """(the service's secret mount at ``target``, the docker_secret resource it mounts)."""
    for mount in service["task_spec"]["container_spec"].get("secrets", []):
        if mount["file_name"] == target:
            rid = mount["secret_id"].split(".")[1]
            return mount, resources(document, "docker_secret")[rid]
    raise AssertionError(f"no secret mounted at {target}")


def mounted_secret_document(document: dict, service: dict, target: str) -> dict:
    """The JSON document of the Swarm secret mounted at ``target`` in ``service``."""
    return decode_json_secret(mounted_secret(document, service, target)[1]["data"])


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config._sprocket_started = time.time()


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    """The rehearsal's deviations from production and its timings, when it ran."""
    from tests.e2e.conftest import rehearsal_report

    report = rehearsal_report(config)
    started = getattr(config, "_sprocket_started", None)
    if started is not None and report.exists() and report.stat().st_mtime >= started:
        terminalreporter.section("real Docker engine rehearsal")
        terminalreporter.write(report.read_text())
