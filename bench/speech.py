"""Speech: Whisper tiny.en against base on dictated sentences, for accuracy and speed.

The sentences of sets/speech.json (places, numbers, times) are spoken by espeak-ng
with a fixed voice and speed, so every run hears the same audio, and transcribed in
process by each model, warm: loaded first (timed apart) and run once untimed.

Word accuracy is 1 - WER over all sentences together (word edits over reference words).
Both sides are normalised first: lowercase; `$N` → `N dollars`, `%` → `percent`; `7:30`
and `7.30` → `7 30`, `7:00` → `7`; hyphens split words; other punctuation is dropped
(`p.m.` → `pm`, `o'clock` → `oclock`); then every number in digits is written in words
(`25` → `twenty five`, `200` → `two hundred`), so "seven" and "7" match; 3 or 4 digits
ending in 10 to 99 are read in pairs, as times are said (`1215` → `twelve fifteen`). So
quantities such as "two hundred fifty" and ordinals are not matched: the sentences
avoid them.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from openvertex.catalog import find, installed
from openvertex.media.audio import Audio, decode_audio
from openvertex.media.transcribe import Transcriber

HERE = Path(__file__).resolve().parent
QUALITY = json.loads((HERE / "sets" / "speech.json").read_text())
SENTENCES: list[str] = QUALITY["sentences"]
MODELS = ("tiny.en", "base")
COLUMNS = ("model", "word accuracy", "exact sentences", "audio s per wall s", "load s")

_ONES = [
    *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    *("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen"),
    *("seventeen", "eighteen", "nineteen"),
]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def number_words(n: int) -> str:
    """`n` in words, as espeak-ng says it ("two hundred five"), so digits match words."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    for size, name in ((1_000_000, "million"), (1000, "thousand"), (100, "hundred")):
        if n >= size:
            rest = "" if n % size == 0 else " " + number_words(n % size)
            return f"{number_words(n // size)} {name}{rest}"
    raise AssertionError(n)


def normalise(text: str) -> list[str]:
    """The words of `text` in one comparable form (see the module docstring)."""
    text = text.lower()
    text = re.sub(r"(\d)[:.]00\b", r"\1", text)  # "7:00" → "7", "$90.00" → "$90"
    text = re.sub(r"\$(\d+)", r"\1 dollars", text).replace("%", " percent")
    text = re.sub(r"(?<=\d)[:.](?=\d)", " ", text)  # "7:30" → "7 30"; "4.8.30" → "4 8 30"
    text = re.sub(r"(\d),(\d)", r"\1\2", text).replace("-", " ")  # "1,000"; "twenty-five"
    text = re.sub(r"[^a-z0-9 ]+", "", text)
    return " ".join(_spoken(w) if w.isdigit() else w for w in text.split()).split()


def _spoken(digits: str) -> str:
    """Digits as said aloud: 3 or 4 ending in 10 to 99 in pairs, as times are."""
    if len(digits) in (3, 4) and digits[-2] != "0":  # "1215" → "twelve fifteen"
        return f"{number_words(int(digits[:-2]))} {number_words(int(digits[-2:]))}"
    return number_words(int(digits))


def word_edits(reference: list[str], hypothesis: list[str]) -> int:
    """Word-level Levenshtein distance (jiwer is not installed; this is all WER needs)."""
    row = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, 1):
        previous, row[0] = row[:], i
        for j, hyp_word in enumerate(hypothesis, 1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word))
    return row[-1]


def speak_all(sentences: list[str]) -> list[Audio]:
    """Each sentence as espeak-ng WAV, decoded as a client's upload would be."""
    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng is missing: apt-get install espeak-ng")
    clips = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, text in enumerate(sentences):
            wav = Path(tmp) / f"{i}.wav"
            voice, wpm = QUALITY["voice"], str(QUALITY["words_per_minute"])
            subprocess.run(["espeak-ng", "-v", voice, "-s", wpm, "-w", wav, text], check=True)
            clips.append(decode_audio(wav.read_bytes(), "wav"))
    return clips


def score(references: list[str], heard: list[str]) -> tuple[float, int]:
    """Word accuracy over all sentences together, and how many were heard exactly."""
    pairs = [(normalise(r), normalise(h)) for r, h in zip(references, heard, strict=True)]
    edits = sum(word_edits(r, h) for r, h in pairs)
    return 1 - edits / sum(len(r) for r, _ in pairs), sum(r == h for r, h in pairs)


@dataclass(frozen=True)
class ModelResult:
    """One model's pass over all clips."""

    model: str
    load_seconds: float
    transcripts: list[str]
    audio_seconds: float
    wall_seconds: float


def measure(model: str, clips: list[Audio]) -> ModelResult:
    """Load `model` (timed apart), warm it on one clip, then time one pass over all."""
    transcriber = Transcriber(model)
    transcriber.load()
    transcriber.transcribe(clips[0])
    started = time.perf_counter()
    transcripts = [transcriber.transcribe(clip) for clip in clips]
    wall = time.perf_counter() - started
    audio = sum(clip.seconds for clip in clips)
    return ModelResult(model, transcriber.load_seconds or 0.0, transcripts, audio, wall)


def measure_all(quick: bool = False) -> tuple[list[str], list[ModelResult]]:
    """The sentences used (three when quick) and each model's result on them."""
    import faster_whisper  # noqa: F401  imported here so neither model's load time pays for it

    sentences = SENTENCES[:3] if quick else SENTENCES
    clips = speak_all(sentences)
    return sentences, [measure(model, clips) for model in MODELS if pulled(model)]


def pulled(model: str) -> bool:
    """Whether the model's packages are here (base comes with `openvertex models pull`)."""
    entry = find(f"whisper-{model}")
    if entry is not None and installed(entry):
        return True
    print(f"Whisper {model} is not installed: `openvertex models pull whisper-{model}`")
    return False


def table(sentences: list[str], results: list[ModelResult]) -> str:
    """The markdown table: one row a model."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in results:
        accuracy, exact = score(sentences, r.transcripts)
        cells = (
            f"Whisper {r.model}",
            f"{accuracy:.1%}",
            f"{exact}/{len(sentences)}",
            f"{r.audio_seconds / r.wall_seconds:.1f}",
            f"{r.load_seconds:.2f}",
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def transcripts(sentences: list[str], results: list[ModelResult]) -> str:
    """Each sentence and what each model heard, for reading the errors behind the numbers."""
    lines = []
    for i, text in enumerate(sentences):
        lines.append(f"- {text}")
        lines += [f"  - {r.model}: {r.transcripts[i]}" for r in results]
    return "\n".join(lines)


def run_speech(quick: bool = False) -> str:
    """The speech table, for bench/run.py."""
    return table(*measure_all(quick))


if __name__ == "__main__":
    used, results = measure_all(quick="--quick" in sys.argv[1:])
    report = table(used, results) + "\n\n" + transcripts(used, results) + "\n"
    print(report)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "speech.md").write_text(report)
