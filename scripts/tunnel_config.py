"""Print one deploy-tunnel peer's wg-quick configuration, from config/cluster.yaml.

    python scripts/tunnel_config.py deploy 203.0.113.10 > /etc/wireguard/sprocket.conf
    python scripts/tunnel_config.py --hosts >> /etc/hosts

The peer's private key is read by wg-quick from /etc/wireguard/sprocket.key (or --key-file);
nothing secret is printed. ``--hosts`` prints the /etc/hosts line that sends the admin UIs'
names, Vault's API among them, through the tunnel. The deploy workflows use this with main's
configuration, never a pull request's (docs/decisions/deploy-path.md).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("peer", nargs="?", help="a name under deploy_tunnel.peers")
    parser.add_argument("endpoint", nargs="?", help="the manager's public IPv4 address")
    parser.add_argument("--key-file", default="/etc/wireguard/sprocket.key")
    parser.add_argument(
        "--hosts",
        action="store_true",
        help="print the /etc/hosts line for the admin UIs through the tunnel instead",
    )
    args = parser.parse_args(argv)
    if not args.hosts and (args.peer is None or args.endpoint is None):
        parser.error("give a peer and the manager's address, or --hosts")
    sys.path.insert(0, str(ROOT))
    # Loading the configuration starts jsii's runtime, which prints a Node 20 banner otherwise.
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from stacks.config import ConfigError, load_config
    from stacks.node_bootstrap import peer_tunnel_conf, tunnel_hosts

    try:
        cluster = load_config(ROOT).cluster
    except ConfigError as error:
        print(f"configuration is invalid:\n{error}", file=sys.stderr)
        return 2
    tunnel = cluster.deploy_tunnel
    if args.hosts:
        print(tunnel_hosts(cluster), end="")
        return 0
    problems = []
    peers = {peer.name: peer for peer in tunnel.peers}
    if args.peer not in peers:
        problems.append(
            f"config/cluster.yaml: deploy_tunnel.peers: no peer {args.peer!r}; "
            f"listed: {sorted(peers)}"
        )
    try:
        if ipaddress.ip_address(args.endpoint).version != 4:
            raise ValueError
    except ValueError:
        problems.append(f"endpoint: got {args.endpoint!r}: must be the manager's IPv4 address")
    if not tunnel.manager_public_key:
        problems.append(
            "config/cluster.yaml: deploy_tunnel.manager_public_key is not set "
            "(docs/runbook-rebuild.md, step 3)"
        )
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 2
    print(peer_tunnel_conf(tunnel, peers[args.peer], args.endpoint, args.key_file), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
