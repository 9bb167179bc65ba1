"""Client images: `data:` URIs, decoding with Pillow, and plain facts about a picture.

Only JPEG, PNG, WebP and GIF (first frame) are opened, each with its own decoder only,
after the bytes' signature is checked against the type the client declared.

Decoding is bounded in memory: the size is read from the header, and a picture whose
decoding would take over DECODE_BUDGET (128 MiB) is refused before anything is decoded.
JPEG decodes straight at a reduced scale, and a picture larger than its reader needs is
shrunk strip by strip, so no full-size copy of the decoded frame is made.
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

from PIL import Image

from openvertex.media.colours import dominant_colours
from openvertex.media.errors import MediaError
from openvertex.media.image_bytes import IMAGE_TYPES, sniff_image

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
# What decoding one picture may take, checked from its header before decoding; and the
# peak each decoder needs, bytes a pixel, measured with Pillow 13 on 24-megapixel images
# (libwebp keeps several full-size buffers). 128 MiB is a 22-megapixel PNG, a
# 33-megapixel JPEG, an 8-megapixel WebP.
DECODE_BUDGET = 128 * 2**20
_DECODE_BYTES_PER_PIXEL = {"jpeg": 4, "png": 6, "webp": 16, "gif": 2}
_STRIP_ROWS = 64  # rows of the reduced picture made at a time, when shrinking
# EXIF orientation → the transposition that makes the picture upright.
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True, eq=False)
class Picture:
    """A decoded, upright RGB image, and the size it was sent at (upright too)."""

    image: Image.Image
    size: tuple[int, int]


def open_image(
    data: bytes, declared_mime: str | None, *, max_pixels: int = MAX_PIXELS
) -> Image.Image:
    """Decode to an RGB image (first frame, EXIF-upright, transparency over white)."""
    return read_image(data, declared_mime, max_pixels=max_pixels).image


def read_image(
    data: bytes,
    declared_mime: str | None,
    *,
    max_pixels: int = MAX_PIXELS,
    max_side: int | None = None,
) -> Picture:
    """Like `open_image`, shrunk so that no side exceeds `max_side` (when given).

    What a reader cannot use is never held: a JPEG is decoded at the smallest scale
    still at least `max_side`, anything else is shrunk right after decoding.
    """
    declared = _declared_type(declared_mime)
    actual = sniff_image(data)
    if actual is None:
        raise MediaError(f"image data is not a supported image ({_supported()})")
    if declared is not None and declared != actual:
        raise MediaError(f"image type mismatch: declared {declared}, but the data is {actual}")
    img, size = _decode(data, actual, max_pixels, max_side)
    orientation = _orientation(img)
    img = _shrink(img, max_side) if max_side else _flatten(img)
    if orientation in _UPRIGHT:
        img = img.transpose(_UPRIGHT[orientation])
        if orientation >= 5:  # a quarter turn: the picture as seen is the other way round
            size = (size[1], size[0])
    return Picture(img, size)


def _declared_type(mime: str | None) -> str | None:
    if not mime:
        return None
    base = mime.split(";", 1)[0].strip().lower()
    if base not in _MIME_TYPES:
        raise MediaError(f"unsupported image type {base[:40]!r}; supported: {_supported()}")
    return _MIME_TYPES[base]


def _decode(
    data: bytes, kind: str, max_pixels: int, max_side: int | None
) -> tuple[Image.Image, tuple[int, int]]:
    """The decoded first frame (maybe at a reduced scale), and its size as sent."""
    with _decoding(kind, max_pixels):
        img = Image.open(io.BytesIO(data), formats=[IMAGE_TYPES[kind]])
    width, height = img.size  # known from the header, before decoding
    if width * height > max_pixels:
        raise _too_large(max_pixels, img.size)
    if width * height * _DECODE_BYTES_PER_PIXEL[kind] > DECODE_BUDGET:
        raise _too_costly(kind, img.size)
    if max_side and max(width, height) > max_side:
        scale = max_side / max(width, height)
        img.draft(None, (max(1, int(width * scale)), max(1, int(height * scale))))  # JPEG only
    with _decoding(kind, max_pixels):
        img.load()  # the first frame, for GIF and animated WebP
    return img, (width, height)


def _orientation(img: Image.Image) -> int:
    try:
        return int(img.getexif().get(0x0112, 1))
    except (OSError, SyntaxError, ValueError, TypeError):
        return 1  # unreadable EXIF: take the picture as it comes


@contextlib.contextmanager
def _decoding(kind: str, max_pixels: int) -> Iterator[None]:
    """Turn Pillow's many failure types into one MediaError for the client."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    except Image.DecompressionBombError:
        raise _too_large(max_pixels, None) from None
    except (OSError, SyntaxError, EOFError, ValueError):
        raise MediaError(f"image data could not be decoded as {kind}") from None


def _too_large(max_pixels: int, size: tuple[int, int] | None) -> MediaError:
    shown = f" ({size[0]} x {size[1]})" if size else ""
    return MediaError(
        f"image is too large{shown}: the limit is {max_pixels:,} pixels; scale it down"
    )


def _too_costly(kind: str, size: tuple[int, int]) -> MediaError:
    cost = size[0] * size[1] * _DECODE_BYTES_PER_PIXEL[kind] / 2**20
    most = DECODE_BUDGET // _DECODE_BYTES_PER_PIXEL[kind]
    return MediaError(
        f"image is too large ({size[0]} x {size[1]} {kind}): decoding it would take about "
        f"{cost:,.0f} MiB, over the limit of {DECODE_BUDGET // 2**20} MiB an image "
        f"(for {kind}, at most {most:,} pixels); scale it down"
    )


def _shrink(img: Image.Image, max_side: int) -> Image.Image:
    """RGB, no side over `max_side`: flattened and reduced a strip at a time, so that no
    full-size copy of the decoded image is ever made."""
    width, height = img.size
    factor = math.ceil(max(width, height) / max_side)
    if factor == 1:
        return _flatten(img)
    rows = factor * _STRIP_ROWS
    out = Image.new("RGB", (math.ceil(width / factor), math.ceil(height / factor)))
    for top in range(0, height, rows):
        strip = _flatten(img.crop((0, top, width, min(top + rows, height))))
        out.paste(strip.reduce(factor), (0, top // factor))
    return out


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


def image_facts(img: Image.Image, size: tuple[int, int] | None = None) -> str:
    """One short line: size (`size` when `img` was shrunk from it), shape and main colours,
    e.g. for a text-only model's prompt."""
    width, height = size or img.size
    shape = "square" if width == height else ("landscape" if width > height else "portrait")
    colours = ", ".join(f"{name} {share:.0%}" for name, share in dominant_colours(img))
    return f"{width}x{height} pixels, {shape}; main colours: {colours}"
