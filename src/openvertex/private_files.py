"""Files and directories only their owner may read: key files, the data dir, the database.

Opening a path with `O_CREAT | O_TRUNC` follows a symlink planted there and keeps an
old file's mode; these helpers never do either.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

_NEW_PRIVATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW


def private_dir(path: Path) -> Path:
    """Create `path` (mode 700) if missing; an existing directory keeps its mode."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def write_private(path: Path, text: str) -> None:
    """Replace `path` with a new mode-600 file holding `text`.

    The text goes to a fresh, randomly named file beside `path` (`O_EXCL | O_NOFOLLOW`:
    never a file or link that was already there), which is then renamed over `path`.
    A rename replaces a symlink rather than writing through it, and readers see the
    old file or the new one whole, never half a key.
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temporary, _NEW_PRIVATE, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def create_private(path: Path) -> None:
    """Create `path` empty with mode 600 unless something is there already."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, _NEW_PRIVATE, 0o600))
