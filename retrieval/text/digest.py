"""A file's content hash: the sha256 a document is known by in the manifest, the build's "unchanged"
test and the app's "changed since it was indexed", read in blocks so a large file is never held whole."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file's bytes; raises OSError when it cannot be read."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
