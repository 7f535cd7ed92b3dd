"""What DigitalOcean offers, as far as the configuration is checked against it.

The provider validates none of this (it sends region and size slugs to the API as given), so a
typo would surface only as a failed apply half-way through. `make synth` checks the
configuration against these lists instead, naming what is allowed.

Where they come from, and how to refresh them (an API token is needed; nothing here calls the
API):

- regions: ``doctl compute region list`` (the datacenter regions Droplets are created in;
  https://docs.digitalocean.com/platform/regional-availability/);
- Droplet sizes: ``doctl compute size list``; the slug names the vCPUs and memory
  (``s-4vcpu-8gb``: 4 vCPUs, 8 GiB), which the capacity check uses;
- database sizes and PostgreSQL versions: ``doctl databases options slugs --engine pg`` and
  ``doctl databases options versions --engine pg``;
- a volume is 1 GiB to 16 TiB (https://docs.digitalocean.com/products/volumes/details/limits/).

A slug missing here that DigitalOcean does offer is added here, in one line.
"""

from __future__ import annotations

import re

REGIONS = frozenset(
    {"ams3", "atl1", "blr1", "fra1", "lon1", "nyc1", "nyc3", "sfo2", "sfo3", "sgp1", "syd1", "tor1"}
)

# Basic (shared CPU: regular, and premium Intel/AMD), General Purpose (g-, gd-),
# CPU-Optimized (c-) and Memory-Optimized (m-) plans.
_BASIC = ("1vcpu-1gb", "1vcpu-2gb", "2vcpu-2gb", "2vcpu-4gb", "4vcpu-8gb", "8vcpu-16gb")
_DEDICATED = {
    "g": ("2vcpu-8gb", "4vcpu-16gb", "8vcpu-32gb", "16vcpu-64gb", "32vcpu-128gb"),
    "gd": ("2vcpu-8gb", "4vcpu-16gb", "8vcpu-32gb", "16vcpu-64gb", "32vcpu-128gb"),
    "c": ("2", "4", "8", "16", "32"),
    "m": ("2vcpu-16gb", "4vcpu-32gb", "8vcpu-64gb", "16vcpu-128gb", "24vcpu-192gb"),
}
# CPU-Optimized slugs name only the vCPUs: 2 GiB of memory per vCPU.
_C_MEMORY_GIB_PER_CPU = 2

DROPLET_SIZES = frozenset(
    {f"s-{size}" for size in _BASIC}
    | {f"s-{size}-{cpu}" for size in _BASIC for cpu in ("intel", "amd")}
    | {f"{family}-{size}" for family, sizes in _DEDICATED.items() for size in sizes}
)

DATABASE_SIZES = frozenset(
    {
        "db-s-1vcpu-1gb",
        "db-s-1vcpu-2gb",
        "db-s-2vcpu-4gb",
        "db-s-4vcpu-8gb",
        "db-s-6vcpu-16gb",
        "db-s-8vcpu-32gb",
        "db-s-16vcpu-64gb",
    }
)
POSTGRES_VERSIONS = frozenset({"14", "15", "16", "17"})

VOLUME_MIN_GIB, VOLUME_MAX_GIB = 1, 16 * 1024

_SLUG = re.compile(r"^[a-z]+-(?P<cpus>\d+)(?:vcpu-(?P<gib>\d+)gb)?(?:-(?:intel|amd))?$")


def size_resources(slug: str) -> tuple[int, int]:
    """(memory in MiB, vCPUs) of a Droplet size in DROPLET_SIZES."""
    match = _SLUG.match(slug)
    if slug not in DROPLET_SIZES or not match:
        raise ValueError(f"unknown Droplet size {slug!r}")
    cpus = int(match["cpus"])
    gib = int(match["gib"]) if match["gib"] else cpus * _C_MEMORY_GIB_PER_CPU
    return gib * 1024, cpus


def one_of(kind: str, allowed: frozenset[str], value: str) -> str:
    if value not in allowed:
        raise ValueError(
            f"{value!r} is not a {kind} DigitalOcean offers; allowed: {sorted(allowed)}"
        )
    return value
