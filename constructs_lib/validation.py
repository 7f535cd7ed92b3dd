"""Pure checks shared by construct props and the environment model.

Each check returns ``None`` when the value is acceptable, otherwise one sentence
that says what is allowed. Callers prefix the field name and the value.
Values that are unresolved Terraform tokens are the caller's to skip.
"""

from __future__ import annotations

import ipaddress
import re

_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
# \Z, not $: Python's $ also matches before a trailing newline, which would let "host\n" in.
_HOSTNAME = re.compile(rf"^{_LABEL}(\.{_LABEL})+\Z")
# Docker object names (services, networks, volumes, configs, secrets).
_DOCKER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}\Z")
# repository[:tag][@sha256:digest]; repository may carry a registry host and port.
_IMAGE = re.compile(
    r"^(?P<repo>[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[a-f0-9]{64}))?\Z"
)
_MUTABLE_TAGS = frozenset({"latest", "stable", "edge", "nightly"})


def hostname_problem(value: str) -> str | None:
    if not isinstance(value, str) or not _HOSTNAME.match(value):
        return "must be a fully qualified lower-case DNS name such as 'sprocket.example.com'"
    if len(value) > 253:
        return "must be at most 253 characters long"
    return None


def port_problem(value: int) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        return "must be a whole number from 1 to 65535"
    return None


def cidr_problem(value: str) -> str | None:
    try:
        ipaddress.ip_network(value, strict=True)
    except (TypeError, ValueError):
        return (
            "must be an IPv4 or IPv6 network in CIDR form with no host bits set, "
            "e.g. 203.0.113.0/24"
        )
    return None


# The widest network an admin allow-list may name: a /8 (IPv4) or /16 (IPv6).
_WIDEST_ADMIN_PREFIX = {4: 8, 6: 16}


def admin_network_problem(value: str, opened: str = "SSH") -> str | None:
    """A network ``opened`` (SSH, the admin UIs) may be opened to: valid, and not a large part
    of the internet (however it is spelled: '0.0.0.0/0', '::/0', '0.0.0.0/0.0.0.0', or halves
    such as '0.0.0.0/1')."""
    if problem := cidr_problem(value):
        return problem
    network = ipaddress.ip_network(value, strict=True)
    if network.prefixlen == 0:
        return f"opens {opened} to the whole internet; list admin networks"
    if network.prefixlen < _WIDEST_ADMIN_PREFIX[network.version]:
        widest = _WIDEST_ADMIN_PREFIX[network.version]
        return (
            f"opens {opened} to {network.num_addresses:,} addresses; list admin networks "
            f"(a /{widest} at the widest)"
        )
    return None


def docker_name_problem(value: str) -> str | None:
    if not isinstance(value, str) or not _DOCKER_NAME.match(value):
        return (
            "must be 1-63 characters of letters, digits, '_', '.', '-', "
            "starting with a letter or digit"
        )
    return None


def pinned_version_problem(value: str) -> str | None:
    """An infrastructure image: exact, and a tag naming a version (it has a digit) unless a
    digest pins it. Tags such as 'alpine' or 'mainline' move with every release."""
    if problem := image_problem(value):
        return problem
    match = _IMAGE.match(value)
    tag, digest = match.group("tag"), match.group("digest")
    if tag and not digest and not re.search(r"[0-9]", tag):
        return f"must not use the moving tag '{tag}': pin an exact version or a digest"
    return None


def image_problem(value: str) -> str | None:
    """Images must name an exact version: a tag other than a moving one, or a digest."""
    match = _IMAGE.match(value) if isinstance(value, str) else None
    if not match:
        return "must be an image reference such as 'redis:7.4.2-alpine' or 'repo@sha256:<64 hex>'"
    tag, digest = match.group("tag"), match.group("digest")
    if not tag and not digest:
        return "must be pinned: add an exact version tag or an @sha256 digest"
    if tag in _MUTABLE_TAGS and not digest:
        return f"must not use the moving tag '{tag}': pin an exact version or a digest"
    return None
