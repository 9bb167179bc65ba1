"""Which audio formats we take, and what container the bytes really are.

The declared format is checked against the data's own signature, so a client that
labels an mp3 as wav gets a clear "mismatch" instead of a decoder guessing.
"""

from __future__ import annotations

from openvertex.media.errors import MediaError

FORMATS = ("wav", "mp3", "flac", "ogg", "opus", "webm", "m4a")

_ALIASES = {
    "wave": "wav",
    "x-wav": "wav",
    "vnd.wave": "wav",
    "mpeg": "mp3",
    "mpga": "mp3",
    "mpeg3": "mp3",
    "x-mp3": "mp3",
    "x-flac": "flac",
    "oga": "ogg",
    "vorbis": "ogg",
    "mp4": "m4a",
    "x-m4a": "m4a",
}

# What each declared format accepts, by the container `sniff_container` reports.
_ACCEPTS = {
    "wav": {"wav"},
    "mp3": {"mp3"},
    "flac": {"flac"},
    "ogg": {"ogg", "opus"},
    "opus": {"opus"},
    "webm": {"webm"},
    "m4a": {"m4a"},
}

# FFmpeg demuxer for each container: forcing it means untrusted bytes are never probed
# against every format FFmpeg knows.
DEMUXERS = {
    "wav": "wav",
    "mp3": "mp3",
    "flac": "flac",
    "ogg": "ogg",
    "opus": "ogg",
    "webm": "matroska",
    "m4a": "mp4",
}


def normalize_format(fmt: str) -> str:
    """`wav`, `audio/wav`, `audio/mpeg`, `MP3`, ... → one of FORMATS, else MediaError."""
    name = fmt.strip().lower().split(";", 1)[0].strip().removeprefix("audio/")
    name = _ALIASES.get(name, name)
    if name not in FORMATS:
        raise MediaError(
            f"unsupported audio format {fmt[:40]!r}; supported formats: {', '.join(FORMATS)}"
        )
    return name


def sniff_container(data: bytes) -> str | None:
    """The container the bytes' signature says, or None when it is none we know."""
    head = data[:64]
    if head[:4] in (b"RIFF", b"RF64", b"BW64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "opus" if b"OpusHead" in head[28:40] else "ogg"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if head[4:8] == b"ftyp":
        return "m4a"
    if head[:3] == b"ID3" or _is_mpeg_audio_frame(head):
        return "mp3"
    return None


def _is_mpeg_audio_frame(head: bytes) -> bool:
    """An MPEG audio frame header: 11 sync bits, then a layer that is not 0 (AAC/ADTS)."""
    return len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06 != 0


def check_container(declared: str, data: bytes) -> str:
    """The data's container, if it is what `declared` (normalised) allows; else MediaError."""
    actual = sniff_container(data)
    if actual is None:
        raise MediaError(f"audio data is not a {declared} file (unrecognised content)")
    if actual not in _ACCEPTS[declared]:
        raise MediaError(f"audio format mismatch: declared {declared}, but the data is {actual}")
    return actual
