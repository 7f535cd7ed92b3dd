"""Deploy the synthesized stacks into a real swarm, in deploy order, as Terraform would.

``Rehearsal.deploy(stack)`` creates every ``docker_network``, ``docker_volume``,
``docker_secret``, ``docker_config`` and ``docker_service`` of one stack's ``cdk.tf.json``
through the Engine API, with the request bodies ``provider`` builds. Terraform expressions are
evaluated (``expressions``) with values for what only the cloud or a provider would know:
generated passwords and keys (random, kept in memory only), the IDs and names of what the
rehearsal created, and earlier stacks' outputs (evaluated in their own documents, as their
remote state would hold them).

Every way the rehearsal differs from production is one entry of ``DEVIATIONS`` and nowhere
else; ``describe_deviations`` prints them at the start of the run.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from tests.e2e.swarm import provider
from tests.e2e.swarm.engine import EngineApi, EngineError
from tests.e2e.swarm.expressions import Reference, evaluate_document, evaluate_string

DOCKER_KINDS = (
    "docker_network",
    "docker_volume",
    "docker_secret",
    "docker_config",
    "docker_service",
)
PLACEHOLDER_DIGEST = "sha256:" + "0" * 64
# Traefik's ACME client is pointed here: inside Traefik's container nothing listens on it.
NO_ACME_SERVER = "https://127.0.0.1:9/directory"
DASHBOARD_USER = "rehearsal"
# Traefik's log line for the engine-version deviation, the one error its test tolerates.
ENGINE_VERSION_ERROR = "client version 1.56 is too new. Maximum supported API version is 1.41"


class ApplyFailed(RuntimeError):
    """What Terraform would report as a failed apply of a resource."""


@dataclass(frozen=True)
class Deviation:
    """One difference between the rehearsal and production, and why it has to be."""

    name: str
    what: str
    why: str


# Where the rehearsal's clients reach Traefik from: the first of Docker's default local address
# pools, where docker_gwbridge's gateway is (moby daemon/libnetwork/ipamutils/utils.go:10-16:
# 172.17.0.0/16 to 172.28.0.0/14, at b985e23).
REHEARSAL_CLIENTS = "172.16.0.0/12"
DEVIATIONS = (
    Deviation(
        "dnsrr endpoints",
        "every service's endpoint_spec.mode vip -> dnsrr",
        "the kernel here has no IPVS: a virtual IP never answers; task addresses do",
    ),
    Deviation(
        "published ports",
        "host-mode published ports (Traefik's 80 and 443) -> free ports, reached on 127.0.0.1",
        "a test binds no well-known port of the machine",
    ),
    Deviation(
        "local images",
        "images built here (tests/e2e/swarm/images.py); `repo:tag@sha256:<digest>` -> `repo:tag`",
        "no registry is reachable: nothing can be pulled and no digest resolved",
    ),
    Deviation(
        "no ACME",
        "Traefik's certificatesResolvers.*.acme.caServer -> " + NO_ACME_SERVER,
        "Let's Encrypt is outside: Traefik serves its default self-signed certificate",
    ),
    Deviation(
        "admin allowlist",
        "Traefik's admin-allowlist sourceRange + " + REHEARSAL_CLIENTS,
        "the tests reach Traefik through Docker's port proxy, which connects from the "
        "docker_gwbridge gateway (a 172.16.0.0/12 address), not from the test's own address; "
        "allow and deny are proven on real Traefik in tests/e2e/test_admin_allowlist.py",
    ),
    Deviation(
        "Vault storage",
        "Vault's storage stanza s3 (Spaces) -> inmem; `disable_mlock` removed",
        "OpenBao, the Vault-API server that can run here, has no s3 storage and refuses any "
        "`disable_mlock` line (it dropped mlock)",
    ),
    Deviation(
        "RabbitMQ 3.10",
        "RabbitMQ's conf.d drops `deprecated_features.permit.transient_nonexcl_queues`",
        "Debian's RabbitMQ 3.10 refuses the 4.3-only key (tests/e2e/test_rabbitmq_definitions.py)",
    ),
    Deviation(
        "engine socket",
        "bind mounts of /var/run/docker.sock -> the private engine's socket, and of "
        "/var/lib/docker/containers (the log shipper's) -> its data root's",
        "the rehearsal's engine is a private dockerd, not the machine's",
    ),
    Deviation(
        "cloud values",
        "passwords, access keys, Vault KV values and tokens, database users -> random values; the "
        "Discord webhook -> http://127.0.0.1:9/",
        "no DigitalOcean, Vault or Discord account is reachable; nothing may leave the machine",
    ),
    Deviation(
        "engine version",
        "Docker Engine 20.10 (API 1.41): Traefik's Swarm provider is refused its first request "
        "(API 1.56) and then negotiates 1.41",
        "Debian's docker.io is the engine that installs here; production runs a newer one",
    ),
    Deviation(
        "Spaces",
        "every digitalocean_spaces_bucket -> a versioned bucket of moto's S3 API on the "
        "swarm's gateway address (tests/e2e/swarm/spaces.py); RESTIC_REPOSITORY's "
        "https://<region>.digitaloceanspaces.com -> that endpoint",
        "Spaces is outside; moto is the S3 API that runs here, and the backups' restic is real",
    ),
    Deviation(
        "registry auth",
        "no X-Registry-Auth header",
        "nothing is pulled",
    ),
)


def describe_deviations() -> str:
    lines = ["The rehearsal differs from production in exactly these ways:"]
    lines += [f"  - {d.name}: {d.what} ({d.why})" for d in DEVIATIONS]
    return "\n".join(lines)


@dataclass
class Created:
    stack: str
    kind: str
    resource_id: str
    engine_id: str
    name: str
    body: dict
    resource: dict = field(default_factory=dict)  # the evaluated Terraform resource


@dataclass
class Rehearsal:
    api: EngineApi
    stacks: Mapping[str, dict]
    engine_socket: str
    # Host port for each published port (80 -> a free port, ...).
    published_ports: Mapping[int, int]
    created: dict[tuple[str, str, str], Created] = field(default_factory=dict)
    values: dict[Reference, str] = field(default_factory=dict)
    dashboard_password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    # The S3 API standing in for Spaces (tests/e2e/swarm/spaces.py), if the session runs one.
    spaces: Any = None
    # The private engine's --data-root (its containers' logs are under it).
    engine_data_root: str = "/var/lib/docker"

    # --- values for references ------------------------------------------------------------

    def generated(self, reference: Reference) -> str:
        """A random value for something only the cloud or a provider would generate."""
        if reference not in self.values:
            self.values[reference] = secrets.token_urlsafe(24)
        return self.values[reference]

    def resolver(self, stack: str) -> Callable[[Reference], Any]:
        document = self.stacks[stack]

        def resolve(reference: Reference) -> Any:
            head = reference[0]
            if head == "var":
                return self.variable(stack, reference[1])
            if head == "data":
                return self.data(stack, reference[1:])
            kind, rid, *attribute = reference
            if kind in DOCKER_KINDS:
                created = self.created.get((stack, kind, rid))
                if created is None:
                    raise EngineError(f"{stack}: {kind}.{rid} is referenced before it exists")
                return created.engine_id if attribute == ["id"] else created.name
            # Values the provider or a cloud API makes: a generated stand-in each (a Vault
            # token's included: the rehearsal's Vault is not the one that would issue it).
            if kind in (
                "random_password",
                "digitalocean_database_user",
                "digitalocean_spaces_key",
                "vault_token",
            ):
                return self.generated((stack, *reference))
            resource = document["resource"][kind][rid]
            if kind == "digitalocean_spaces_bucket" and attribute == ["name"]:
                return evaluate_string(resource["name"], resolve)
            if kind == "vault_mount" and attribute == ["path"]:
                return evaluate_string(resource["path"], resolve)
            if kind == "vault_policy" and attribute == ["name"]:
                return evaluate_string(resource["name"], resolve)
            if kind == "vault_github_auth_backend" and attribute == ["id"]:
                return resource.get("path", "github")
            raise EngineError(f"{stack}: no rehearsal value for {'.'.join(reference)}")

        return resolve

    def variable(self, stack: str, name: str) -> str:
        if name == "traefik_dashboard_users":
            digest = base64.b64encode(hashlib.sha1(self.dashboard_password.encode()).digest())
            return f"{DASHBOARD_USER}:{{SHA}}{digest.decode()}\n"
        if name == "gatus_discord_webhook_url":
            return "http://127.0.0.1:9/"
        return self.generated((stack, "var", name))

    def data(self, stack: str, reference: Reference) -> Any:
        kind, name, *attribute = reference
        if kind == "terraform_remote_state":
            source = name.removeprefix("cross-stack-reference-input-")
            output = attribute[1]  # outputs.<name>
            value = self.stacks[source]["output"][output]["value"]
            return evaluate_document(value, self.resolver(source))
        if kind == "docker_registry_image":
            return PLACEHOLDER_DIGEST
        if kind == "vault_kv_secret_v2":
            if attribute == ["created_time"]:
                return "2026-01-01T00:00:00Z"
            return self.generated((stack, "data", *reference))
        if kind == "digitalocean_database_cluster":
            return f"rehearsal-{name}"
        if kind == "digitalocean_droplet":
            return "127.0.0.1"
        raise EngineError(f"{stack}: no rehearsal value for data.{'.'.join(reference)}")

    # --- deploying ------------------------------------------------------------------------

    def deploy(self, stack: str, only: Callable[[str, dict], bool] | None = None) -> list[Created]:
        """Create every docker_* resource of ``stack`` (or those ``only(kind, resource)``
        admits), in dependency order: networks, volumes, secrets, configs, services."""
        document = self.stacks[stack]
        resolve = self.resolver(stack)
        done = []
        if self.spaces is not None:
            for raw in document.get("resource", {}).get("digitalocean_spaces_bucket", {}).values():
                if only is None or only("digitalocean_spaces_bucket", raw):
                    self.spaces.create_bucket(evaluate_string(raw["name"], resolve))
        for kind in DOCKER_KINDS:
            for rid, raw in sorted(document.get("resource", {}).get(kind, {}).items()):
                if only is not None and not only(kind, raw):
                    continue
                resource = evaluate_document({k: v for k, v in raw.items() if k != "//"}, resolve)
                done.append(self._create(stack, kind, rid, resource))
        return done

    def _create(self, stack: str, kind: str, rid: str, resource: dict) -> Created:
        resource = {k: v for k, v in resource.items() if k not in ("lifecycle", "depends_on")}
        if kind == "docker_network":
            body = provider.network_request(resource)
            engine_id = self.api.post("/networks/create", body)["Id"]
        elif kind == "docker_volume":
            body = provider.volume_request(resource)
            engine_id = self.api.post("/volumes/create", body)["Name"]
        elif kind == "docker_secret":
            body = provider.secret_request(resource)
            engine_id = self.api.post("/secrets/create", body)["ID"]
        elif kind == "docker_config":
            body = adapt_config(provider.config_request(resource))
            engine_id = self.api.post("/configs/create", body)["ID"]
        else:
            body = self.adapt_service(provider.service_spec(resource))
            engine_id = self.api.post("/services/create", body)["ID"]
        created = Created(
            stack, kind, rid, engine_id, resource.get("name", engine_id), body, resource
        )
        self.created[(stack, kind, rid)] = created
        return created

    def adapt_service(self, spec: dict) -> dict:
        """The deviations that touch a service spec (see DEVIATIONS)."""
        spec = copy.deepcopy(spec)
        container = spec["TaskTemplate"]["ContainerSpec"]
        container["Image"] = container["Image"].split("@", 1)[0]
        if self.spaces is not None:
            container["Env"] = [
                re.sub(
                    r"^(RESTIC_REPOSITORY=s3:)https://[a-z0-9]+\.digitaloceanspaces\.com",
                    rf"\g<1>{self.spaces.endpoint}",
                    item,
                )
                for item in container.get("Env") or []
            ]
        for mount in container.get("Mounts", []):
            if mount["Type"] == "bind" and mount.get("Source") == "/var/run/docker.sock":
                mount["Source"] = self.engine_socket
            if mount["Type"] == "bind" and mount.get("Source") == "/var/lib/docker/containers":
                mount["Source"] = f"{self.engine_data_root}/containers"
        endpoint = spec["EndpointSpec"]
        if endpoint.get("Mode", "vip") == "vip":
            endpoint["Mode"] = "dnsrr"
        for port in endpoint.get("Ports", []):
            if port.get("PublishedPort") in self.published_ports:
                port["PublishedPort"] = self.published_ports[port["PublishedPort"]]
        return spec

    def update_service(self, created: Created, spec: dict) -> None:
        """``POST /services/{id}/update`` as the provider sends it (FN:164-217): the whole
        spec, at the service's current version. With ``converge_config`` the provider then
        waits for the update's outcome and fails the apply on a rollback or pause
        (FN:192-214, FN:427-443); without it, it returns at once."""
        version = self.api.get(f"/services/{created.engine_id}")["Version"]["Index"]
        self.api.request(
            "POST",
            f"/services/{created.engine_id}/update",
            query={"version": version},
            body=self.adapt_service(spec),
        )
        created.body = spec
        converge = provider._block(created.resource.get("converge_config"))
        if not converge:
            return
        timeout = provider.duration(converge.get("timeout", "3m"))
        deadline = time.monotonic() + timeout / 1e9
        while time.monotonic() < deadline:
            time.sleep(7)  # the provider's fixed delay between checks of an update (FN:192-214)
            state = self.update_state(created)
            if state == "completed":
                return
            if state in ("rollback_completed", "paused", "rollback_paused"):
                raise ApplyFailed(f"{created.name}: update ended {state}")
        raise ApplyFailed(f"{created.name}: update did not converge within {timeout / 1e9:.0f} s")

    def update_state(self, created: Created) -> str:
        service = self.api.get(f"/services/{created.engine_id}")
        return (service.get("UpdateStatus") or {}).get("State", "")

    def create_secret(self, stack: str, rid: str, name: str, data: str) -> Created:
        return self._create(stack, "docker_secret", rid, {"name": name, "data": data})

    def delete(self, created: Created) -> None:
        path = {
            "docker_secret": "secrets",
            "docker_config": "configs",
            "docker_service": "services",
        }
        self.api.delete(f"/{path[created.kind]}/{created.engine_id}")
        self.created = {k: v for k, v in self.created.items() if v is not created}

    # --- reading back ---------------------------------------------------------------------

    def services(self, stacks: Iterable[str] | None = None) -> list[Created]:
        wanted = set(stacks) if stacks is not None else set(self.stacks)
        return [
            c for c in self.created.values() if c.kind == "docker_service" and c.stack in wanted
        ]

    def service(self, name: str) -> Created:
        for created in self.services():
            if created.name == name:
                return created
        raise KeyError(name)

    def wait_converged(
        self, timeout_s: float, names: Iterable[str] | None = None
    ) -> dict[str, str]:
        """Wait until every service runs its replicas, healthy where it has a healthcheck;
        the problems left at the timeout, by service (empty when all converged)."""
        wanted = [c for c in self.services() if names is None or c.name in set(names)]
        deadline = time.monotonic() + timeout_s
        while True:
            problems = {c.name: p for c in wanted if (p := self.convergence_problem(c))}
            if not problems or time.monotonic() > deadline:
                return problems
            time.sleep(2)

    def running_tasks(self, name: str) -> list[dict]:
        tasks = self.api.tasks(name, **{"desired-state": ["running"]})
        return [t for t in tasks if t["Status"]["State"] == "running"]

    def convergence_problem(self, created: Created) -> str:
        spec = created.body
        replicas = spec["Mode"].get("Replicated", {}).get("Replicas", 1) if spec["Mode"] else 1
        running = self.running_tasks(created.name)
        if len(running) < replicas:
            tasks = self.api.tasks(created.name)
            latest = max(tasks, key=lambda t: t["UpdatedAt"], default=None)
            status = latest["Status"] if latest else {}
            detail = f"{status.get('State')}: {status.get('Err') or status.get('Message')}"
            return f"{len(running)}/{replicas} running (latest task {detail})"
        if spec["TaskTemplate"]["ContainerSpec"].get("Healthcheck", {}).get("Test"):
            for task in running:
                container = task["Status"]["ContainerStatus"]["ContainerID"]
                health = self.api.get(f"/containers/{container}/json")["State"].get("Health", {})
                if health.get("Status") != "healthy":
                    log = (health.get("Log") or [{}])[-1].get("Output", "").strip()[:200]
                    return f"health {health.get('Status')}: {log}"
        return ""

    def container_of(self, name: str) -> str:
        running = self.running_tasks(name)
        if not running:
            raise EngineError(f"{name} has no running task")
        return running[0]["Status"]["ContainerStatus"]["ContainerID"]


def adapt_config(body: dict) -> dict:
    """The deviations that touch a config's content (see DEVIATIONS); the name stays."""
    content = base64.b64decode(body["Data"]).decode()
    changed = content
    if "certificatesResolvers" in content and "entryPoints" in content:
        static = yaml.safe_load(content)
        for resolver in static.get("certificatesResolvers", {}).values():
            resolver["acme"]["caServer"] = NO_ACME_SERVER
        changed = yaml.safe_dump(static, sort_keys=True)
    elif "ipAllowList" in content and "middlewares" in content:
        dynamic = yaml.safe_load(content)
        for middleware in dynamic["http"]["middlewares"].values():
            if "ipAllowList" in middleware:
                middleware["ipAllowList"]["sourceRange"].append(REHEARSAL_CLIENTS)
        changed = yaml.safe_dump(dynamic, sort_keys=True)
    elif content.lstrip().startswith("{") and '"storage"' in content and '"listener"' in content:
        server = json.loads(content)
        if "s3" in server["storage"]:
            server["storage"] = {"inmem": {}}
        server.pop("disable_mlock", None)
        changed = json.dumps(server, indent=2)
    elif "deprecated_features.permit.transient_nonexcl_queues" in content:
        changed = re.sub(
            r"(?m)^deprecated_features\.permit\.transient_nonexcl_queues.*\n?", "", content
        )
    if changed == content:
        return body
    return {**body, "Data": base64.b64encode(changed.encode()).decode()}
