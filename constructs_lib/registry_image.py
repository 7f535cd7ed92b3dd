"""An image reference pinned to the digest its tag points at when the plan is made.

With ``by_digest``, a ``docker_registry_image`` data source resolves the tag at plan
time and the service runs ``repo:tag@sha256:...``: the plan shows exactly which build
is deployed, a later push to the same tag changes nothing until the next deploy, and a
node never pulls something else than what was reviewed.

    image = pinned_image(self, "web_image", "example/web:main", by_digest=True)
    SwarmService(self, "web", SwarmServiceProps(name="web", image=image, ...))
"""

from __future__ import annotations

from cdktf_cdktf_provider_docker.data_docker_registry_image import DataDockerRegistryImage
from constructs import Construct

from constructs_lib.errors import raise_if
from constructs_lib.validation import image_problem


def pinned_image(scope: Construct, id: str, reference: str, *, by_digest: bool) -> str:
    """``reference``, or ``reference@<digest>`` read from the registry when ``by_digest``."""
    problem = image_problem(reference)
    raise_if("pinned_image", [f"reference={reference!r}: {problem}"] if problem else [])
    if not by_digest:
        return reference
    lookup = DataDockerRegistryImage(scope, id, name=reference)
    return f"{reference}@{lookup.sha256_digest}"
