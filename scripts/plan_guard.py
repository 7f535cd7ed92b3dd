"""Refuse synthesized stacks that could run code or reach elsewhere when Terraform plans them.

The plan workflow synthesizes a pull request's code without any secret, then a trusted job
plans the uploaded ``cdk.tf.json`` files with credentials. Terraform runs code while planning
only through what a configuration names: providers it downloads (any registry source),
provisioners (``local-exec`` and ``remote-exec`` run commands; they run at apply, but are
refused all the same), the ``external`` data source (runs a program at plan), modules (fetched
from anywhere), and the backend (where state is read from and written to); and a provider
block pointed at another endpoint, Vault or registry would hand that endpoint the job's
credentials. So every stack must use only the pinned providers, their blocks exactly as the
stacks write them, the data sources listed here, no provisioner, no module, and the state
bucket the configuration names; anything else is refused, every problem at once.

    python scripts/plan_guard.py cdktf.out/stacks/*/cdk.tf.json   # exit 0, or 1 and the problems
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Provider source -> version the stacks pin. Nothing else may be installed by a plan.
PROVIDERS = {
    "kreuzwerker/docker": "3.9.0",
    "digitalocean/digitalocean": "2.71.0",
    "hashicorp/vault": "5.6.0",
    "hashicorp/random": "3.7.2",
}
# Data sources a plan may read: none of them runs a program or fetches an arbitrary URL.
DATA_SOURCES = {
    "digitalocean_database_ca",
    "digitalocean_database_cluster",
    "digitalocean_droplet",
    "docker_registry_image",
    "terraform_remote_state",
    "vault_kv_secret_v2",
}
# Top-level keys of a Terraform JSON configuration the stacks use.
TOP_LEVEL = {"//", "data", "locals", "output", "provider", "resource", "terraform", "variable"}
# Terraform settings the stacks use; anything else (cloud, provider_meta...) is refused.
TERRAFORM_SETTINGS = {"backend", "required_providers", "required_version"}


def expected_providers(config) -> dict:
    """What each provider block holds as the stacks write it (constructs_lib/providers.py)."""
    registry = config.applications.registry
    docker_with_login = {
        "registry_auth": [
            {
                "address": registry.address,
                "password": "${var.registry_password}",
                "username": registry.username,
            }
        ]
    }
    vault = {"address": f"https://{config.cluster.host('vault')}", "skip_child_token": True}
    return {"digitalocean": {}, "random": {}, "vault": vault, "docker": ({}, docker_with_login)}


def problems_in(name: str, document: dict, *, bucket: str, providers: dict) -> list[str]:
    problems = [f"{name}: {key!r} is not allowed" for key in document if key not in TOP_LEVEL]
    for kind, blocks in document.get("provider", {}).items():
        allowed = providers.get(kind)
        options = allowed if isinstance(allowed, tuple) else (allowed,)
        for block in blocks:
            if allowed is None or block not in options:
                problems.append(
                    f"{name}: provider {kind} {json.dumps(block, sort_keys=True)} is not one the "
                    "stacks write (a provider pointed elsewhere would get the plan's credentials)"
                )
    if "module" in document:
        problems.append(f"{name}: modules are not allowed")
    terraform = document.get("terraform", {})
    problems += [
        f"{name}: terraform.{key} is not allowed"
        for key in terraform
        if key not in TERRAFORM_SETTINGS
    ]
    for key, required in terraform.get("required_providers", {}).items():
        source, version = required.get("source"), required.get("version")
        if PROVIDERS.get(source) != version:
            problems.append(
                f"{name}: provider {key} = {source} {version}: allowed are "
                + ", ".join(f"{s} {v}" for s, v in sorted(PROVIDERS.items()))
            )
    backend = terraform.get("backend", {})
    if list(backend) != ["s3"] or backend["s3"].get("bucket") != bucket:
        problems.append(f"{name}: the backend must be s3 in the state bucket {bucket!r}")
    for kind, blocks in document.get("resource", {}).items():
        for block_name, block in blocks.items():
            if "provisioner" in block or "connection" in block:
                problems.append(f"{name}: resource {kind}.{block_name} has a provisioner")
    for kind in document.get("data", {}):
        if kind not in DATA_SOURCES:
            problems.append(
                f"{name}: data source {kind} is not allowed (allowed: {sorted(DATA_SOURCES)})"
            )
    for kind, sources in document.get("data", {}).get("terraform_remote_state", {}).items():
        if sources.get("backend") != "s3" or sources.get("config", {}).get("bucket") != bucket:
            problems.append(f"{name}: remote state {kind} must be read from {bucket!r}")
    return problems


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    from stacks.config import ConfigError, load_config

    try:
        config = load_config(ROOT)
    except ConfigError as error:
        print(f"configuration is invalid:\n{error}", file=sys.stderr)
        return 2
    if not argv:
        print("usage: plan_guard.py <cdk.tf.json>...", file=sys.stderr)
        return 2
    problems = []
    for path in map(Path, argv):
        try:
            document = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            problems.append(f"{path}: not a readable JSON file ({type(error).__name__})")
            continue
        problems += problems_in(
            path.parent.name,
            document,
            bucket=config.cluster.state.bucket,
            providers=expected_providers(config),
        )
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
