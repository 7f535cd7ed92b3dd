"""A stand-in for Grafana's provisioning checks, applied to the files the stacks synthesize.

Grafana itself cannot run here (no registry, no Debian or PyPI package), and it has no offline
validator (its CLI has only ``plugins`` and ``admin``). These are the checks its provisioning
code makes, as read in grafana/grafana (2026 sources; grafana/alerting at 1de0d0f):
pkg/services/provisioning/dashboards/{config_reader,file_reader}.go,
pkg/services/provisioning/alerting/{contact_point_types,notification_policy_types,
rules_types}.go, pkg/services/ngalert/models/alert_rule.go (ValidateAlertRule), the
alertmanager route validation (root route: a receiver and no matchers; every receiver
defined), and receivers/discord/v1/config.go (url required). Beyond Grafana's own checks, a
panel whose datasource is not provisioned or whose query is empty, and a rule whose
notification reaches no contact point with a URL, are problems: Grafana accepts them and shows
an empty panel or drops the alert.

    problems = check(files, secret_targets)  # [] when every file passes
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Mapping

import yaml

UID = re.compile(r"^[a-zA-Z0-9\-_]{1,40}$")
EXPRESSION = "__expr__"
NO_DATA_STATES = {"Alerting", "NoData", "OK", "KeepLast"}
ERROR_STATES = {"Alerting", "Error", "OK", "KeepLast"}
# The scheduler's base interval: a group's interval must be a multiple of it.
BASE_INTERVAL_S = 10
_DURATION = re.compile(r"^(\d+)(s|m|h|d)$")
_FILE_REFERENCE = re.compile(r"\$__file\{([^}]+)\}")
QUERY_KEY = {"influxdb": "query", "loki": "expr"}


def _seconds(text: str) -> int | None:
    match = _DURATION.match(str(text))
    if not match:
        return None
    number, unit = int(match[1]), match[2]
    return number * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


def _under(directory: str, files: Mapping[str, str], suffixes: tuple[str, ...]) -> dict:
    return {
        path: content
        for path, content in files.items()
        if posixpath.dirname(path) == directory and path.endswith(suffixes)
    }


def datasources(files: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """uid -> type of every provisioned datasource, and the problems found."""
    found: dict[str, str] = {}
    problems = []
    for path, content in _under(
        "/etc/grafana/provisioning/datasources", files, (".yaml", ".yml")
    ).items():
        for source in yaml.safe_load(content).get("datasources", []):
            uid = source.get("uid")
            if not uid or not UID.match(uid):
                problems.append(f"{path}: datasource {source.get('name')!r} has no valid uid")
                continue
            found[uid] = source.get("type", "")
    return found, problems


def _check_target(where: str, target: Mapping, sources: Mapping[str, str]) -> list[str]:
    uid = (target.get("datasource") or {}).get("uid")
    if uid not in sources:
        return [f"{where}: datasource {uid!r} is not provisioned ({sorted(sources)})"]
    key = QUERY_KEY.get(sources[uid], "query")
    if not str(target.get(key, "")).strip():
        return [f"{where}: empty {key}"]
    return []


def check_dashboards(files: Mapping[str, str], sources: Mapping[str, str]) -> list[str]:
    problems = []
    providers = _under("/etc/grafana/provisioning/dashboards", files, (".yaml", ".yml"))
    if not providers:
        return ["no dashboard provider file in /etc/grafana/provisioning/dashboards"]
    names = []
    for path, content in providers.items():
        document = yaml.safe_load(content)
        if document.get("apiVersion", 0) < 1:
            problems.append(f"{path}: apiVersion must be 1")
        for provider in document.get("providers", []):
            names.append(provider.get("name"))
            directory = (provider.get("options") or {}).get("path")
            if not isinstance(directory, str):
                problems.append(f"{path}: provider {provider.get('name')!r} has no options.path")
                continue
            dashboards = _under(directory, files, (".json",))
            if not dashboards:
                problems.append(f"{path}: no dashboard in {directory}")
            uids = []
            for file, text in dashboards.items():
                dashboard = json.loads(text)
                uids.append(dashboard.get("uid"))
                if not str(dashboard.get("title", "")).strip():
                    problems.append(f"{file}: no title")
                if not UID.match(str(dashboard.get("uid", ""))):
                    problems.append(f"{file}: uid {dashboard.get('uid')!r} is not a valid uid")
                panels = dashboard.get("panels") or []
                if not panels:
                    problems.append(f"{file}: no panels")
                ids = [p.get("id") for p in panels]
                if len(set(ids)) != len(ids):
                    problems.append(f"{file}: panel ids {ids} repeat")
                for panel in panels:
                    where = f"{file} panel {panel.get('title')!r}"
                    targets = panel.get("targets") or []
                    if not targets:
                        problems.append(f"{where}: no query")
                    for target in targets:
                        problems += _check_target(where, target, sources)
                for variable in (dashboard.get("templating") or {}).get("list", []):
                    uid = (variable.get("datasource") or {}).get("uid")
                    if variable.get("type") == "query" and uid not in sources:
                        problems.append(f"{file} variable {variable.get('name')!r}: {uid!r}")
            if len(set(uids)) != len(uids):
                problems.append(f"{path}: dashboard uids {uids} repeat")
    if len(set(names)) != len(names):
        problems.append(f"dashboard provider names {names} are not unique")
    return problems


def _contact_points(document: Mapping, secrets: set[str], path: str) -> tuple[set, list[str]]:
    usable = set()
    problems = []
    for point in document.get("contactPoints", []):
        name = point.get("name")
        if not name:
            problems.append(f"{path}: a contact point has no name")
            continue
        receivers = point.get("receivers") or []
        if not receivers:
            problems.append(f"{path}: contact point {name!r} has no receivers")
        for receiver in receivers:
            for field in ("uid", "type", "settings"):
                if not receiver.get(field):
                    problems.append(f"{path}: a receiver of {name!r} has no {field}")
            url = str((receiver.get("settings") or {}).get("url", ""))
            files = _FILE_REFERENCE.findall(url)
            if not url or (url.startswith("$__file") and not files):
                problems.append(f"{path}: receiver of {name!r} has no url")
                continue
            missing = [f for f in files if f not in secrets]
            if missing:
                problems.append(f"{path}: {name!r} reads {missing}, which is not mounted")
                continue
            usable.add(name)
    return usable, problems


def _check_routes(route: Mapping, contacts: set, path: str, root: bool) -> list[str]:
    problems = []
    receiver = route.get("receiver")
    if root and not receiver:
        problems.append(f"{path}: root route must specify a default receiver")
    if root and (route.get("matchers") or route.get("object_matchers")):
        problems.append(f"{path}: root route must not have any matchers")
    if receiver and receiver not in contacts:
        problems.append(f"{path}: receiver {receiver!r} is no contact point with a url")
    group_by = route.get("group_by") or []
    if len(set(group_by)) != len(group_by):
        problems.append(f"{path}: group_by {group_by} repeats a label")
    for child in route.get("routes") or []:
        problems += _check_routes(child, contacts, path, root=False)
    return problems


def _check_rule(rule: Mapping, sources: Mapping[str, str], where: str) -> list[str]:
    problems = []
    for field in ("uid", "title", "condition", "data"):
        if not rule.get(field):
            problems.append(f"{where}: no {field}")
    if rule.get("uid") and not UID.match(rule["uid"]):
        problems.append(f"{where}: uid {rule['uid']!r} is not a valid uid")
    refs = [d.get("refId") for d in rule.get("data") or []]
    if rule.get("condition") not in refs:
        problems.append(f"{where}: condition {rule.get('condition')!r} is none of {refs}")
    for query in rule.get("data") or []:
        uid = query.get("datasourceUid")
        model = query.get("model") or {}
        if uid == EXPRESSION:
            expression = str(model.get("expression", "")).lstrip("$")
            if model.get("type") in ("reduce", "threshold") and expression not in refs:
                problems.append(f"{where}: {query.get('refId')} reads {expression!r}")
            if model.get("type") == "threshold" and len(model.get("conditions") or []) != 1:
                problems.append(f"{where}: a threshold needs exactly one condition")
        else:
            problems += _check_target(f"{where} {query.get('refId')}", {**model, "datasource": {
                "uid": uid}}, sources)  # fmt: skip
    if rule.get("noDataState", "NoData") not in NO_DATA_STATES:
        problems.append(f"{where}: noDataState {rule.get('noDataState')!r}")
    if rule.get("execErrState", "Alerting") not in ERROR_STATES:
        problems.append(f"{where}: execErrState {rule.get('execErrState')!r}")
    if _seconds(rule.get("for", "0s")) is None:
        problems.append(f"{where}: for {rule.get('for')!r} is not a duration")
    return problems


def check_alerting(
    files: Mapping[str, str], sources: Mapping[str, str], secrets: set[str]
) -> list[str]:
    problems = []
    documents = _under("/etc/grafana/provisioning/alerting", files, (".yaml", ".yml", ".json"))
    if not documents:
        return ["no alerting file in /etc/grafana/provisioning/alerting"]
    contacts: set = set()
    policies = []
    rules = 0
    for path, content in documents.items():
        document = yaml.safe_load(content)
        usable, found = _contact_points(document, secrets, path)
        contacts |= usable
        problems += found
        policies += [(path, p) for p in document.get("policies", [])]
        for group in document.get("groups", []):
            where = f"{path} group {group.get('name')!r}"
            for field in ("name", "folder"):
                if not group.get(field):
                    problems.append(f"{where}: no {field}")
            interval = _seconds(group.get("interval", ""))
            if not interval or interval % BASE_INTERVAL_S:
                problems.append(f"{where}: interval {group.get('interval')!r}")
            uids = [r.get("uid") for r in group.get("rules", [])]
            if len(set(uids)) != len(uids):
                problems.append(f"{where}: rule uids repeat")
            for rule in group.get("rules", []):
                rules += 1
                problems += _check_rule(rule, sources, f"{where} rule {rule.get('title')!r}")
    if rules and not policies:
        problems.append("alert rules but no notification policy: no alert reaches a contact")
    for path, policy in policies:
        problems += _check_routes(policy, contacts, path, root=True)
    return problems


def check(files: Mapping[str, str], secret_targets: set[str]) -> list[str]:
    """Every problem in Grafana's provisioning ``files`` (target path -> content)."""
    sources, problems = datasources(files)
    return (
        problems + check_dashboards(files, sources) + check_alerting(files, sources, secret_targets)
    )
