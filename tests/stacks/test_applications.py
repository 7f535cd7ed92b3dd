"""Every application's rendered config against the contract of what its own code reads."""

from __future__ import annotations

import copy
import re

import pytest

from stacks import applications as apps
from stacks.applications import contract
from stacks.applications.catalog import APPS, APPS_BY_NAME
from stacks.applications.render import render_config
from stacks.contracts import EnvironmentNames
from tests.conftest import CONFIG, ENVIRONMENTS

# The environment the checks' own tests render for: any one will do.
ANY_ENV = ENVIRONMENTS[0]


def rendered(env: str, app_name: str) -> tuple[dict, apps.AppContext]:
    environment = CONFIG.environments[env]
    names = EnvironmentNames(env)
    endpoints = apps.endpoints(
        names,
        CONFIG.cluster,
        environment,
        rabbitmq_url=apps.broker_url_template(names) % "<password>",
        celery_backend_url=apps.celery_backend_template(names) % "<password>",
    )
    app = APPS_BY_NAME[app_name]
    ctx = apps.app_context(app, names, endpoints, environment, CONFIG.applications)
    return render_config(app_name, ctx), ctx


def check(env: str, app_name: str, document: dict) -> list[tuple[str, str]]:
    app = APPS_BY_NAME[app_name]
    _, ctx = rendered(env, app_name)
    return contract.problems(
        contract.load(app_name),
        document,
        config_path=app.config_path,
        secret_files=set(apps.secret_files(app, CONFIG.environments[env])),
        env=apps.service_env(app, ctx),
    )


REQUIRED_KEYS = [(app.name, key.key) for app in APPS for key in contract.load(app.name).keys]


def test_every_application_has_a_contract_with_a_source_for_each_requirement():
    for app in APPS:
        loaded = contract.load(app.name)
        sources = [k.source for k in loaded.keys] + [
            r.source for r in loaded.secret_files + loaded.env
        ]
        assert sources, app.name
        assert all(re.search(r"\S+:\d+$", s) for s in sources), app.name


@pytest.mark.parametrize("env", ENVIRONMENTS)
@pytest.mark.parametrize("app_name", sorted(APPS_BY_NAME))
def test_the_rendered_config_meets_the_contract(env, app_name):
    document, _ = rendered(env, app_name)
    assert check(env, app_name, document) == []


@pytest.mark.parametrize(
    ("app_name", "key"), REQUIRED_KEYS, ids=[f"{a}:{k}" for a, k in REQUIRED_KEYS]
)
def test_removing_any_required_key_fails_the_check(app_name, key):
    # GIVEN a rendered config without one key its application reads
    document, _ = rendered(ANY_ENV, app_name)
    broken = copy.deepcopy(document)
    *parents, last = key.split(".")
    node = broken
    for part in parents:
        node = node[part]
    del node[last]
    # THEN the check names that key and where the application reads it
    (problem,) = check(ANY_ENV, app_name, broken)
    assert problem[0] == key and "is missing" in problem[1]


def test_a_key_of_the_wrong_type_fails_the_check():
    document, _ = rendered(ANY_ENV, "api")
    document["defaultOrganizationId"] = "2"
    (problem,) = check(ANY_ENV, "api", document)
    assert problem[0] == "defaultOrganizationId" and "reads a number" in problem[1]


def test_a_missing_secret_file_or_wrong_environment_fails_the_check():
    app = APPS_BY_NAME["replay-parse"]
    document, ctx = rendered(ANY_ENV, "replay-parse")
    files = set(apps.secret_files(app, CONFIG.environments[ANY_ENV])) - {
        "/app/secret/ballchasing-token"
    }
    found = contract.problems(
        contract.load("replay-parse"),
        document,
        config_path=app.config_path,
        secret_files=files,
        env={**apps.service_env(app, ctx), "ENV": "development"},
    )
    assert [key for key, _ in found] == ["/app/secret/ballchasing-token", "ENV"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_events_keys_are_unique_per_environment(env):
    keys = [
        rendered(env, app.name)[0]["transport"]["events_application_key"]
        for app in APPS
        if "events_application_key" in rendered(env, app.name)[0].get("transport", {})
    ]
    assert len(keys) == len(set(keys)) == 7
    assert all(k.startswith(f"{env}-") for k in keys)


def test_no_secret_value_is_written_into_a_rendered_config():
    # Stand-ins mark where the stack puts a Terraform expression; nothing else is secret.
    for env in ENVIRONMENTS:
        for app in APPS:
            text = str(rendered(env, app.name)[0])
            for word in ("accessKey", "secretKey", 'password"', "token"):
                assert word not in text, (env, app.name, word)


def test_the_replay_parser_and_its_producers_use_one_celery_queue():
    replay, _ = rendered(ANY_ENV, "replay-parse")
    api, _ = rendered(ANY_ENV, "api")
    submission, _ = rendered(ANY_ENV, "submission")
    queue = replay["celery"]["queue"]
    assert queue == replay["transport"]["celery-queue"] == f"{ANY_ENV}-celery"
    assert api["transport"]["celery-queue"] == submission["transport"]["celery-queue"] == queue
