"""The nodes' cloud-init files checked by cloud-init's own schema (Debian's cloud-init 22.4,
the version Debian 12 droplets run). `make test` unpacks the package into .build/cloud-init
without installing it: installed, it would enable itself to run at this machine's next boot.

cloud-init's `schema` command does not flag unknown top-level keys (a typo in a module name
would be ignored on the node), so the check also refuses keys no module's schema names.
The worker file is rendered with envsubst first, as the runbook does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from stacks.node_bootstrap import bootstrap_files
from tests.conftest import CONFIG, ROOT

CLOUD_INIT = ROOT / ".build" / "cloud-init" / "usr" / "lib" / "python3" / "dist-packages"

CHECK = """
import json, sys, yaml
from cloudinit.config.schema import SchemaValidationError, get_schema, validate_cloudconfig_schema
schema = get_schema()
known = set(schema.get("properties", {}))
for definition in schema.get("$defs", {}).values():
    known |= set(definition.get("properties", {}))
text = sys.stdin.read()
problems = [] if text.startswith("#cloud-config\\n") else ["no #cloud-config first line"]
document = yaml.safe_load(text) or {}
problems += [f"unknown key {key!r}" for key in sorted(set(document) - known)]
try:
    validate_cloudconfig_schema(document, schema, strict=True)
except SchemaValidationError as error:
    problems.append(str(error))
print(json.dumps(problems))
"""


def problems_of(text: str) -> list[str]:
    assert CLOUD_INIT.is_dir(), "make test unpacks Debian's cloud-init into .build/cloud-init"
    result = subprocess.run(
        [sys.executable, "-c", CHECK],
        input=text,
        env={**os.environ, "PYTHONPATH": str(CLOUD_INIT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    return bootstrap_files(CONFIG.cluster)


def test_the_manager_cloud_init_is_valid(files):
    manager = files[f"{CONFIG.cluster.swarm.manager_droplet}.cloud-init.yaml"]
    assert problems_of(manager) == []


def test_the_worker_cloud_init_is_valid_once_rendered(files):
    rendered = subprocess.run(
        ["envsubst"],
        input=files["worker.cloud-init.yaml"],
        env={"MANAGER_ADDR": "10.10.0.2", "SWARM_JOIN_TOKEN": "SWMTKN-1-stand-in"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert problems_of(rendered) == []
    (join,) = [c for c in yaml.safe_load(rendered)["runcmd"] if "swarm join" in c]
    assert join == 'docker swarm join --token "SWMTKN-1-stand-in" "10.10.0.2:2377"'


def test_the_checker_refuses_what_cloud_init_would_ignore_or_reject():
    broken = "#cloud-config\npackagez: [docker.io]\nwrite_files:\n  - path: 1\nruncmd: echo\n"
    found = problems_of(broken)
    assert "unknown key 'packagez'" in found
    assert any("write_files.0.path: 1 is not of type 'string'" in p for p in found), found
    assert problems_of("packages: [docker.io]\n") == ["no #cloud-config first line"]
