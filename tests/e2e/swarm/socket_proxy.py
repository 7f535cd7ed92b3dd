"""The socket proxy image of the rehearsal: Debian's HAProxy with a configuration written here.

tecnativa/docker-socket-proxy is HAProxy in front of the Docker socket, configured by one
environment variable per Engine API section: ``1`` lets ``GET``/``HEAD`` requests to that
section through, ``POST=1`` lets the other methods through as well, and everything else is
refused with 403 (its README, "Grant or revoke access to certain API sections"; ``PING``,
``VERSION`` and ``EVENTS`` default to ``1``). The image's own HAProxy configuration is not
copied here; this entrypoint writes one with the same documented rules from the container's
environment at start, so the synthesized variables decide, for real, what Traefik and Telegraf
may ask the real engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.e2e.swarm.images import RootFs

HAPROXY = "/usr/sbin/haproxy"
# Section variable -> the Engine API path prefix it opens (after an optional /v1.xx).
SECTIONS = {
    "AUTH": "auth",
    "BUILD": "build",
    "COMMIT": "commit",
    "CONFIGS": "configs",
    "CONTAINERS": "containers",
    "DISTRIBUTION": "distribution",
    "EVENTS": "events",
    "EXEC": "exec",
    "GRPC": "grpc",
    "IMAGES": "images",
    "INFO": "info",
    "NETWORKS": "networks",
    "NODES": "nodes",
    "PING": "_ping",
    "PLUGINS": "plugins",
    "SECRETS": "secrets",
    "SERVICES": "services",
    "SESSION": "session",
    "SWARM": "swarm",
    "SYSTEM": "system",
    "TASKS": "tasks",
    "VERSION": "version",
    "VOLUMES": "volumes",
}
DEFAULT_ON = ("EVENTS", "PING", "VERSION")

ENTRYPOINT = r"""#!/bin/sh
# Stand-in configuration for the socket proxy (tests/e2e/swarm/socket_proxy.py), from the
# environment, then the real HAProxy in the foreground.
set -eu
cfg=/tmp/haproxy.cfg
cat > "$cfg" <<EOF
global
  log stdout format raw local0 ${LOG_LEVEL:-info}
defaults
  mode http
  log global
  option httplog
  timeout connect 10s
  timeout client 10m
  timeout server 10m
backend dockerbackend
  server dockersocket /var/run/docker.sock
frontend dockerfrontend
  bind :2375
  http-request deny unless METH_GET || { env(POST) -m str 1 }
EOF
for pair in @SECTIONS@; do
  name="${pair%%=*}"; prefix="${pair#*=}"
  eval "value=\${$name:-@DEFAULT_$name@}"
  if [ "$value" = 1 ]; then
    echo "  http-request allow if { path,url_dec -m reg -i ^(/v[0-9.]+)?/$prefix }" >> "$cfg"
  fi
done
echo "  http-request deny" >> "$cfg"
echo "  default_backend dockerbackend" >> "$cfg"
exec haproxy -W -db -f "$cfg"
"""


def entrypoint_script() -> str:
    script = ENTRYPOINT.replace("@SECTIONS@", " ".join(f"{k}={v}" for k, v in SECTIONS.items()))
    for name in SECTIONS:
        script = script.replace(f"@DEFAULT_{name}@", "1" if name in DEFAULT_ON else "0")
    return script


def install(rootfs: RootFs) -> list[str]:
    rootfs.copy(HAPROXY, "/usr/local/sbin/haproxy")
    rootfs.write("/usr/local/bin/docker-entrypoint.sh", entrypoint_script(), 0o755)
    return [
        'ENTRYPOINT ["docker-entrypoint.sh"]',
        "ENV PATH=/usr/local/bin:/usr/local/sbin:/bin",
    ]
