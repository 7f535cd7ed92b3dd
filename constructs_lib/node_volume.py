"""Block storage for one node: a DigitalOcean volume and its attachment.

Creates one ``digitalocean_volume`` (``prevent_destroy``: it holds the stateful services'
data) and one ``digitalocean_volume_attachment`` to the node. The volume is formatted once,
on creation; ``initial_filesystem_*`` are ForceNew and never read back
(resource_volume.go:73,83,214-232 at v2.71.0), so they are ignored afterwards, or an imported
volume would be replaced. Its size grows in place and never shrinks (resource_volume.go:113-123).
The attachment has no importer; creating it adopts an existing attachment to the same node
(resource_volume_attachment.go:53).

    NodeVolume(self, "volume", NodeVolumeProps(
        name="sprocket-docker-volumes", region="nyc3", size_gib=100, droplet_id=node.id))
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf import TerraformResourceLifecycle, Token
from cdktf_cdktf_provider_digitalocean.volume import Volume
from cdktf_cdktf_provider_digitalocean.volume_attachment import VolumeAttachment
from constructs import Construct

FILESYSTEM = "ext4"


@dataclass(frozen=True, kw_only=True)
class NodeVolumeProps:
    name: str
    region: str
    size_gib: int
    # The node's id (an expression).
    droplet_id: str
    # Default: "docker-volumes". The filesystem label, on creation.
    label: str = "docker-volumes"


class NodeVolume(Construct):
    def __init__(self, scope: Construct, id: str, props: NodeVolumeProps) -> None:
        super().__init__(scope, id)
        volume = Volume(
            self,
            "Default",
            name=props.name,
            region=props.region,
            size=props.size_gib,
            description="Docker volumes of the node that holds the volumes",
            initial_filesystem_type=FILESYSTEM,
            initial_filesystem_label=props.label,
            lifecycle=TerraformResourceLifecycle(
                prevent_destroy=True,
                ignore_changes=["initial_filesystem_type", "initial_filesystem_label"],
            ),
        )
        VolumeAttachment(
            scope,
            f"{id}_attachment",
            droplet_id=Token.as_number(props.droplet_id),
            volume_id=volume.id,
        )
        self.id: str = volume.id
