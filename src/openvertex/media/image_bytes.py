"""An image's bytes before any decoding: `data:` URIs, URL schemes, and file signatures.

Wires and engines need these to pass images on; they stay apart from `images.py`,
which decodes with Pillow, so that a wire or an upstream engine never loads it.
"""

from __future__ import annotations

import urllib.parse

from openvertex.media.base64data import decode_base64
from openvertex.media.errors import URL_SCHEMES, MediaError, unsupported_scheme

# Our name for each type → Pillow's decoder.
IMAGE_TYPES = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF"}


def url_scheme(url: str) -> str:
    """`data`, `http` or `https` for an image URL; MediaError naming those for any other."""
    scheme, sep, _ = url.partition(":")
    scheme = scheme.strip().lower() if sep else ""
    if f"{scheme}:" not in URL_SCHEMES:
        raise unsupported_scheme(scheme)
    return scheme


def load_image_bytes(url: str) -> tuple[bytes, str]:
    """The bytes and declared MIME type ("" when none) of a `data:` URI."""
    if url_scheme(url) != "data":
        raise MediaError("expected a data: URI")
    header, comma, payload = url.partition(",")
    if not comma:
        raise MediaError("malformed data: URI (no comma before the data)")
    mime, *params = (part.strip().lower() for part in header[len("data:") :].split(";"))
    if "base64" in params:
        data = decode_base64(payload, "image data")
    else:
        data = urllib.parse.unquote_to_bytes(payload)
    if not data:
        raise MediaError("image data is empty")
    return data, mime


def sniff_image(data: bytes) -> str | None:
    """Which of IMAGE_TYPES the bytes' signature says, or None."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    return None
