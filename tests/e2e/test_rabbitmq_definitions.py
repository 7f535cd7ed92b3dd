"""The synthesized RabbitMQ configuration, loaded by a real RabbitMQ on loopback.

Debian's rabbitmq-server (3.10) boots with the synthesized conf.d snippet and the
definitions the synthesized Swarm secret holds (passwords filled in for the test): no
guest user exists, every environment has its own user and virtual host, and a user
reaches only its own environment's virtual host.
"""

from __future__ import annotations

import json
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

RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")
EPMD = shutil.which("epmd")
START_TIMEOUT = 60
NODE = "e2e@localhost"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def definitions_from_expression(expression: str) -> tuple[dict, dict[str, str]]:
    """The definitions document inside the synthesized ``base64encode(jsonencode({...}))``,
    with each ``random_password.<id>.result`` replaced by a test password; and those passwords."""
    body = re.fullmatch(r"\$\{base64encode\(jsonencode\((.*)\)\)\}", expression, re.S).group(1)
    passwords: dict[str, str] = {}

    def password(match: re.Match) -> str:
        passwords[match.group(1)] = f"e2e-{match.group(1)}"
        return json.dumps(passwords[match.group(1)])

    body = re.sub(r"random_password\.(\w+)\.result", password, body)
    # HCL object syntax ("key" = value) to JSON ("key": value); no value here contains " = ".
    return json.loads(body.replace('" = ', '": ')), passwords


def loopback_config(conf: str, *, amqp_port: int, management_port: int, definitions: Path) -> str:
    """The synthesized conf.d snippet with loopback ports and the definitions file's path."""
    replacements = {
        r"^load_definitions = .*$": f"load_definitions = {definitions}",
        r"^listeners\.tcp\.default = \d+$": f"listeners.tcp.default = {amqp_port}",
        r"^management\.tcp\.port = \d+$": f"management.tcp.port = {management_port}",
    }
    for pattern, replacement in replacements.items():
        conf, count = re.subn(pattern, replacement, conf, flags=re.M)
        assert count == 1, f"expected one line matching {pattern!r}"
    return conf


@pytest.fixture(scope="module")
def rabbit(stacks, tmp_path_factory) -> Iterator[dict]:
    assert (RABBIT_BIN / "rabbitmq-server").exists() and EPMD, (
        "rabbitmq-server is installed by `make test` (Debian package)"
    )
    layer_2 = stacks["layer_2"]
    service = services(layer_2)["rabbitmq"]
    secret_data = resources(layer_2, "docker_secret")["rabbitmq_definitions_secret"]["data"]
    document, passwords = definitions_from_expression(secret_data)
    workdir = tmp_path_factory.mktemp("rabbitmq")
    definitions = workdir / "definitions.json"
    definitions.write_text(json.dumps(document))
    conf = config_content(layer_2, service, "/etc/rabbitmq/conf.d/30-sprocket.conf")
    (workdir / "rabbitmq.conf").write_text(
        loopback_config(
            conf, amqp_port=free_port(), management_port=free_port(), definitions=definitions
        )
    )
    (workdir / "enabled_plugins").write_text("[rabbitmq_management].\n")
    epmd_port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(workdir),
        "RABBITMQ_CONFIG_FILE": str(workdir / "rabbitmq.conf"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(workdir / "advanced.config"),
        "RABBITMQ_CONF_ENV_FILE": "/dev/null",
        "RABBITMQ_MNESIA_BASE": str(workdir / "mnesia"),
        "RABBITMQ_LOG_BASE": str(workdir / "log"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(workdir / "enabled_plugins"),
        "RABBITMQ_NODENAME": NODE,
        "RABBITMQ_DIST_PORT": str(free_port()),
        # A port mapper of our own, in the foreground, so the test can stop it.
        "ERL_EPMD_PORT": str(epmd_port),
        "ERL_FLAGS": "-start_epmd false",
    }
    epmd = subprocess.Popen([EPMD, "-port", str(epmd_port)], env=env)
    log = (workdir / "server.log").open("wb")
    server = subprocess.Popen(
        [str(RABBIT_BIN / "rabbitmq-server")],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    rabbit = {"env": env, "passwords": passwords, "document": document}
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while ctl(rabbit, "await_startup", "--timeout", "5").returncode != 0:
            assert server.poll() is None, (workdir / "server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "RabbitMQ did not start"
            time.sleep(0.5)
        yield rabbit
    finally:
        ctl(rabbit, "stop")
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
            server.wait(timeout=10)
        log.close()
        epmd.terminate()
        epmd.wait(timeout=10)


def ctl(rabbit: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(RABBIT_BIN / "rabbitmqctl"), "-q", "-n", NODE, *args],
        env=rabbit["env"],
        capture_output=True,
        text=True,
        timeout=60,
    )


def rows(result: subprocess.CompletedProcess) -> list[list[str]]:
    assert result.returncode == 0, result.stderr
    return [line.split("\t") for line in result.stdout.strip().splitlines()[1:]]


def test_users_are_exactly_the_synthesized_ones_and_guest_is_not_among_them(rabbit):
    users = {row[0] for row in rows(ctl(rabbit, "list_users"))}
    assert users == {"admin", "sprocket-main", "sprocket-staging"}
    assert ctl(rabbit, "authenticate_user", "guest", "guest").returncode != 0


def test_one_virtual_host_per_environment_and_no_default_one(rabbit):
    assert {row[0] for row in rows(ctl(rabbit, "list_vhosts"))} == {"main", "staging"}


def test_each_environment_user_reaches_only_its_own_vhost(rabbit):
    for env, other in (("main", "staging"), ("staging", "main")):
        permissions = rows(ctl(rabbit, "list_user_permissions", f"sprocket-{env}"))
        assert [row[0] for row in permissions] == [env]
        assert other not in {row[0] for row in permissions}


def test_users_log_in_with_their_generated_passwords_only(rabbit):
    password = rabbit["passwords"]["rabbitmq_main_password"]
    assert ctl(rabbit, "authenticate_user", "sprocket-main", password).returncode == 0
    wrong = rabbit["passwords"]["rabbitmq_staging_password"]
    assert ctl(rabbit, "authenticate_user", "sprocket-main", wrong).returncode != 0
