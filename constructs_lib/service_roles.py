"""The service label that says what a service is for, where tools must tell it apart.

``VolumeBackup`` labels its service ``sprocket.role=volume-backup``; scripts/diagram.py reads
the label from the synthesized JSON to name a stack's backup in the stack's title instead of
drawing it as one more box. Plain constants, no cdktf import: tools read them without
starting the jsii runtime.

    labels={ROLE_LABEL: VOLUME_BACKUP}
"""

from __future__ import annotations

ROLE_LABEL = "sprocket.role"
VOLUME_BACKUP = "volume-backup"
