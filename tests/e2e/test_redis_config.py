"""Each environment's synthesized Redis, loaded by a real redis-server on loopback.

Every ``platform-<env>`` stack runs its own ``<env>-redis``; each test runs once per
environment. Debian's redis-server loads the synthesized redis.conf and the password file
rendered the way the synthesized Swarm secret renders it, and the tests prove with the real
program: a password is required, RDB snapshots and the append-only file are on, memory is
capped without eviction, the service's own healthcheck succeeds, and the plain commands the
applications send work (SprocketBot/sprocket at 46d2b40357a82e892ee0f3ec2ea969d25d0d6da4).

RedisJSON (``json.set``, ``json.get``, ``json.arrappend``: common/src/redis/redis.service.ts:42-107)
is a document check, not a run: Debian's redis-server has no JSON module. The module comes
from the official Redis 8 image, whose entrypoint appends ``--loadmodule`` for every
``/usr/local/lib/redis/modules/*.so`` when its first argument is ``redis-server``
(redis/docker-library-redis, release/8.0 at 3e867f9a, debian/docker-entrypoint.sh:24-56).
So the tests check that the service uses that image and passes ``args`` (which keep the
entrypoint) rather than ``command`` (which replaces it), and that the config loads no module
itself: a module loaded twice aborts the server (redis/redis#14178).
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

from tests.conftest import config_content, mounted_secret, services
from tests.e2e.openbao import free_port

REDIS_SERVER = shutil.which("redis-server")
REDIS_CLI = shutil.which("redis-cli")
PASSWORD = "e2e" + "x" * 37  # a throwaway value, shaped like the generated 40 characters
START_TIMEOUT = 15
CONF = "/usr/local/etc/redis/redis.conf"
AUTH_INCLUDE = "/run/secrets/redis-auth.conf"
# The official image's redis user and group (docker-library-redis release/8.0
# debian/Dockerfile:5-6), which its entrypoint drops to before starting the server.
IMAGE_UID = "999"


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
        rf"^include {re.escape(AUTH_INCLUDE)}$": f"include {auth_file}",
    }
    for pattern, replacement in replacements.items():
        conf, count = re.subn(pattern, replacement, conf, flags=re.M)
        assert count == 1, f"expected one line matching {pattern!r}"
    return conf


@pytest.fixture(scope="module")
def redis_service(platform, env) -> dict:
    return services(platform)[f"{env}-redis"]


@pytest.fixture(scope="module")
def redis_conf(platform, redis_service) -> str:
    return config_content(platform, redis_service, CONF)


@pytest.fixture(scope="module")
def auth_template(platform, redis_service) -> str:
    """The auth include as the synthesized secret renders it: format(<template>, password)."""
    _, secret = mounted_secret(platform, redis_service, AUTH_INCLUDE)
    template = re.search(r'format\("(.*?)", random_password\.\w+\.result\)', secret["data"])
    assert template, secret["data"]
    return template.group(1).encode().decode("unicode_escape")


@pytest.fixture(scope="module")
def redis(redis_conf, auth_template, tmp_path_factory) -> Iterator[dict]:
    assert REDIS_SERVER and REDIS_CLI, "redis-server is installed by `make test` (Debian package)"
    workdir = tmp_path_factory.mktemp("redis")
    auth_file = workdir / "redis-auth.conf"
    auth_file.write_text(auth_template.replace("%s", PASSWORD))
    (workdir / "data").mkdir()
    port = free_port()
    conf_path = workdir / "redis.conf"
    conf_path.write_text(
        loopback_config(redis_conf, port=port, data_dir=workdir / "data", auth_file=auth_file)
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


def cli(redis: dict, *args: str, password: str | None = PASSWORD, db: int = 0) -> str:
    """One redis-cli command (``-n`` sends SELECT first, as a client configured with ``db``)."""
    env = {k: v for k, v in os.environ.items() if k != "REDISCLI_AUTH"}
    if password is not None:
        env["REDISCLI_AUTH"] = password
    result = subprocess.run(
        [REDIS_CLI, "-h", "127.0.0.1", "-p", str(redis["port"]), "-n", str(db), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=10,
    )
    return (result.stdout + result.stderr).strip()


def test_the_service_passes_its_config_file_to_the_images_entrypoint(redis_service):
    spec = redis_service["task_spec"]["container_spec"]
    assert spec["args"] == ["redis-server", CONF]
    # A command would replace the entrypoint (and with it the modules and the user switch).
    assert "command" not in spec


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


def test_its_secret_files_belong_to_the_images_redis_user_only(redis_service):
    # GIVEN the secrets the service mounts (the auth include and the healthcheck's password)
    mounts = redis_service["task_spec"]["container_spec"]["secrets"]
    # THEN each is readable by uid/gid 999 alone, the user the entrypoint drops to
    assert {m["file_name"] for m in mounts} == {AUTH_INCLUDE, "/run/secrets/redis-password"}
    for mount in mounts:
        assert (mount["file_uid"], mount["file_gid"], mount["file_mode"]) == (
            IMAGE_UID,
            IMAGE_UID,
            0o400,
        ), mount["file_name"]


def test_keys_under_the_environments_prefix_are_stored_and_read_back(redis, env):
    # GIVEN a key as matchmaking names its scrims: "<redis.prefix>:scrim:<id>"
    # (microservices/matchmaking-service/src/scrim/scrim-crud/scrim-crud.service.ts:21)
    key = f"{env}:scrim:e2e-1"
    # WHEN it is written with SET and read with GET (common/src/redis/redis.service.ts:83-96)
    assert cli(redis, "SET", key, '{"id":"e2e-1"}') == "OK"
    # THEN the value comes back
    assert cli(redis, "GET", key) == '{"id":"e2e-1"}'


def test_a_bull_job_moves_from_wait_to_active(redis, env):
    # GIVEN a job id pushed to a Bull queue's wait list by a Lua script, as Bull's addJob does,
    # under core's Bull prefix "<redis.prefix>:bull" (core/src/app.module.ts:75-77)
    wait, active = f"{env}:bull:scrim:wait", f"{env}:bull:scrim:active"
    script = "return redis.call('LPUSH', KEYS[1], ARGV[1])"
    assert cli(redis, "EVAL", script, "1", wait, "job-1") == "1"
    # WHEN a worker takes it the way Bull 4 does (lib/queue.js getNextJob: BRPOPLPUSH wait active)
    taken = cli(redis, "BRPOPLPUSH", wait, active, "1")
    # THEN it was handed over and is now the active one
    assert taken == "job-1"
    assert cli(redis, "LRANGE", active, "0", "-1") == "job-1"
    assert cli(redis, "LLEN", wait) == "0"


def test_cores_graphql_cache_database_13_exists_and_is_separate(redis):
    # GIVEN core's GraphQL cache, which selects database 13 (core/src/app.module.ts:33-38)
    assert int(cli(redis, "CONFIG", "GET", "databases").splitlines()[1]) >= 14
    # WHEN it writes a cache entry there
    assert cli(redis, "SET", "gql_cache__e2e", "cached", db=13) == "OK"
    # THEN the entry is in database 13 and not in database 0, where the other keys live
    assert cli(redis, "GET", "gql_cache__e2e", db=13) == "cached"
    assert cli(redis, "EXISTS", "gql_cache__e2e", db=0) == "0"


def test_json_modules_come_from_the_redis_8_images_entrypoint_once(
    redis_service, redis_conf, auth_template
):
    """A document check (see the module docstring): no redis-server here has RedisJSON."""
    spec = redis_service["task_spec"]["container_spec"]
    # GIVEN the official Redis 8 image, whose entrypoint loads its bundled modules
    assert re.fullmatch(
        r"redis:8\.\d+(\.\d+)?(@sha256:[0-9a-f]{64})?", spec["image"].split("@$")[0]
    )
    # WHEN the service starts it with arguments, so that the entrypoint runs
    assert spec["args"][0] == "redis-server" and "command" not in spec
    # THEN neither the config nor its include loads a module a second time
    for text in (redis_conf, auth_template):
        assert not re.search(r"^\s*loadmodule\b", text, re.M | re.I)
