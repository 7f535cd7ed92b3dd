"""Deterministic names for immutable Swarm objects.

Swarm configs and secrets cannot be edited in place, and Docker refuses to delete
one a running service still uses ("config is in use"). Naming each with a hash of
its content, and creating the replacement before destroying the old one, turns a
content change into a normal rolling update of the services that mount it.
"""

from __future__ import annotations

import hashlib
import re

HASH_LENGTH = 10
# Docker caps config and secret names at 64 characters.
MAX_NAME = 64


def content_hash(content: str | bytes) -> str:
    data = content.encode() if isinstance(content, str) else content
    return hashlib.sha256(data).hexdigest()[:HASH_LENGTH]


def slug(text: str) -> str:
    """Lower-case ``text`` to the characters Docker and Terraform ids both accept."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def hashed_name(base: str, content: str | bytes) -> str:
    """``<base>-<10 hex of sha256(content)>``, trimmed to Docker's 64-character limit."""
    suffix = content_hash(content)
    return f"{slug(base)[: MAX_NAME - HASH_LENGTH - 1]}-{suffix}"
