"""Audio decoding: every supported format, and each way client audio can be wrong."""

from __future__ import annotations

import base64
import io
import wave

import av
import numpy as np
import pytest

from openvertex.media import audio as audio_module
from openvertex.media.audio import SAMPLE_RATE, decode_audio
from openvertex.media.audio_formats import FORMATS, normalize_format, sniff_container
from openvertex.media.base64data import decode_base64
from openvertex.media.errors import MediaError

# format → (PyAV muxer, encoder, encoder rate or None for the input's, channel layout)
ENCODINGS = {
    "wav": ("wav", "pcm_s16le", None, "mono"),
    "mp3": ("mp3", "libmp3lame", None, "mono"),
    "flac": ("flac", "flac", None, "mono"),
    "ogg": ("ogg", "vorbis", 44100, "stereo"),  # FFmpeg's own Vorbis encoder wants stereo
    "opus": ("ogg", "libopus", 48000, "mono"),
    "webm": ("webm", "libopus", 48000, "mono"),
    "m4a": ("mp4", "aac", None, "mono"),
}


def encode(samples: np.ndarray, rate: int, fmt: str) -> bytes:
    """Encode float mono samples (-1..1) at `rate` as `fmt`, the way a client would."""
    muxer, codec, codec_rate, layout = ENCODINGS[fmt]
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=muxer) as out:
        options = {"strict": "experimental"} if codec == "vorbis" else None
        stream = out.add_stream(codec, rate=codec_rate or rate, options=options)
        stream.layout = layout
        frame = av.AudioFrame.from_ndarray(
            (samples * 32767).astype(np.int16).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = rate
        ctx = stream.codec_context
        resampler = av.AudioResampler(format=ctx.format, layout=layout, rate=ctx.sample_rate)
        for converted in [*resampler.resample(frame), *resampler.resample(None)]:
            out.mux(stream.encode(converted))
        out.mux(stream.encode(None))
    return buffer.getvalue()


def tone(seconds: float, rate: int = 22050, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return 0.3 * np.sin(2 * np.pi * hz * t)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_decodes_to_16k_mono_float(fmt: str) -> None:
    data = encode(tone(1.5), 22050, fmt)
    audio = decode_audio(data, fmt)
    assert audio.samples.dtype == np.float32
    assert audio.samples.ndim == 1
    assert audio.seconds == pytest.approx(1.5, abs=0.1)
    assert audio.samples.size == pytest.approx(1.5 * SAMPLE_RATE, abs=0.1 * SAMPLE_RATE)
    # The tone survives: its strongest frequency is still 440 Hz.
    spectrum = np.abs(np.fft.rfft(audio.samples))
    peak_hz = np.argmax(spectrum) * SAMPLE_RATE / audio.samples.size
    assert peak_hz == pytest.approx(440, abs=5)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("WAV", "wav"),
        ("audio/wav", "wav"),
        ("audio/x-wav", "wav"),
        ("mpeg", "mp3"),
        ("audio/mpeg", "mp3"),
        ("audio/ogg; codecs=opus", "ogg"),
        ("audio/webm", "webm"),
        ("mp4", "m4a"),
        ("audio/x-m4a", "m4a"),
    ],
)
def test_format_names_are_normalised(given: str, expected: str) -> None:
    assert normalize_format(given) == expected


def test_mime_style_format_decodes() -> None:
    audio = decode_audio(encode(tone(0.5), 22050, "mp3"), "audio/mpeg")
    assert audio.seconds == pytest.approx(0.5, abs=0.1)


def test_base64_with_line_breaks_and_no_padding_is_accepted() -> None:
    text = b64(encode(tone(0.3, 16000), 16000, "wav")).rstrip("=")
    wrapped = "\n".join(text[i : i + 76] for i in range(0, len(text), 76))
    data = decode_base64(wrapped, "audio data")
    assert decode_audio(data, "wav").seconds == pytest.approx(0.3, abs=0.01)


def test_stereo_is_mixed_down() -> None:
    audio = decode_audio(encode(tone(0.5, 44100), 44100, "ogg"), "ogg")
    assert audio.samples.ndim == 1


@pytest.mark.parametrize("bad", ["not base64!!", "QUJD$$", "é"])
def test_invalid_base64_is_refused(bad: str) -> None:
    with pytest.raises(MediaError, match="not valid base64"):
        decode_base64(bad, "audio data")


def test_empty_data_is_refused() -> None:
    with pytest.raises(MediaError, match="empty"):
        decode_audio(b"", "wav")
    with pytest.raises(MediaError, match="empty"):
        decode_base64("", "audio data")


def test_unsupported_format_lists_the_supported_ones() -> None:
    with pytest.raises(MediaError) as caught:
        decode_audio(b"x", "aiff")
    message = str(caught.value)
    assert "unsupported audio format 'aiff'" in message
    for fmt in FORMATS:
        assert fmt in message


@pytest.mark.parametrize(
    ("actual", "declared"),
    [("mp3", "wav"), ("wav", "mp3"), ("flac", "ogg"), ("ogg", "opus"), ("m4a", "webm")],
)
def test_declared_format_must_match_the_data(actual: str, declared: str) -> None:
    data = encode(tone(0.3), 22050, actual)
    with pytest.raises(MediaError, match=f"mismatch: declared {declared}"):
        decode_audio(data, declared)


def test_ogg_opus_is_also_ogg() -> None:
    data = encode(tone(0.3), 22050, "opus")
    assert sniff_container(data) == "opus"
    assert decode_audio(data, "ogg").seconds == pytest.approx(0.3, abs=0.05)


def test_unrecognised_bytes_are_refused() -> None:
    with pytest.raises(MediaError, match="not a wav file"):
        decode_audio(b"hello, this is plain text and not audio at all", "wav")


def test_undecodable_data_with_a_valid_signature_is_refused() -> None:
    corrupt = b"fLaC" + bytes(range(256)) * 8
    with pytest.raises(MediaError, match="could not be decoded as flac"):
        decode_audio(corrupt, "flac")


def test_audio_longer_than_the_limit_is_refused_from_its_header() -> None:
    data = encode(tone(3.0, 8000), 8000, "wav")
    with pytest.raises(MediaError, match="longer than the limit of 2 s"):
        decode_audio(data, "wav", max_seconds=2)


def test_audio_whose_header_gives_no_length_is_cut_while_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Streams recorded live (e.g. browser webm) often carry no duration at all.
    monkeypatch.setattr(audio_module, "_header_seconds", lambda container, stream: None)
    data = encode(tone(3.0, 8000), 8000, "flac")
    with pytest.raises(MediaError, match="longer than the limit of 2 s"):
        decode_audio(data, "flac", max_seconds=2)


def test_empty_audio_is_refused() -> None:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:  # a valid header with no samples after it
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
    with pytest.raises(MediaError, match="audio is empty"):
        decode_audio(buffer.getvalue(), "wav")


def test_a_file_with_no_audio_stream_is_refused() -> None:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=5)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    with pytest.raises(MediaError, match="no audio stream"):
        decode_audio(buffer.getvalue(), "m4a")
