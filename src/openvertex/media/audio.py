"""Decode client audio (any of FORMATS) into 16 kHz mono float32 for Whisper.

Decoding is bounded in memory by what it produces: each decoded frame's length at
16 kHz is counted before it is resampled, and the audio is refused once that passes
the limit, whatever its header says. A few bytes of FLAC can declare 65,535 silent
samples a frame at 50 Hz (22 minutes at 16 kHz): counted first, such a frame is refused
before the resampler expands it. Sample rates and channel counts no recording uses are
refused outright. So decoding holds at most the limit's samples (600 s: 37 MiB) and
one frame.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import av
import av.error
import numpy as np

from openvertex.media.audio_formats import DEMUXERS, check_container, normalize_format
from openvertex.media.cancel import checkpoint
from openvertex.media.errors import MediaError

SAMPLE_RATE = 16_000
# Encoders pad (MP3 and AAC priming, last-frame fill): allow this much over the limit.
_SLACK_SECONDS = 0.5
# Below 4 kHz speech is not intelligible; above 384 kHz no recorder goes; 7.1 at most.
MIN_RATE, MAX_RATE, MAX_CHANNELS = 4_000, 384_000, 8


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
    with av.open(io.BytesIO(data), "r", format=demuxer) as container:
        if not container.streams.audio:
            raise MediaError(f"the {declared} data contains no audio stream")
        stream = container.streams.audio[0]
        _check_shape(stream.codec_context.sample_rate, stream.codec_context.channels)
        header_seconds = _header_seconds(container, stream)
        if header_seconds is not None and header_seconds > max_seconds + _SLACK_SECONDS:
            raise _too_long(max_seconds, f" ({header_seconds:.0f} s)")
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        chunks: list[np.ndarray] = []
        total = 0
        for frame in container.decode(stream):
            checkpoint()  # the request may be gone: see media/cancel.py
            # Counted before resampling (the header may lie or say nothing; a frame at a
            # low rate grows hundreds of times): no more than the limit is ever made.
            _check_shape(frame.sample_rate, len(frame.layout.channels))
            total += math.ceil(frame.samples * SAMPLE_RATE / frame.sample_rate)
            if total > limit:
                raise _too_long(max_seconds)
            chunks.extend(_resample(resampler, frame))
        chunks.extend(_resample(resampler, None))
    samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    return samples.astype(np.float32, copy=False)


def _resample(resampler: av.AudioResampler, frame: av.AudioFrame | None) -> list[np.ndarray]:
    try:
        return [out.to_ndarray().reshape(-1) for out in resampler.resample(frame)]
    except ValueError:  # PyAV's resampler takes one rate and layout a stream
        raise MediaError("audio changes its sample rate or channels midway") from None


def _check_shape(rate: int, channels: int) -> None:
    """Refuse rates and channel counts that no recording has (only a crafted file)."""
    if not MIN_RATE <= rate <= MAX_RATE:
        raise MediaError(
            f"audio sample rate {rate} Hz is not supported (from {MIN_RATE} to {MAX_RATE} Hz)"
        )
    if not 1 <= channels <= MAX_CHANNELS:
        raise MediaError(f"audio with {channels} channels is not supported (1 to {MAX_CHANNELS})")


def _header_seconds(container: av.container.InputContainer, stream: av.AudioStream) -> float | None:
    """The length the file claims, read before decoding anything; None when it says none."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _too_long(max_seconds: float, detail: str = "") -> MediaError:
    return MediaError(f"audio is longer than the limit of {max_seconds:g} s{detail}")
