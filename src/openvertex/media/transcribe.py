"""Speech to text with Whisper (faster-whisper on CTranslate2, int8 on the CPU).

The model loads once, on first use, from weights verified against pinned hashes, and
is then shared: CTranslate2 queues concurrent calls from several threads safely.
"""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING

from openvertex.media.audio import Audio
from openvertex.media.cancel import CheckedProxy
from openvertex.media.whisper_weights import whisper_weights

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

# What faster-whisper asks of CTranslate2's Whisper, each a unit of work.
_MODEL_CALLS = frozenset({"encode", "generate", "detect_language", "align"})


class Transcriber:
    """Whisper `model` ("tiny.en" or "base"), loaded lazily and thread-safely."""

    def __init__(
        self, model: str = "tiny.en", *, beam_size: int = 5, threads: int | None = None
    ) -> None:
        self.weights = whisper_weights(model)
        self.description = self.weights.description
        self.beam_size = beam_size
        self.threads = threads or min(4, os.cpu_count() or 1)
        self.load_seconds: float | None = None
        self._lock = threading.Lock()
        self._model: WhisperModel | None = None

    def load(self) -> None:
        """Load and verify the weights now (transcribe does it on first use anyway)."""
        if self._model is not None:
            return
        with self._lock:
            if self._model is None:
                started = time.perf_counter()
                self._model = self._build()
                self.load_seconds = time.perf_counter() - started

    def _build(self) -> WhisperModel:
        # Imported here: faster-whisper pulls in CTranslate2 and tokenizers, which only
        # a server that actually receives audio should pay for.
        from faster_whisper import WhisperModel

        files = self.weights.read()  # in memory: the bytes checked are the bytes loaded
        model = WhisperModel(
            self.weights.name,  # only a label when `files` is given: nothing is fetched
            device="cpu",
            compute_type="int8",
            cpu_threads=self.threads,
            files=files,
        )
        # Each CTranslate2 call (encoding or decoding one 30 s window) first checks that
        # its request still wants the transcript: see media/cancel.py.
        model.model = CheckedProxy(model.model, _MODEL_CALLS)
        return model

    def transcribe(self, audio: Audio) -> str:
        """The spoken text of `audio`, one string; empty when nothing was said."""
        self.load()
        assert self._model is not None
        segments, _info = self._model.transcribe(
            audio.samples,
            language="en" if self.weights.english_only else None,
            beam_size=self.beam_size,
            vad_filter=False,  # its Silero model ships with faster-whisper, but adds latency
            condition_on_previous_text=False,  # avoids repetition loops on synthetic speech
        )
        return " ".join(segment.text.strip() for segment in segments).strip()
