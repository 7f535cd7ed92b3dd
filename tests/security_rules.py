"""The security policy, as rules over a parsed cdk.tf.json.

Each rule takes one synthesized stack and returns its violations (empty when the
stack complies), one self-contained sentence each. ``tests/test_security_policy.py``
applies every rule to every stack and shows each rule catching a broken input.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable

import yaml

from constructs_lib.validation import image_problem
from stacks.config.redaction import secret_shape
from tests.conftest import CONFIG

Rule = Callable[[dict], list[str]]
ANYWHERE = {"0.0.0.0/0", "::/0"}
PUBLIC_PORTS = {"80", "443"}
# The deploy tunnel (WireGuard): the one UDP port open to the Internet.
TUNNEL_PORT = CONFIG.cluster.deploy_tunnel.port
SECRET_PATTERNS = re.compile(
    r"dop_v1_[0-9a-f]{20,}|AKIA[0-9A-Z]{16}|hvs\.[A-Za-z0-9_-]{20,}|-----BEGIN [A-Z ]*PRIVATE KEY"
    r"|discord(app)?\.com/api/webhooks/\d+/|xox[bp]-[0-9A-Za-z-]+"
)
EXPRESSION = re.compile(r"^\$\{.+\}$", re.S)
SOCKET_PROXY_IMAGE = "tecnativa/docker-socket-proxy:"


def _resources(doc: dict, kind: str) -> dict[str, dict]:
    return doc.get("resource", {}).get(kind, {})


def _services(doc: dict) -> dict[str, dict]:
    return {s["name"]: s for s in _resources(doc, "docker_service").values()}


def no_literal_secrets(doc: dict) -> list[str]:
    problems = [
        f"docker_secret.{rid}: data is a literal, not a Terraform expression"
        for rid, secret in _resources(doc, "docker_secret").items()
        if not EXPRESSION.match(secret.get("data", ""))
    ]
    problems += [
        f"vault_kv_secret_v2.{rid}: data_json is a literal"
        for rid, kv in _resources(doc, "vault_kv_secret_v2").items()
        if not EXPRESSION.match(kv.get("data_json", ""))
    ]
    if match := SECRET_PATTERNS.search(json.dumps(doc)):
        problems.append(f"a credential-shaped string appears: {match.group(0)[:12]}...")
    # Inside base64 payloads too (Swarm configs, literal secret data), where the plain
    # search above cannot see.
    for where, text in _decoded_payloads(doc):
        if SECRET_PATTERNS.search(text) or secret_shape(text):
            problems.append(f"{where}: a base64 payload holds a credential-shaped string")
    return problems


_BASE64 = re.compile(r"^(?:[A-Za-z0-9+/]{4}){4,}(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$")


def _decoded_payloads(value, where: str = "") -> list[tuple[str, str]]:
    """(path, decoded text) of every string in ``value`` that is base64 of UTF-8 text."""
    import base64
    import binascii

    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _decoded_payloads(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _decoded_payloads(item, f"{where}[{index}]")
    elif isinstance(value, str) and _BASE64.match(value):
        with contextlib.suppress(binascii.Error, UnicodeDecodeError):
            found.append((where, base64.b64decode(value, validate=True).decode()))
    return found


def only_web_ports_public(doc: dict) -> list[str]:
    problems = []
    for rid, fw in _resources(doc, "digitalocean_firewall").items():
        for rule in fw.get("inbound_rule", []):
            opened = (rule.get("protocol"), rule.get("port_range"))
            if set(rule.get("source_addresses", [])) & ANYWHERE and opened not in {
                *(("tcp", port) for port in PUBLIC_PORTS),
                ("udp", str(TUNNEL_PORT)),
            }:
                problems.append(
                    f"digitalocean_firewall.{rid}: {rule.get('protocol')} "
                    f"{rule.get('port_range')} is open to the internet"
                )
    for name, service in _services(doc).items():
        for port in service.get("endpoint_spec", {}).get("ports", []):
            if str(port.get("published_port")) not in PUBLIC_PORTS:
                problems.append(f"service {name}: publishes port {port.get('published_port')}")
    return problems


def ssh_only_from_admins(doc: dict) -> list[str]:
    return [
        f"digitalocean_firewall.{rid}: SSH open to {sorted(set(rule['source_addresses']))}"
        for rid, fw in _resources(doc, "digitalocean_firewall").items()
        for rule in fw.get("inbound_rule", [])
        if rule.get("port_range") in ("22", "1-65535", "all")
        and set(rule.get("source_addresses", [])) & ANYWHERE
    ]


def docker_socket_only_in_proxies(doc: dict) -> list[str]:
    problems = []
    for name, service in _services(doc).items():
        spec = service["task_spec"]["container_spec"]
        for mount in spec.get("mounts", []):
            if "docker.sock" not in mount.get("source", ""):
                continue
            if not spec["image"].startswith(SOCKET_PROXY_IMAGE):
                problems.append(f"service {name}: mounts the Docker socket")
            if mount.get("read_only") is not True:
                problems.append(f"service {name}: mounts the Docker socket writable")
    return problems


def images_pinned(doc: dict) -> list[str]:
    problems = []
    for name, service in _services(doc).items():
        image = service["task_spec"]["container_spec"]["image"]
        if "${" in image:
            # Resolved at plan time: must end in a digest lookup.
            if not re.search(r"@\$\{data\.docker_registry_image\.[\w-]+\.sha256_digest\}$", image):
                problems.append(f"service {name}: image {image!r} is not pinned by digest")
        elif problem := image_problem(image):
            problems.append(f"service {name}: image {image!r} {problem}")
    return problems


def limits_restarts_and_rollback(doc: dict) -> list[str]:
    problems = []
    for name, service in _services(doc).items():
        task = service["task_spec"]
        limits = task.get("resources", {}).get("limits", {})
        if not limits.get("memory_bytes") or not limits.get("nano_cpus"):
            problems.append(f"service {name}: no memory or CPU limit")
        restart = task.get("restart_policy", {})
        if restart.get("condition") != "any" or restart.get("max_attempts", 0) != 0:
            problems.append(f"service {name}: restarts can give up ({restart})")
        if service.get("update_config", {}).get("failure_action") != "rollback":
            problems.append(f"service {name}: a failed update does not roll back")
        if "rollback_config" not in service:
            problems.append(f"service {name}: no rollback configuration")
    return problems


def stateful_services_stop_first(doc: dict) -> list[str]:
    return [
        f"service {name}: has a volume but updates {service['update_config'].get('order')}"
        for name, service in _services(doc).items()
        if any(
            m.get("type") == "volume"
            for m in service["task_spec"]["container_spec"].get("mounts", [])
        )
        and service.get("update_config", {}).get("order") != "stop-first"
    ]


def secret_files_private(doc: dict) -> list[str]:
    return [
        f"service {name}: secret {s['file_name']} has mode {oct(s.get('file_mode', 0o444))}"
        for name, service in _services(doc).items()
        for s in service["task_spec"]["container_spec"].get("secrets", [])
        if s.get("file_mode") not in (0o400, 0o440)
    ]


SENSITIVE_VALUE = re.compile(r"vault_token\.|random_password\.|secret_key|\.password|client_token")


def sensitive_outputs_marked(doc: dict) -> list[str]:
    problems = [
        f"output {name}: carries a secret but is not marked sensitive"
        for name, output in doc.get("output", {}).items()
        if SENSITIVE_VALUE.search(str(output.get("value"))) and output.get("sensitive") is not True
    ]
    problems += [
        f"variable {name}: is not marked sensitive"
        for name, variable in doc.get("variable", {}).items()
        if variable.get("sensitive") is not True
    ]
    return problems


def traefik_never_insecure(doc: dict) -> list[str]:
    import base64

    problems = []
    for rid, config in _resources(doc, "docker_config").items():
        try:
            document = yaml.safe_load(base64.b64decode(config.get("data", "")).decode())
        except (ValueError, yaml.YAMLError):
            continue
        if isinstance(document, dict) and "entryPoints" in document:
            if document.get("api", {}).get("insecure") is not False:
                problems.append(f"docker_config.{rid}: Traefik's api.insecure is not false")
            web = document["entryPoints"].get("web", {})
            if "redirections" not in web.get("http", {}):
                problems.append(f"docker_config.{rid}: plain HTTP is not redirected to HTTPS")
    for name, service in _services(doc).items():
        args = " ".join(service["task_spec"]["container_spec"].get("args", []) or [])
        if "api.insecure" in args:
            problems.append(f"service {name}: sets api.insecure on the command line")
    return problems


def buckets_private_and_versioned(doc: dict) -> list[str]:
    return [
        f"digitalocean_spaces_bucket.{rid}: {problem}"
        for rid, bucket in _resources(doc, "digitalocean_spaces_bucket").items()
        for problem in (["is not private"] if bucket.get("acl") != "private" else [])
        + (["is not versioned"] if bucket.get("versioning", {}).get("enabled") is not True else [])
    ]


RULES: dict[str, Rule] = {
    rule.__name__: rule
    for rule in (
        no_literal_secrets,
        only_web_ports_public,
        ssh_only_from_admins,
        docker_socket_only_in_proxies,
        images_pinned,
        limits_restarts_and_rollback,
        stateful_services_stop_first,
        secret_files_private,
        sensitive_outputs_marked,
        traefik_never_insecure,
        buckets_private_and_versioned,
    )
}
