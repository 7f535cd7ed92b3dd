import pytest

from constructs_lib.naming import hashed_name
from constructs_lib.validation import (
    cidr_problem,
    docker_name_problem,
    hostname_problem,
    image_problem,
    port_problem,
)


@pytest.mark.parametrize(
    "image",
    [
        "traefik:v3.7.15",
        "redis:7.4.2-alpine",
        "registry.example.com:5000/team/app:1.2.3",
        "hashicorp/vault@sha256:" + "a" * 64,
        "hashicorp/vault:1.21.4@sha256:" + "b" * 64,
    ],
)
def test_pinned_images_are_accepted(image):
    assert image_problem(image) is None


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("redis", "must be pinned"),
        ("redis:latest", "moving tag 'latest'"),
        ("grafana/grafana:stable", "moving tag 'stable'"),
        ("Redis:7", "must be an image reference"),
        ("redis@sha256:abc", "must be an image reference"),
        ("", "must be an image reference"),
    ],
)
def test_unpinned_or_malformed_images_are_refused(image, expected):
    assert expected in image_problem(image)


def test_hostnames():
    assert hostname_problem("sprocket.mlesports.gg") is None
    assert hostname_problem("api.staging.sprocket.mlesports.gg") is None
    for bad in ("localhost", "Sprocket.gg", "-a.example.com", "a..b", "a_b.example.com", ""):
        assert hostname_problem(bad), bad


def test_ports():
    assert port_problem(1) is None and port_problem(65535) is None
    for bad in (0, 65536, -1, True, "80"):
        assert port_problem(bad), bad


def test_cidrs():
    assert cidr_problem("203.0.113.0/24") is None
    assert cidr_problem("2001:db8::/32") is None
    assert "no host bits" in cidr_problem("203.0.113.5/24")
    assert cidr_problem("not-a-network")


def test_docker_names():
    assert docker_name_problem("traefik-ingress") is None
    assert docker_name_problem("-x")
    assert docker_name_problem("a" * 64)


def test_hashed_name_changes_with_content_and_fits_docker_limit():
    a = hashed_name("traefik-traefik.yml", "a: 1\n")
    assert a == "traefik-traefik-yml-" + __import__("hashlib").sha256(b"a: 1\n").hexdigest()[:10]
    assert hashed_name("traefik-traefik.yml", "a: 2\n") != a
    assert len(hashed_name("x" * 200, "c")) == 64


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("203.0.113.0/24", None),
        ("10.0.0.0/8", None),
        ("2001:db8::/32", None),
        ("0.0.0.0/0", "whole internet"),
        ("::/0", "whole internet"),
        ("0::/0", "whole internet"),
        ("0.0.0.0/0.0.0.0", "whole internet"),
        ("0.0.0.0/1", "2,147,483,648 addresses"),
        ("2000::/3", "addresses"),
        ("10.0.0.1/8", "no host bits set"),
    ],
)
def test_admin_networks_are_never_a_large_part_of_the_internet(value, expected):
    from constructs_lib.validation import admin_network_problem

    problem = admin_network_problem(value)
    assert problem is None if expected is None else expected in problem


@pytest.mark.parametrize(
    ("value", "moving"),
    [
        ("redis:8.10.1", False),
        ("redis:alpine", True),
        ("nginx:mainline", True),
        ("redis@sha256:" + "a" * 64, False),
        ("redis:alpine@sha256:" + "a" * 64, False),
        ("grafana/grafana:latest", True),
    ],
)
def test_infrastructure_images_name_a_version(value, moving):
    from constructs_lib.validation import pinned_version_problem

    problem = pinned_version_problem(value)
    assert (problem is not None and "moving tag" in problem) is moving


@pytest.mark.parametrize(
    "check",
    ["hostname_problem", "docker_name_problem", "image_problem"],
)
def test_a_trailing_newline_is_refused(check):
    from constructs_lib import validation

    good = {
        "hostname_problem": "sprocket.example.com",
        "docker_name_problem": "redis",
        "image_problem": "redis:8.10.1",
    }[check]
    assert getattr(validation, check)(good) is None
    assert getattr(validation, check)(good + "\n") is not None
