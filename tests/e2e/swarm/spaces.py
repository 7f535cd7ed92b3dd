"""A local S3 API the rehearsal's containers reach, standing in for DigitalOcean Spaces.

``moto_server`` (the moto[server] package, the same S3 stand-in the remote-state tests use)
listens on the swarm's gateway bridge address: the one address of this machine that containers
on a non-internal overlay network reach (their traffic to it is the machine's own input, not
forwarded, so the egress guard of tests/e2e/swarm/engine.py still stops everything else).
Buckets are made for every ``digitalocean_spaces_bucket`` a rehearsed stack declares, versioned
as the stacks make them.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config

MOTO_SERVER = Path(sys.executable).with_name("moto_server")
START_TIMEOUT_S = 30
# Credentials moto accepts; it checks none. Containers use the rehearsal's generated keys.
KEY_ID, SECRET = "rehearsal-key-id", "rehearsal-secret"


@dataclass
class SpacesStandIn:
    endpoint: str  # http://<gateway>:<port>

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}),
        )

    def create_bucket(self, name: str) -> None:
        client = self.client()
        client.create_bucket(Bucket=name)
        client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})

    def keys(self, bucket: str) -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def spaces_stand_in(host: str, log_path: Path) -> Iterator[SpacesStandIn]:
    port = _free_port(host)
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [str(MOTO_SERVER), "-H", host, "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"moto_server exited ({server.returncode}): {log_path}")
            try:
                socket.create_connection((host, port), timeout=0.5).close()
                break
            except OSError as refused:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"moto_server not listening after {START_TIMEOUT_S} s"
                    ) from refused
                time.sleep(0.1)
        yield SpacesStandIn(endpoint=f"http://{host}:{port}")
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
