"""Each environment's synthesized RabbitMQ, loaded by a real RabbitMQ on loopback.

Every ``platform-<env>`` stack runs its own ``<env>-rabbitmq``; each test runs once per
environment, against a broker of its own. Debian's rabbitmq-server (3.10) boots with the
synthesized conf.d snippet and the definitions the synthesized Swarm secret holds (passwords
filled in for the test): the environment's one user and one virtual host exist and nothing
else (no guest), the memory alarm is the synthesized one, and the user, logged in over AMQP
with the broker URL the applications are given, declares what the applications declare
(SprocketBot/sprocket at 46d2b40357a82e892ee0f3ec2ea969d25d0d6da4): the durable RPC queues,
Celery's queue, the events exchange and an application's transient, non-exclusive event queue.

One line is checked only by reading the synthesized snippet:
``deprecated_features.permit.transient_nonexcl_queues = true``. RabbitMQ 4.3 refuses
transient non-exclusive queues without it (rabbitmq-server release-notes/4.3.0.md:23-45),
and the applications declare one (common/src/events/rmq.service.ts:71). RabbitMQ 4.3 is not
installable here, and RabbitMQ 3.10 permits such queues but refuses to boot with the key ("no
setting with that name"), so the test broker gets the snippet without exactly that line.

The management HTTP API refuses a user without the ``management`` tag (the synthesized user
has none), so the tests speak AMQP 0-9-1 with pika; what they declare is read back with
rabbitmqctl, so a wrong flag in a declaration would fail the test rather than pass it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pika
import pytest
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import ProbableAccessDeniedError, ProbableAuthenticationError

from tests.conftest import config_content, decode_json_secret, mounted_secret, services
from tests.e2e.openbao import free_port

RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")
EPMD = shutil.which("epmd")
START_TIMEOUT = 60
NODE = "e2e@localhost"
CONF = "/etc/rabbitmq/conf.d/30-sprocket.conf"
DEFINITIONS = "/etc/rabbitmq/definitions.json"
APP_CONFIG = "/app/config/production.json"
# RabbitMQ 4.3's opt-in for transient non-exclusive queues, unknown to RabbitMQ 3.10.
PERMIT_TRANSIENT_NONEXCL = "deprecated_features.permit.transient_nonexcl_queues = true"
# The official Alpine image's rabbitmq user and group (docker-library/rabbitmq
# 4.3/alpine/Dockerfile:238-243, as stacks/platform_datastores.py cites).
IMAGE_UID, IMAGE_GID = "100", "101"
# transport.<key> of the RPC queues NestJS's ClientRMQ/ServerRMQ assert with
# queueOptions {durable: true} (common/src/global.module.ts:8-105).
RPC_QUEUES = {
    "core_queue": "core",
    "bot_queue": "bot",
    "matchmaking_queue": "matchmaking",
    "analytics_queue": "analytics",
    "image_generation_queue": "ig",
    "submission_queue": "submissions",
    "notification_queue": "notifications",
}


# --- The synthesized documents ---------------------------------------------------------


def stand_in_password(resource_id: str) -> str:
    """The stand-in for ``random_password.<resource_id>.result``: the same in every document."""
    return f"e2e-{resource_id}"


def document_from_expression(expression: str) -> dict:
    """The document inside a synthesized JSON secret, each ``random_password.<id>.result``
    filled in with its stand-in password."""
    return decode_json_secret(expression, lambda ref: stand_in_password(ref.split(".")[1]))


def loopback_config(conf: str, *, amqp_port: int, management_port: int, definitions: Path) -> str:
    """The synthesized conf.d snippet with loopback ports and the definitions file's path,
    and without the one line RabbitMQ 3.10 does not know (see the module docstring)."""
    replacements = {
        r"^load_definitions = .*$": f"load_definitions = {definitions}",
        r"^listeners\.tcp\.default = \d+$": f"listeners.tcp.default = {amqp_port}",
        r"^management\.tcp\.port = \d+$": f"management.tcp.port = {management_port}",
        rf"^{re.escape(PERMIT_TRANSIENT_NONEXCL)}\n": "",
    }
    for pattern, replacement in replacements.items():
        conf, count = re.subn(pattern, replacement, conf, flags=re.M)
        assert count == 1, f"expected one line matching {pattern!r}"
    return conf


@pytest.fixture(scope="module")
def rabbit_service(platform, env) -> dict:
    return services(platform)[f"{env}-rabbitmq"]


@pytest.fixture(scope="module")
def rabbit_conf(platform, rabbit_service) -> str:
    return config_content(platform, rabbit_service, CONF)


@pytest.fixture(scope="module")
def definitions(platform, rabbit_service) -> dict:
    _, secret = mounted_secret(platform, rabbit_service, DEFINITIONS)
    return document_from_expression(secret["data"])


@pytest.fixture(scope="module")
def transport(platform, env) -> dict:
    """The transport block of matchmaking's synthesized config file: the broker URL and the
    queue names every application on SprocketBot's common library reads."""
    service = services(platform)[f"{env}-matchmaking"]
    _, secret = mounted_secret(platform, service, APP_CONFIG)
    return document_from_expression(secret["data"])["transport"]


# --- The broker ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rabbit(rabbit_conf, definitions, tmp_path_factory) -> Iterator[dict]:
    assert (RABBIT_BIN / "rabbitmq-server").exists() and EPMD, (
        "rabbitmq-server is installed by `make test` (Debian package)"
    )
    workdir = tmp_path_factory.mktemp("rabbitmq")
    definitions_file = workdir / "definitions.json"
    definitions_file.write_text(json.dumps(definitions))
    amqp_port = free_port()
    (workdir / "rabbitmq.conf").write_text(
        loopback_config(
            rabbit_conf,
            amqp_port=amqp_port,
            management_port=free_port(),
            definitions=definitions_file,
        )
    )
    # management.tcp.port is a key of the management plugin, which the image enables.
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
    rabbit = {"env": env, "amqp_port": amqp_port}
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while ctl(rabbit, "await_startup", "--timeout", "5").returncode != 0:
            assert server.poll() is None, (workdir / "server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "RabbitMQ did not start"
            time.sleep(0.5)
        yield rabbit
    finally:
        # A throwaway node in a temporary directory: killed, not stopped (a clean stop takes
        # about 7 s and proves nothing here).
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


def queue_flags(rabbit: dict, vhost: str) -> dict[str, tuple[str, str, str]]:
    """name -> (durable, exclusive, auto_delete) as the broker recorded them."""
    listing = ctl(rabbit, "list_queues", "-p", vhost, "name", "durable", "exclusive", "auto_delete")
    return {name: (durable, exclusive, auto) for name, durable, exclusive, auto in rows(listing)}


# --- AMQP 0-9-1, with pika --------------------------------------------------------------


def loopback_url(rabbit: dict, url: str) -> str:
    """An amqp:// URL as the applications are given it, its host and port swapped for the
    loopback test broker's: credentials, virtual host and query (heartbeat) unchanged."""
    parts = urlsplit(url)
    credentials, _, _ = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{credentials}@127.0.0.1:{rabbit['amqp_port']}"))


@contextmanager
def login(rabbit: dict, url: str, *, vhost: str | None = None) -> Iterator[BlockingChannel]:
    """A channel of a connection made with an amqp:// URL, to its virtual host or ``vhost``."""
    parameters = pika.URLParameters(loopback_url(rabbit, url))
    if vhost is not None:
        parameters.virtual_host = vhost
    connection = pika.BlockingConnection(parameters)
    try:
        yield connection.channel()
    finally:
        if connection.is_open:
            connection.close()


def reply_code(refused: ProbableAccessDeniedError | ProbableAuthenticationError) -> int:
    """The reply code of the broker's connection.close that refused the connection being
    opened: pika keeps only the repr of that ConnectionClosedByBroker, "...: (530) '...'"
    (a dropped socket instead, StreamLostError, has none and fails here)."""
    (closed,) = refused.args
    match = re.fullmatch(r"ConnectionClosedByBroker: \((\d+)\) .*", closed, re.S)
    assert match, closed
    return int(match.group(1))


# --- The synthesized configuration ---------------------------------------------------------


def test_the_snippet_permits_the_applications_transient_non_exclusive_queues(rabbit_conf):
    """Read only (see the module docstring): RabbitMQ 4.3 needs it, 3.10 rejects it."""
    assert rabbit_conf.splitlines().count(PERMIT_TRANSIENT_NONEXCL) == 1


def test_the_definitions_file_belongs_to_the_images_rabbitmq_user_only(rabbit_service, platform):
    mount, _ = mounted_secret(platform, rabbit_service, DEFINITIONS)
    assert (mount["file_uid"], mount["file_gid"], mount["file_mode"]) == (
        IMAGE_UID,
        IMAGE_GID,
        0o400,
    )


def test_the_user_is_exactly_the_environments_one_and_guest_is_not_among_them(rabbit, env):
    users = {row[0] for row in rows(ctl(rabbit, "list_users"))}
    assert users == {f"sprocket-{env}"}
    assert ctl(rabbit, "authenticate_user", "guest", "guest").returncode != 0


def test_one_virtual_host_named_after_the_environment_and_no_default_one(rabbit, env):
    assert {row[0] for row in rows(ctl(rabbit, "list_vhosts"))} == {env}


def test_the_user_has_permissions_on_its_vhost_only(rabbit, env):
    permissions = rows(ctl(rabbit, "list_user_permissions", f"sprocket-{env}"))
    assert permissions == [[env, ".*", ".*", ".*"]]


def test_the_user_logs_in_with_its_generated_password_only(rabbit, env, definitions):
    (user,) = definitions["users"]
    assert ctl(rabbit, "authenticate_user", f"sprocket-{env}", user["password"]).returncode == 0
    assert ctl(rabbit, "authenticate_user", f"sprocket-{env}", "not-the-password").returncode != 0


def test_the_memory_alarm_is_the_synthesized_one_below_the_service_limit(
    rabbit, rabbit_conf, rabbit_service
):
    # GIVEN the absolute watermark the snippet sets, and the container's memory limit
    (watermark,) = re.findall(r"^vm_memory_high_watermark\.absolute = (\d+)$", rabbit_conf, re.M)
    limit = rabbit_service["task_spec"]["resources"]["limits"]["memory_bytes"]
    # WHEN the broker reports what it uses
    status = ctl(rabbit, "status", "--formatter", "json")
    assert status.returncode == 0, status.stderr
    # THEN it is that value (RabbitMQ does not read the container's limit), below the limit
    assert json.loads(status.stdout)["vm_memory_high_watermark_limit"] == int(watermark)
    assert 0 < int(watermark) < limit


# --- What the applications do with it ------------------------------------------------------


def test_the_applications_broker_url_logs_in_to_the_environments_vhost(
    rabbit, env, transport, rabbit_conf
):
    # GIVEN the URL the applications are given: the service's name, its AMQP port, the vhost
    parts = urlsplit(transport["url"])
    (port,) = re.findall(r"^listeners\.tcp\.default = (\d+)$", rabbit_conf, re.M)
    assert (parts.hostname, parts.port, parts.path) == (f"{env}-rabbitmq", int(port), f"/{env}")
    # WHEN an application logs in with its credentials (here on the loopback port)
    with login(rabbit, transport["url"]) as channel:
        # THEN the broker accepts it and opens a channel in the environment's vhost
        channel.queue_declare("", durable=False, exclusive=True)


def test_the_rpc_queues_are_declared_durable(rabbit, env, transport):
    # GIVEN the queue names the applications are given, one per environment
    names = {key: transport[key] for key in RPC_QUEUES}
    assert names == {key: f"{env}-{suffix}" for key, suffix in RPC_QUEUES.items()}
    # WHEN the user asserts each as ClientRMQ/ServerRMQ do (global.module.ts:8-105)
    with login(rabbit, transport["url"]) as channel:
        for name in names.values():
            channel.queue_declare(name, durable=True, exclusive=False, auto_delete=False)
    # THEN the broker holds them durable, not exclusive, not auto-deleted
    flags = queue_flags(rabbit, env)
    for name in names.values():
        assert flags[name] == ("true", "false", "false"), name


def test_the_celery_queue_is_declared_durable(rabbit, env, transport):
    # GIVEN Celery's queue (transport.celery-queue, replay-parse-service src/celeryconfig.py:8)
    name = transport["celery-queue"]
    assert name == f"{env}-celery"
    # WHEN a worker declares it as kombu's Queue does by default (durable)
    with login(rabbit, transport["url"]) as channel:
        channel.queue_declare(name, durable=True, exclusive=False, auto_delete=False)
    # THEN the broker holds it durable
    assert queue_flags(rabbit, env)[name] == ("true", "false", "false")


def test_the_events_exchange_is_a_transient_topic_exchange(rabbit, env, transport):
    # GIVEN the events exchange (transport.events_queue, common/src/events/rmq.service.ts:14)
    exchange = transport["events_queue"]
    assert exchange == f"{env}-events"
    # WHEN a service builds its channel (rmq.service.ts:133: "topic", {durable: false})
    with login(rabbit, transport["url"]) as channel:
        channel.exchange_declare(exchange, "topic", durable=False)
    # THEN the broker holds a non-durable topic exchange of that name
    listing = ctl(rabbit, "list_exchanges", "-p", env, "name", "type", "durable")
    assert [exchange, "topic", "false"] in rows(listing)


def test_an_applications_event_queue_is_transient_non_exclusive_and_receives_its_events(
    rabbit, env, transport
):
    exchange, key = transport["events_queue"], transport["events_application_key"]
    # GIVEN matchmaking's subscription to scrim.saved (scrim.event-subscriber.ts:42), which
    # EventsService makes "scrim.saved.*" (common/src/events/events.service.ts:17-22) and
    # RmqService names "<exchange>-<topic>-<events_application_key>" (rmq.service.ts:56)
    topic = "scrim.saved.*"
    queue = f"{exchange}-{topic}-{key}"
    assert queue == f"{env}-events-scrim.saved.*-{env}-matchmaking"
    # WHEN it asserts the exchange, then the queue {durable: false, exclusive: false} and
    # binds it (rmq.service.ts:71,77), and the connection goes away
    with login(rabbit, transport["url"]) as channel:
        channel.exchange_declare(exchange, "topic", durable=False)
        channel.queue_declare(queue, durable=False, exclusive=False, auto_delete=False)
        channel.queue_bind(queue, exchange, topic)
    # THEN the broker keeps it, transient and not exclusive (an exclusive one would be gone)
    assert queue_flags(rabbit, env)[queue] == ("false", "false", "false")
    # ...and an event published as EventsService publishes it ("scrim.saved.default",
    # events.service.ts:35-44) reaches it
    with login(rabbit, transport["url"]) as channel:
        channel.basic_publish(exchange, "scrim.saved.default", b'{"id":"e2e"}')
        deadline = time.monotonic() + 5
        # basic.get with no-ack: (method, properties, body), or Nones if the queue is empty
        while (body := channel.basic_get(queue, auto_ack=True)[2]) is None and (
            time.monotonic() < deadline
        ):
            time.sleep(0.05)
    assert body == b'{"id":"e2e"}'


def test_the_user_cannot_open_any_other_vhost(rabbit, env, transport):
    # GIVEN another vhost on the broker, which the definitions do not give the user
    other = "elsewhere"
    assert ctl(rabbit, "add_vhost", other).returncode == 0
    try:
        # WHEN the user tries to open it to declare a queue there
        with (
            pytest.raises(ProbableAccessDeniedError) as refused,
            login(rabbit, transport["url"], vhost=other) as channel,
        ):
            channel.queue_declare(f"{env}-core", durable=True)
        # THEN the broker refuses it access (530 NOT_ALLOWED) and no queue exists there
        assert reply_code(refused.value) == 530, refused.value
        assert queue_flags(rabbit, other) == {}
    finally:
        assert ctl(rabbit, "delete_vhost", other).returncode == 0


def test_guest_cannot_log_in_even_from_loopback(rabbit, env):
    # GIVEN the default guest login, which loopback_users.guest would allow from 127.0.0.1
    # WHEN it tries to log in over AMQP
    guest = pika.ConnectionParameters(
        host="127.0.0.1",
        port=rabbit["amqp_port"],
        virtual_host=env,
        credentials=pika.PlainCredentials("guest", "guest"),
    )
    with pytest.raises(ProbableAuthenticationError) as refused:
        pika.BlockingConnection(guest)
    # THEN the broker refuses the login (403 ACCESS_REFUSED): there is no such user
    assert reply_code(refused.value) == 403, refused.value
