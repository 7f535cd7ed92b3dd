"""The reachability matrix, derived from the synthesized (and evaluated) service specs.

**Named**: every address a service's configuration names, in its environment, its config
files and its secrets — ``host:port`` (URLs included), a JSON object with a ``host`` and a
``port``, or an ``X_HOST``/``X_PORT`` pair of variables — whose host is a rehearsed service.
Each must resolve and connect from that service's own container.

**Forbidden**, by the design (docs/architecture.md): only Traefik reaches the socket proxy,
only Telegraf the metrics socket proxy; no application reaches Vault's listener; and no
service of one environment reaches another environment's datastores. Each is tried by name
and at every address of the target's tasks, from the source's own container.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, order=True)
class Edge:
    source: str
    target: str
    port: int
    why: str = ""


def _texts(
    spec: Mapping, secret_data: Mapping[str, str], config_data: Mapping[str, str]
) -> list[str]:
    container = spec["TaskTemplate"]["ContainerSpec"]
    texts = []
    for reference in container.get("Secrets", []):
        texts.append(secret_data.get(reference["SecretID"], ""))
    for reference in container.get("Configs", []):
        texts.append(config_data.get(reference["ConfigID"], ""))
    return [_decode(t) for t in texts if t]


def _decode(data: str) -> str:
    try:
        return base64.b64decode(data).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""


def _json_pairs(value: Any) -> Iterable[tuple[str, int]]:
    if isinstance(value, dict):
        host, port = value.get("host"), value.get("port")
        if isinstance(host, str) and isinstance(port, int):
            yield host, port
        for item in value.values():
            yield from _json_pairs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _json_pairs(item)


def named_edges(
    specs: Mapping[str, Mapping],
    secret_data: Mapping[str, str],
    config_data: Mapping[str, str],
) -> set[Edge]:
    """Every (service, service it names, port) of the rehearsed specs, by service name."""
    names = sorted(specs, key=len, reverse=True)
    host_port = re.compile(r"(?<![\w.-])(" + "|".join(map(re.escape, names)) + r"):(\d+)\b")
    edges = set()
    for source, spec in specs.items():
        container = spec["TaskTemplate"]["ContainerSpec"]
        env = dict(item.split("=", 1) for item in container.get("Env", []))
        texts = [*env.values(), *_texts(spec, secret_data, config_data)]
        for text in texts:
            for match in host_port.finditer(text):
                edges.add(Edge(source, match[1], int(match[2]), "host:port"))
            try:
                document = json.loads(text)
            except ValueError:
                continue
            for host, port in _json_pairs(document):
                if host in specs:
                    edges.add(Edge(source, host, port, "host/port in JSON"))
        for key, host in env.items():
            if key.endswith("_HOST") and host in specs:
                port = env.get(key.removesuffix("_HOST") + "_PORT", "")
                if port.isdigit():
                    edges.add(Edge(source, host, int(port), f"{key}/_PORT"))
    return {e for e in edges if e.source != e.target}


def forbidden_edges(
    specs: Mapping[str, Mapping],
    *,
    traefik: str,
    socket_proxy: str,
    telegraf: str,
    metrics_socket_proxy: str,
    vault: str,
    applications: Iterable[str],
    datastores_by_environment: Mapping[str, Iterable[tuple[str, int]]],
    environment_of: Mapping[str, str],
) -> set[Edge]:
    edges = set()
    for source in specs:
        if source not in (traefik, socket_proxy):
            edges.add(Edge(source, socket_proxy, 2375, "only Traefik reaches the socket proxy"))
        if source not in (telegraf, metrics_socket_proxy) and metrics_socket_proxy in specs:
            edges.add(Edge(source, metrics_socket_proxy, 2375, "only Telegraf reaches its proxy"))
    for application in applications:
        edges.add(Edge(application, vault, 8200, "no application reaches Vault's listener"))
    for source, environment in environment_of.items():
        for other, datastores in datastores_by_environment.items():
            if other == environment:
                continue
            for target, port in datastores:
                edges.add(
                    Edge(source, target, port, f"{environment} never reaches {other}'s datastores")
                )
    return {e for e in edges if e.source in specs and e.target in specs and e.source != e.target}
