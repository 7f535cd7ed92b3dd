"""Check jsii's shared package cache, remove entries that are marked complete but are not, and
(with --warm) fill it in one process before a parallel test run.

Usage: jsii_cache.py [--warm]

Why (jsii 1.142.0's runtime, read from jsii/_embedded/jsii/lib__program.js and its source map):
- Every jsii process links each package it loads from one cache shared by all of them,
  ``$JSII_RUNTIME_PACKAGE_CACHE_ROOT`` or ``~/.cache/aws/jsii/package-cache``, into its own
  ``$TMPDIR/jsii-kernel-*/node_modules`` (a symlink: the runtime runs with --preserve-symlinks).
- A missing entry is extracted under a lock, ``<entry>.lock``. Another process breaks that lock
  when it looks older than 120 s, even if its holder is alive (a suspended or stopped run, a
  clock step), and then deletes and re-extracts the entry while the holder still writes it.
  Reproduced here by ageing a live holder's lock: the entry ended up marked complete with 87 of
  cdktf's 2,468 files missing (package.json, .jsii, lib/index.js among them).
- Nothing repairs such an entry: the runtime's expiry pass runs on ``beforeExit``, which its
  ``process.exit`` skips. Every later synthesis fails with "Cannot find module 'cdktf'" or
  "Expected to find .jsii file", until the entry is removed.

So `make test` runs this first: it removes a damaged entry, then loads every package once,
serially, so the parallel workers only ever hit complete entries (a hit takes no lock and
writes nothing). Run it when no synthesis is running: it removes entries without jsii's lock.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import re
import shutil
import sys
import tarfile
from pathlib import Path

# The packages the app loads: the cdktf library, constructs and the prebuilt providers.
MODULES = (
    "constructs",
    "cdktf",
    "cdktf_cdktf_provider_digitalocean",
    "cdktf_cdktf_provider_docker",
    "cdktf_cdktf_provider_random",
    "cdktf_cdktf_provider_vault",
)
# What jsii writes into an entry once it is extracted (DiskCache).
MARKER = ".jsii-runtime-package-cache"


def cache_root() -> Path:
    """Where jsii keeps the cache (defaultCacheRoot: ~/.cache/aws/jsii/package-cache on Linux,
    ``$TMPDIR/aws-jsii-package-cache-<uid>`` without a home)."""
    if root := os.environ.get("JSII_RUNTIME_PACKAGE_CACHE_ROOT"):
        return Path(root)
    home = os.environ.get("HOME") or os.path.expanduser("~")
    if home and os.path.isabs(home):
        return Path(home) / ".cache" / "aws" / "jsii" / "package-cache"
    import tempfile

    return Path(tempfile.gettempdir()) / f"aws-jsii-package-cache-{os.getuid()}"


def tarballs() -> list[Path]:
    """Each package's jsii tarball, found without importing it (an import starts jsii)."""
    found = []
    for module in MODULES:
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:
            raise SystemExit(f"jsii_cache.py: {module} is not installed: run `make synth` first")
        found += sorted((Path(spec.origin).parent / "_jsii").glob("*.jsii.tgz"))
    return found


def entry_parent(root: Path, name: str, version: str) -> Path:
    """The directory holding ``name``@``version``'s entries, one per tarball digest
    (DiskCache.entry: characters outside [@a-z0-9_./-] become "_", "/" nests)."""
    parts = re.sub(r"[^@a-z0-9_./-]+", "_", name).split("/")
    return root.joinpath(*filter(None, parts), version)


def missing_files(tarball: Path, entry: Path) -> tuple[int, int]:
    """How many of the tarball's files (its first path component stripped, as jsii extracts
    them) the entry lacks or holds at another size, and how many it has in all."""
    missing = total = 0
    with tarfile.open(tarball) as archive:
        for member in archive:
            if not member.isfile():
                continue
            total += 1
            relative = member.name.split("/", 1)[1] if "/" in member.name else member.name
            path = entry / relative
            if not path.is_file() or path.stat().st_size != member.size:
                missing += 1
    return missing, total


def package_of(tarball: Path) -> tuple[str, str]:
    with tarfile.open(tarball) as archive:
        manifest = archive.extractfile("package/package.json")
        assert manifest is not None, tarball
        data = json.load(manifest)
    return data["name"], data["version"]


def repair(root: Path) -> list[str]:
    """Remove every complete-marked entry of our packages that lacks files; what was done."""
    done = []
    for tarball in tarballs():
        name, version = package_of(tarball)
        parent = entry_parent(root, name, version)
        for entry in sorted(parent.iterdir()) if parent.is_dir() else []:
            if not (entry / MARKER).is_file():
                continue  # not complete: jsii itself removes and re-extracts it
            missing, total = missing_files(tarball, entry)
            if missing:
                shutil.rmtree(entry)
                done.append(
                    f"removed {name}@{version}'s damaged entry {entry} ({missing} of {total} "
                    "files missing or cut short); it is extracted again on next use"
                )
    return done


def warm() -> None:
    """Load every package in this one process, so that any missing entry is extracted now."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    for module in MODULES:
        importlib.import_module(module)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--warm", action="store_true", help="then load every package once")
    args = parser.parse_args(argv)
    root = cache_root()
    for line in repair(root):
        print(f"jsii package cache: {line}", file=sys.stderr)
    if args.warm:
        warm()
    print(f"jsii package cache: {len(MODULES)} packages checked in {root}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
