"""sha256 of files and of a set of files: the audit trail's fingerprints, in one place."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """The sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def fingerprint(sha_by_path: Mapping[str, str]) -> str:
    """One sha256 over every input's path and sha256: identifies the inputs of a run."""
    digest = hashlib.sha256()
    for path in sorted(sha_by_path):
        digest.update(f"{path}\0{sha_by_path[path]}\n".encode())
    return digest.hexdigest()
