"""Each synthesized ``docker_*`` resource as the Engine API request kreuzwerker/docker v3.9.0
sends for it.

The provider is not run (it cannot be downloaded here); this module builds the same request
bodies from the same attributes. Each function cites the provider's source at tag v3.9.0 (commit
d7d7ff7f89775a7b71f925a8724de5ce66228019, files under ``internal/provider/``; ST is
``resource_docker_service_structures.go``, FN ``resource_docker_service_funcs.go``, CS
``resource_docker_container_structures.go``) and, for what its Docker client (moby v28.5.2)
adds, moby's ``client/``. The bodies are the Engine API's JSON (api v1.41).

What the provider does and the rehearsal cannot: ``ServiceCreate`` runs with
``QueryRegistry=true`` (FN:45), so the client asks the registry for the image's digest and
pins ``name:tag@sha256:...`` (moby client/service_create.go:52-53, 88-102); with no registry
the client only warns and keeps the reference, which is what happens here. The
``X-Registry-Auth`` header (FN:43-44) is not sent: nothing is pulled. Input is a resource
whose Terraform expressions are already evaluated (``rehearsal``).

Only what the stacks use is mapped; an attribute the module does not know raises
``UnmappedAttribute`` naming it, so a new attribute in the stacks cannot be dropped silently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

NANOSECONDS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")


class UnmappedAttribute(KeyError):
    pass


def duration(text: str) -> int:
    """Go's time.ParseDuration, in nanoseconds (the provider parses every duration string with
    it: resource_docker_service_structures.go, ``parseStringDuration``)."""
    if text in ("0", ""):
        return 0
    parts = _DURATION_PART.findall(text)
    if "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a Go duration: {text!r}")
    return int(sum(float(n) * NANOSECONDS[u] for n, u in parts))


def _block(value: Any) -> dict:
    """A nested block: cdktf writes a single block as an object (or a one-element list)."""
    if isinstance(value, list):
        return value[0] if value else {}
    return value or {}


def _known(resource: Mapping, allowed: set[str], where: str) -> None:
    unknown = set(resource) - allowed - {"//", "lifecycle", "depends_on", "provider"}
    if unknown:
        raise UnmappedAttribute(
            f"{where}: {sorted(unknown)} not mapped by tests/e2e/swarm/provider.py"
        )


def labels(items: list[dict] | None) -> dict[str, str]:
    """The ``labels`` blocks as a map (``labelSetToMap``, helpers.go:17-26)."""
    return {item["label"]: item["value"] for item in items or []}


# --- docker_network: resource_docker_network_funcs.go:26-83, resourceDockerNetworkCreate ---


def network_request(resource: Mapping) -> dict:
    _known(
        resource,
        {"name", "driver", "internal", "attachable", "ingress", "options", "labels", "ipv6"},
        "docker_network",
    )
    body: dict[str, Any] = {
        "Name": resource["name"],
        # Not read by the provider; its client sends it below API 1.44 (moby
        # client/network_create.go:22-29).
        "CheckDuplicate": True,
        "Driver": resource.get("driver", ""),
        "Internal": bool(resource.get("internal", False)),
        "Attachable": bool(resource.get("attachable", False)),
        "Ingress": bool(resource.get("ingress", False)),
        "Options": resource.get("options", {}),
        "Labels": labels(resource.get("labels")),
        # ipam_driver defaults to "default", so IPAM is always sent (funcs:56-73).
        "IPAM": {"Driver": "default", "Options": None, "Config": None},
    }
    if resource.get("ipv6"):
        body["EnableIPv6"] = True
    return body


# --- docker_volume: resource_docker_volume.go:166-286, resourceDockerVolumeCreate ---------
# The ``cluster`` block (ClusterVolumeSpec, lines 187-276) is not mapped: ``_known`` rejects it.


def volume_request(resource: Mapping) -> dict:
    _known(resource, {"name", "driver", "driver_opts", "labels"}, "docker_volume")
    body = {"Name": resource["name"]}  # each field only when set
    if resource.get("driver"):
        body["Driver"] = resource["driver"]
    if resource.get("driver_opts"):
        body["DriverOpts"] = resource["driver_opts"]
    if resource.get("labels"):
        body["Labels"] = labels(resource["labels"])
    return body


# --- docker_secret / docker_config: resource_docker_secret.go:91-118,
# resource_docker_config.go:45-66 -----------------------------------------------------------
# Both base64-decode ``data`` (StdEncoding) and send the bytes in the spec; the Engine API's
# JSON carries bytes as standard base64, so the body holds the attribute as it is.


def secret_request(resource: Mapping) -> dict:
    _known(resource, {"name", "data", "labels"}, "docker_secret")
    body = {"Name": resource["name"], "Data": resource["data"]}
    if resource.get("labels"):
        body["Labels"] = labels(resource["labels"])
    return body


def config_request(resource: Mapping) -> dict:
    _known(resource, {"name", "data"}, "docker_config")
    return {"Name": resource["name"], "Data": resource["data"]}


# --- docker_service: resource_docker_service_structures.go, createServiceSpec ------------


def _container_spec(spec: Mapping) -> dict:
    _known(
        spec,
        {"image", "command", "args", "hostname", "env", "dir", "user", "groups", "read_only",
         "mounts", "stop_signal", "stop_grace_period", "healthcheck", "secrets", "configs",
         "cap_add", "cap_drop", "labels", "isolation"},
        "container_spec",
    )  # fmt: skip
    result: dict[str, Any] = {"Image": spec["image"]}
    if "labels" in spec:
        result["Labels"] = labels(spec["labels"])
    for key, field in (("command", "Command"), ("args", "Args"), ("groups", "Groups")):
        if spec.get(key):
            result[field] = list(spec[key])
    for key, field in (
        ("hostname", "Hostname"),
        ("dir", "Dir"),
        ("user", "User"),
        ("stop_signal", "StopSignal"),
    ):
        if spec.get(key):
            result[field] = spec[key]
    if spec.get("env"):
        # ``mapTypeMapValsToStringSlice`` (CS:128-136): "KEY=value" per entry (in Go's random
        # map order; sorted here).
        result["Env"] = [f"{key}={value}" for key, value in sorted(spec["env"].items())]
    if spec.get("read_only"):
        result["ReadOnly"] = True
    if spec.get("cap_add"):
        result["CapabilityAdd"] = list(spec["cap_add"])
    if spec.get("cap_drop"):
        result["CapabilityDrop"] = list(spec["cap_drop"])
    # Always sent, 0 when unset (ST:858-861); so are Healthcheck and DNSConfig (ST:862-906)
    # and Isolation, whose schema default is "default" (ST:951-953).
    result["StopGracePeriod"] = duration(spec.get("stop_grace_period", ""))
    result["Healthcheck"] = {}
    result["DNSConfig"] = {}
    result["Isolation"] = spec.get("isolation", "default")
    if spec.get("mounts"):
        result["Mounts"] = [_mount(m) for m in spec["mounts"]]
    if spec.get("healthcheck"):
        check = _block(spec["healthcheck"])
        # ``test`` is optional (resource_docker_service.go:320-325); unset, ST:867-869 sets an
        # empty Test, which HealthConfig's ``json:",omitempty"`` leaves out of the body.
        result["Healthcheck"] = {"Test": list(check["test"])} if check.get("test") else {}
        result["Healthcheck"] |= {
            "Interval": duration(check.get("interval", "0s")),
            "Timeout": duration(check.get("timeout", "0s")),
            "StartPeriod": duration(check.get("start_period", "0s")),
            "Retries": int(check.get("retries", 0)),
        }
    for key, field, id_key, name_key in (
        ("secrets", "Secrets", "SecretID", "SecretName"),
        ("configs", "Configs", "ConfigID", "ConfigName"),
    ):  # ST:907-950
        if spec.get(key):
            result[field] = [
                {
                    "File": {
                        "Name": item["file_name"],
                        # Schema defaults: file_uid/file_gid "0", file_mode 0444.
                        "UID": str(item.get("file_uid", "0")),
                        "GID": str(item.get("file_gid", "0")),
                        "Mode": int(item.get("file_mode", 0o444)),
                    },
                    id_key: item[f"{key[:-1]}_id"],
                    name_key: item.get(f"{key[:-1]}_name", ""),
                }
                for item in spec[key]
            ]
    return result


def _mount(mount: Mapping) -> dict:  # ST:778-854
    _known(
        mount,
        {
            "type",
            "source",
            "target",
            "read_only",
            "volume_options",
            "bind_options",
            "tmpfs_options",
        },
        "mounts",
    )
    result: dict[str, Any] = {"Type": mount["type"], "Target": mount["target"]}
    if mount.get("source"):
        result["Source"] = mount["source"]
    if mount.get("read_only"):
        result["ReadOnly"] = True
    if mount.get("volume_options"):
        options = _block(mount["volume_options"])
        result["VolumeOptions"] = {
            "NoCopy": options.get("no_copy", False),
            "Labels": labels(options.get("labels")),
            # Always created with the block, both keys being always present (ST:819-830).
            "DriverConfig": {
                "Name": options.get("driver_name", ""),
                "Options": options.get("driver_options", {}),
            },
        }
    if mount.get("tmpfs_options"):
        # The provider panics on any tmpfs_options block (ST:835-848, issue #563).
        raise UnmappedAttribute("mounts.tmpfs_options crashes kreuzwerker/docker v3.9.0")
    if mount.get("bind_options"):
        result["BindOptions"] = {
            "Propagation": _block(mount["bind_options"]).get("propagation", "rprivate")
        }
    return result


def _update_config(config: Mapping) -> dict:  # createUpdateOrRollbackConfig, ST:1259-1285
    return {
        "Parallelism": int(config.get("parallelism", 1)),
        "Delay": duration(config.get("delay", "0s")),
        "FailureAction": config.get("failure_action", "pause"),
        "Monitor": duration(config.get("monitor", "5s")),
        # A string in the schema (validateStringIsFloatRatio, validators.go:31-74),
        # strconv.ParseFloat'ed into a float32 (ST:1275-1278).
        "MaxFailureRatio": float(config.get("max_failure_ratio", "0.0")),
        "Order": config.get("order", "stop-first"),
    }


def service_spec(resource: Mapping) -> dict:
    """The ``swarm.ServiceSpec`` body of ``POST /services/create`` (createServiceSpec,
    ST:577-621; the task template ST:633-693)."""
    _known(
        resource,
        {
            "name",
            "labels",
            "task_spec",
            "mode",
            "update_config",
            "rollback_config",
            "endpoint_spec",
            "auth",
            "converge_config",
        },
        "docker_service",
    )
    task = _block(resource["task_spec"])
    _known(
        task,
        {
            "container_spec",
            "resources",
            "restart_policy",
            "placement",
            "networks_advanced",
            "force_update",
            "log_driver",
            "runtime",
        },
        "task_spec",
    )
    template: dict[str, Any] = {"ContainerSpec": _container_spec(_block(task["container_spec"]))}
    # Resources, RestartPolicy and Placement are always sent, {} when unset (ST:648-668);
    # ForceUpdate always, 0 by default (ST:669-671).
    resources = _block(task.get("resources"))
    template["Resources"] = {}
    if resources.get("limits"):
        template["Resources"]["Limits"] = _resources(_block(resources["limits"]))
    if resources.get("reservation"):
        template["Resources"]["Reservations"] = _resources(_block(resources["reservation"]))
    policy = _block(task.get("restart_policy"))
    template["RestartPolicy"] = {}
    if policy:
        # Delay, MaxAttempts and Window are pointers, sent as 0 when unset (ST:1056-1081).
        template["RestartPolicy"] = {
            "Condition": policy.get("condition", ""),
            "Delay": duration(policy.get("delay", "")),
            "MaxAttempts": int(policy.get("max_attempts", 0)),
            "Window": duration(policy.get("window", "")),
        }
    placement = _block(task.get("placement"))
    template["Placement"] = {}
    if placement.get("constraints"):
        template["Placement"]["Constraints"] = list(placement["constraints"])
    if placement.get("max_replicas"):
        template["Placement"]["MaxReplicas"] = int(placement["max_replicas"])
    template["ForceUpdate"] = int(task.get("force_update", 0))
    if task.get("networks_advanced"):  # TaskTemplate.Networks, ST:1110-1128
        template["Networks"] = [
            {
                "Target": n["name"],
                "Aliases": list(n.get("aliases", [])),
                "DriverOpts": n.get("driver_opts", {}),
            }
            for n in task["networks_advanced"]
        ]
    if task.get("log_driver"):
        driver = _block(task["log_driver"])
        template["LogDriver"] = {"Name": driver["name"], "Options": driver.get("options", {})}
    # Labels is nil (JSON null) when unset (ST:584-588, createServiceLabels ST:624-629).
    spec: dict[str, Any] = {
        "Name": resource["name"],
        "Labels": labels(resource["labels"]) if resource.get("labels") else None,
        "TaskTemplate": template,
    }
    mode = _block(resource.get("mode"))  # ST:1152-1185: {} when unset, replicas default 1
    if mode.get("global"):
        spec["Mode"] = {"Global": {}}
    elif "replicated" in mode:
        spec["Mode"] = {
            "Replicated": {"Replicas": int(_block(mode["replicated"]).get("replicas", 1))}
        }
    else:
        spec["Mode"] = {}
    if resource.get("update_config"):
        spec["UpdateConfig"] = _update_config(_block(resource["update_config"]))
    if resource.get("rollback_config"):
        spec["RollbackConfig"] = _update_config(_block(resource["rollback_config"]))
    endpoint = _block(resource.get("endpoint_spec"))  # always sent (ST:1205-1254)
    spec["EndpointSpec"] = {}
    if endpoint.get("mode"):
        spec["EndpointSpec"]["Mode"] = endpoint["mode"]
    ports = []
    for port in endpoint.get("ports", []):
        config = {
            "Name": port.get("name", ""),
            "Protocol": port.get("protocol", "tcp"),
            "TargetPort": int(port["target_port"]),
            "PublishMode": port.get("publish_mode", "ingress"),
        }
        if port.get("published_port"):  # unset: the engine picks one
            config["PublishedPort"] = int(port["published_port"])
        ports.append(config)
    if ports:
        spec["EndpointSpec"]["Ports"] = ports
    return spec


def _resources(block: Mapping) -> dict:
    result = {}
    if block.get("nano_cpus"):
        result["NanoCPUs"] = int(block["nano_cpus"])
    if block.get("memory_bytes"):
        result["MemoryBytes"] = int(block["memory_bytes"])
    return result


# --- reading back: what the provider stores in state after a create or a refresh -----------
# resourceDockerServiceRead flattens the engine's service spec (FN:83-167) with the flatteners
# of ST:21-568; only the attributes the stacks write are mapped here.


def short_dur(nanoseconds: int) -> str:
    """``shortDur`` (ST:1306-1315): Go's time.Duration.String, a trailing "m0s"/"h0m" cut."""
    seconds, rest = divmod(int(nanoseconds), 10**9)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    tail = f"{seconds}.{rest:09d}".rstrip("0").rstrip(".") + "s" if rest else f"{seconds}s"
    text = f"{hours}h{minutes}m{tail}" if hours else f"{minutes}m{tail}" if minutes else tail
    if text.endswith("m0s"):
        text = text[:-2]
    if text.endswith("h0m"):
        text = text[:-2]
    return text


def _update_read(config: Mapping | None) -> dict | None:  # ST:76-91
    if config is None:
        return None
    return {
        "parallelism": config.get("Parallelism", 0),
        "delay": short_dur(config.get("Delay", 0)),
        "failure_action": config.get("FailureAction", ""),
        "monitor": short_dur(config.get("Monitor", 0)),
        "max_failure_ratio": f"{config.get('MaxFailureRatio', 0.0):.1f}",
        "order": config.get("Order", ""),
    }


def _file_refs(refs: list[dict], kind: str) -> list[dict]:  # flattenServiceSecrets/Configs
    return sorted(
        (
            {
                f"{kind}_id": ref[f"{kind.capitalize()}ID"],
                f"{kind}_name": ref.get(f"{kind.capitalize()}Name", ""),
                "file_name": ref["File"]["Name"],
                "file_uid": ref["File"]["UID"],
                "file_gid": ref["File"]["GID"],
                "file_mode": ref["File"]["Mode"],
            }
            for ref in refs
        ),
        key=lambda r: r["file_name"],
    )


def read_back(service: Mapping) -> dict:
    """The state the provider records from ``GET /services/{id}``, for what the stacks write."""
    spec = service["Spec"]
    task, container = spec["TaskTemplate"], spec["TaskTemplate"]["ContainerSpec"]
    resources = task.get("Resources") or {}
    policy = task.get("RestartPolicy")
    constraints = sorted((task.get("Placement") or {}).get("Constraints") or [])
    read: dict[str, Any] = {
        "name": spec["Name"],
        "labels": dict(spec.get("Labels") or {}),
        "mode": {"global": "Global" in spec["Mode"], **(
            {"replicated": {"replicas": spec["Mode"]["Replicated"]["Replicas"]}}
            if "Replicated" in spec["Mode"] else {}
        )},
        "update_config": _update_read(spec.get("UpdateConfig")),
        "rollback_config": _update_read(spec.get("RollbackConfig")),
        "task_spec": {
            "container_spec": {
                "image": container.get("Image"),
                "command": container.get("Command"),
                "args": container.get("Args"),
                "hostname": container.get("Hostname"),
                "env": dict(item.split("=", 1) for item in container.get("Env", [])) or None,
                "user": container.get("User"),
                "groups": container.get("Groups"),
                "stop_grace_period": short_dur(container["StopGracePeriod"])
                if "StopGracePeriod" in container else None,
                "healthcheck": {
                    "test": container["Healthcheck"].get("Test"),
                    "interval": short_dur(container["Healthcheck"].get("Interval", 0)),
                    "timeout": short_dur(container["Healthcheck"].get("Timeout", 0)),
                    "start_period": short_dur(container["Healthcheck"].get("StartPeriod", 0)),
                    "retries": container["Healthcheck"].get("Retries", 0),
                } if container.get("Healthcheck") else None,
                "secrets": _file_refs(container.get("Secrets", []), "secret") or None,
                "configs": _file_refs(container.get("Configs", []), "config") or None,
                "cap_add": container.get("CapabilityAdd"),
                "mounts": sorted(
                    ({"target": m["Target"], "source": m.get("Source", ""), "type": m["Type"],
                      "read_only": m.get("ReadOnly", False)} for m in container.get("Mounts", [])),
                    key=lambda m: m["target"],
                ) or None,
            },
            "resources": {
                "limits": {
                    "memory_bytes": (resources.get("Limits") or {}).get("MemoryBytes", 0),
                    "nano_cpus": (resources.get("Limits") or {}).get("NanoCPUs", 0),
                },
                "reservation": {
                    "memory_bytes": (resources.get("Reservations") or {}).get("MemoryBytes", 0),
                    "nano_cpus": (resources.get("Reservations") or {}).get("NanoCPUs", 0),
                },
            },
            # flattenTaskRestartPolicy (ST:444-466): every pointer the engine returns is set.
            "restart_policy": {
                "condition": policy.get("Condition"),
                "delay": short_dur(policy["Delay"]) if "Delay" in policy else None,
                "max_attempts": policy.get("MaxAttempts"),
                "window": short_dur(policy["Window"]) if "Window" in policy else None,
            } if policy else None,
            "placement": {"constraints": constraints},
            "networks_advanced": sorted(
                ({"name": n["Target"]} for n in task.get("Networks", [])), key=lambda n: n["name"]
            ) or None,
        },
    }  # fmt: skip
    return read
