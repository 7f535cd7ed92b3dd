"""Create the Spaces bucket that holds every stack's Terraform state (once, before layer_1).

    AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... python scripts/bootstrap_state.py

No stack can own the bucket its own state lives in, so this script makes it: private,
versioned (every state write is kept, so a bad apply can be rolled back by hand), and
named and placed as config/cluster.yaml says. Running it again changes nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def ensure_state_bucket(client, bucket: str) -> list[str]:
    """Create ``bucket`` if needed, private and versioned; return what was done."""
    from botocore.exceptions import ClientError

    done = []
    try:
        client.head_bucket(Bucket=bucket)
        done.append(f"bucket {bucket} exists")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise
        client.create_bucket(Bucket=bucket, ACL="private")
        done.append(f"created bucket {bucket} (private)")
    versioning = client.get_bucket_versioning(Bucket=bucket).get("Status")
    if versioning != "Enabled":
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        done.append(f"enabled versioning on {bucket}")
    return done


def main(argv: list[str] | None = None) -> int:
    import boto3
    from botocore.config import Config

    sys.path.insert(0, str(ROOT))
    from stacks.config import ConfigError, load_config

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", help="default: the Spaces endpoint of spaces_region")
    args = parser.parse_args(argv)
    try:
        cluster = load_config(ROOT).cluster
    except ConfigError as error:
        print(f"configuration is invalid:\n{error}", file=sys.stderr)
        return 2
    endpoint = args.endpoint or f"https://{cluster.spaces_region}.digitaloceanspaces.com"
    # Spaces is not AWS: no flexible-checksum headers (constructs_lib/remote_state.py).
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=Config(
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )
    for line in ensure_state_bucket(client, cluster.state.bucket):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
