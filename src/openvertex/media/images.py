"""Client images: `data:` URIs, decoding with Pillow, and plain facts about a picture.

Only JPEG, PNG, WebP and GIF (first frame) are opened, each with its own decoder only,
after the bytes' signature is checked against the type the client declared.
"""

from __future__ import annotations

import contextlib
import io
import urllib.parse
import warnings
from collections.abc import Iterator

from PIL import Image, ImageOps

from openvertex.media.base64data import decode_base64
from openvertex.media.colours import dominant_colours
from openvertex.media.errors import URL_SCHEMES, MediaError, unsupported_scheme

# Our name for each type → Pillow's decoder.
IMAGE_TYPES = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF"}
_MIME_TYPES = {
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/pjpeg": "jpeg",
    "image/png": "png",
    "image/x-png": "png",
    "image/webp": "webp",
    "image/gif": "gif",
}
MAX_PIXELS = 50_000_000


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


def open_image(
    data: bytes, declared_mime: str | None, *, max_pixels: int = MAX_PIXELS
) -> Image.Image:
    """Decode to an RGB image (first frame, EXIF-upright, transparency over white)."""
    declared = _declared_type(declared_mime)
    actual = sniff_image(data)
    if actual is None:
        raise MediaError(f"image data is not a supported image ({_supported()})")
    if declared is not None and declared != actual:
        raise MediaError(f"image type mismatch: declared {declared}, but the data is {actual}")
    img = _decode(data, actual, max_pixels)
    return _flatten(img)


def _declared_type(mime: str | None) -> str | None:
    if not mime:
        return None
    base = mime.split(";", 1)[0].strip().lower()
    if base not in _MIME_TYPES:
        raise MediaError(f"unsupported image type {base[:40]!r}; supported: {_supported()}")
    return _MIME_TYPES[base]


def _decode(data: bytes, kind: str, max_pixels: int) -> Image.Image:
    with _decoding(kind, max_pixels):
        img = Image.open(io.BytesIO(data), formats=[IMAGE_TYPES[kind]])
    if img.width * img.height > max_pixels:  # known from the header, before decoding
        raise _too_large(max_pixels)
    with _decoding(kind, max_pixels):
        img.load()  # the first frame, for GIF and animated WebP
        return ImageOps.exif_transpose(img)


@contextlib.contextmanager
def _decoding(kind: str, max_pixels: int) -> Iterator[None]:
    """Turn Pillow's many failure types into one MediaError for the client."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    except Image.DecompressionBombError:
        raise _too_large(max_pixels) from None
    except (OSError, SyntaxError, EOFError, ValueError):
        raise MediaError(f"image data could not be decoded as {kind}") from None


def _too_large(max_pixels: int) -> MediaError:
    return MediaError(f"image is too large (over {max_pixels:,} pixels)")


def _flatten(img: Image.Image) -> Image.Image:
    """RGB, with any transparency laid over white (transparent pixels are often black)."""
    if img.has_transparency_data:
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return img.convert("RGB")


def _supported() -> str:
    return ", ".join(IMAGE_TYPES)


def image_facts(img: Image.Image) -> str:
    """One short line: size, shape and main colours, e.g. for a text-only model's prompt."""
    width, height = img.size
    shape = "square" if width == height else ("landscape" if width > height else "portrait")
    colours = ", ".join(f"{name} {share:.0%}" for name, share in dominant_colours(img))
    return f"{width}x{height} pixels, {shape}; main colours: {colours}"
