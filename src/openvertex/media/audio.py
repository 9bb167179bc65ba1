"""Decode client audio (any of FORMATS) into 16 kHz mono float32 for Whisper."""

from __future__ import annotations

import io
from dataclasses import dataclass

import av
import av.error
import numpy as np

from openvertex.media.audio_formats import DEMUXERS, check_container, normalize_format
from openvertex.media.errors import MediaError

SAMPLE_RATE = 16_000
# Encoders pad (MP3 and AAC priming, last-frame fill): allow this much over the limit.
_SLACK_SECONDS = 0.5


@dataclass(frozen=True, eq=False)
class Audio:
    """Decoded audio: float32 mono samples at SAMPLE_RATE, and their length in seconds."""

    samples: np.ndarray
    seconds: float


def decode_audio(data: bytes, fmt: str, *, max_seconds: float = 600) -> Audio:
    """Audio bytes in `fmt` → Audio; MediaError for anything a client got wrong."""
    declared = normalize_format(fmt)
    if not data:
        raise MediaError("audio data is empty")
    container = check_container(declared, data)
    try:
        samples = _decode(data, DEMUXERS[container], declared, max_seconds)
    except av.error.FFmpegError:
        raise MediaError(f"audio data could not be decoded as {declared}") from None
    if samples.size == 0:
        raise MediaError("audio is empty (no samples decoded)")
    return Audio(samples=samples, seconds=samples.size / SAMPLE_RATE)


def _decode(data: bytes, demuxer: str, declared: str, max_seconds: float) -> np.ndarray:
    limit = int((max_seconds + _SLACK_SECONDS) * SAMPLE_RATE)
    with av.open(io.BytesIO(data), format=demuxer) as container:
        if not container.streams.audio:
            raise MediaError(f"the {declared} data contains no audio stream")
        stream = container.streams.audio[0]
        header_seconds = _header_seconds(container, stream)
        if header_seconds is not None and header_seconds > max_seconds + _SLACK_SECONDS:
            raise _too_long(max_seconds, f" ({header_seconds:.0f} s)")
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        chunks: list[np.ndarray] = []
        total = 0
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                chunk = out.to_ndarray().reshape(-1)
                chunks.append(chunk)
                total += chunk.size
            if total > limit:  # the header may lie or be missing: count as we go
                raise _too_long(max_seconds)
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    return samples.astype(np.float32, copy=False)


def _header_seconds(container: av.container.InputContainer, stream: av.AudioStream) -> float | None:
    """The length the file claims, read before decoding anything; None when it says none."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _too_long(max_seconds: float, detail: str = "") -> MediaError:
    return MediaError(f"audio is longer than the limit of {max_seconds:g} s{detail}")
