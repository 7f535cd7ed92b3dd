"""The synthesized redis.conf, loaded by a real redis-server on loopback.

Proves what the architecture asks of Redis with the real program: the config file is
actually loaded, a password is required (from the included secret file, rendered the way
the synthesized Swarm secret renders it), RDB snapshots and the append-only file are on,
and the service's own healthcheck command succeeds against it.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import config_content, resources, services

REDIS_SERVER = shutil.which("redis-server")
REDIS_CLI = shutil.which("redis-cli")
PASSWORD = "e2e" + "x" * 37  # a throwaway value, shaped like the generated 40 characters
START_TIMEOUT = 15


def loopback_config(conf: str, *, port: int, data_dir: Path, auth_file: Path) -> str:
    """The synthesized redis.conf adapted for this machine, and nothing else:
    - ``bind`` -> 127.0.0.1 (the container listens on its overlay networks);
    - ``port`` -> a free port;
    - ``dir`` -> a temporary directory (the container's volume);
    - ``include`` of the Swarm secret -> the same content written to a temporary file.
    """
    replacements = {
        r"^bind .*$": "bind 127.0.0.1",
        r"^port \d+$": f"port {port}",
        r"^dir .*$": f"dir {data_dir}",
        r"^include /run/secrets/redis-auth\.conf$": f"include {auth_file}",
    }
    for pattern, replacement in replacements.items():
        conf, count = re.subn(pattern, replacement, conf, flags=re.M)
        assert count == 1, f"expected one line matching {pattern!r}"
    return conf


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def redis_service(stacks) -> dict:
    return services(stacks["layer_2"])["redis"]


@pytest.fixture(scope="module")
def redis(stacks, redis_service, tmp_path_factory) -> Iterator[dict]:
    assert REDIS_SERVER and REDIS_CLI, "redis-server is installed by `make test` (Debian package)"
    layer_2 = stacks["layer_2"]
    workdir = tmp_path_factory.mktemp("redis")
    # The password file as the synthesized secret renders it: format(<template>, password).
    data = resources(layer_2, "docker_secret")["redis_auth_secret"]["data"]
    template = re.search(r'format\("(.*?)", random_password', data).group(1)
    auth_file = workdir / "redis-auth.conf"
    auth_file.write_text(template.encode().decode("unicode_escape").replace("%s", PASSWORD))
    (workdir / "data").mkdir()
    port = free_port()
    conf_path = workdir / "redis.conf"
    conf = config_content(layer_2, redis_service, "/usr/local/etc/redis/redis.conf")
    conf_path.write_text(
        loopback_config(conf, port=port, data_dir=workdir / "data", auth_file=auth_file)
    )
    log = (workdir / "redis.log").open("wb")
    process = subprocess.Popen([REDIS_SERVER, str(conf_path)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert process.poll() is None, (workdir / "redis.log").read_text()
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        yield {"port": port, "workdir": workdir}
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def cli(redis: dict, *args: str, password: str | None = PASSWORD) -> str:
    env = {k: v for k, v in os.environ.items() if k != "REDISCLI_AUTH"}
    if password is not None:
        env["REDISCLI_AUTH"] = password
    result = subprocess.run(
        [REDIS_CLI, "-h", "127.0.0.1", "-p", str(redis["port"]), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=10,
    )
    return (result.stdout + result.stderr).strip()


def test_the_service_runs_redis_with_its_config_file(redis_service):
    spec = redis_service["task_spec"]["container_spec"]
    assert spec["command"] == ["redis-server", "/usr/local/etc/redis/redis.conf"]


def test_a_password_is_required(redis):
    assert "NOAUTH" in cli(redis, "PING", password=None)
    assert "WRONGPASS" in cli(redis, "PING", password="not-the-password")
    assert cli(redis, "PING") == "PONG"


def test_rdb_snapshots_and_the_append_only_file_are_on(redis):
    assert cli(redis, "CONFIG", "GET", "appendonly").splitlines() == ["appendonly", "yes"]
    assert cli(redis, "CONFIG", "GET", "save").splitlines() == ["save", "900 1 300 10 60 10000"]
    assert cli(redis, "SET", "k", "v") == "OK"
    assert any(p.name.startswith("appendonly") for p in (redis["workdir"] / "data").iterdir())


def test_memory_is_capped_below_the_service_limit_without_eviction(redis, redis_service):
    limit = redis_service["task_spec"]["resources"]["limits"]["memory_bytes"]
    maxmemory = int(cli(redis, "CONFIG", "GET", "maxmemory").splitlines()[1])
    assert 0 < maxmemory < limit
    assert cli(redis, "CONFIG", "GET", "maxmemory-policy").splitlines()[1] == "noeviction"


def test_the_services_healthcheck_passes(redis, redis_service):
    (shell, command) = redis_service["task_spec"]["container_spec"]["healthcheck"]["test"]
    assert shell == "CMD-SHELL"
    secret = redis["workdir"] / "redis-password"
    secret.write_text(PASSWORD)
    local = command.replace("/run/secrets/redis-password", str(secret)).replace(
        "redis-cli ping", f"{REDIS_CLI} -h 127.0.0.1 -p {redis['port']} ping"
    )
    assert subprocess.run(["sh", "-c", local], timeout=10).returncode == 0
    # ...and it fails when the password is wrong, so it is really checking.
    secret.write_text("wrong")
    assert subprocess.run(["sh", "-c", local], timeout=10).returncode != 0
