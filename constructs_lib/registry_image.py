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


class StackImages:
    """The images of a configuration (``config/images.yaml``), each resolved to the digest its
    tag points at when the plan is made, once per stack and only for the images the stack
    uses. A reference that already carries a digest is used as it is.

        images = stack_images(self, config.images)
        SwarmServiceProps(name="redis", image=images.redis, ...)  # redis:8.10.1@sha256:...
    """

    def __init__(self, stack: Construct, images: object) -> None:
        self._stack, self._images, self._resolved = stack, images, {}

    def __getattr__(self, name: str) -> str:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._resolved:
            reference = getattr(self._images, name)
            self._resolved[name] = pinned_image(
                self._stack, f"image_{name}", reference, by_digest="@" not in reference
            )
        return self._resolved[name]


def stack_images(scope: Construct, images: object) -> StackImages:
    """The ``StackImages`` of the stack ``scope`` is in (one data source per image and stack)."""
    from cdktf import TerraformStack

    stack = TerraformStack.of(scope)
    found = getattr(stack, "_sprocket_images", None)
    if found is None:
        found = StackImages(stack, images)
        stack._sprocket_images = found
    return found
