"""Images from data: URIs: decoding, type checks, and the plain facts we describe."""

from __future__ import annotations

import base64
import io
import urllib.parse

import pytest
from PIL import Image

from openvertex.media.colours import dominant_colours
from openvertex.media.errors import MediaError
from openvertex.media.image_bytes import load_image_bytes, sniff_image, url_scheme
from openvertex.media.images import image_facts, open_image

PILLOW_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF"}


def picture(
    kind: str, size: tuple[int, int] = (64, 48), colour: object = (200, 30, 30), **save: object
) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, PILLOW_FORMATS[kind], **save)
    return buffer.getvalue()


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


@pytest.mark.parametrize("kind", PILLOW_FORMATS)
def test_each_supported_type_opens_as_rgb(kind: str) -> None:
    data = picture(kind)
    assert sniff_image(data) == kind
    img = open_image(data, f"image/{kind}")
    assert img.mode == "RGB"
    assert img.size == (64, 48)
    red, green, blue = img.getpixel((10, 10))
    assert red > 150 and green < 80 and blue < 80


def test_gif_gives_its_first_frame() -> None:
    frames = [Image.new("RGB", (20, 20), c) for c in ("red", "blue", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100)
    img = open_image(buffer.getvalue(), "image/gif")
    assert img.getpixel((5, 5))[0] > 200  # red, not blue


def test_transparency_is_laid_over_white() -> None:
    buffer = io.BytesIO()
    Image.new("RGBA", (10, 10), (0, 0, 0, 0)).save(buffer, "PNG")
    assert open_image(buffer.getvalue(), None).getpixel((5, 5)) == (255, 255, 255)


def test_exif_rotation_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    data = picture("jpeg", size=(40, 20), exif=exif)
    assert open_image(data, "image/jpeg").size == (20, 40)


def test_data_uri_base64() -> None:
    data = picture("png")
    assert load_image_bytes(data_uri(data)) == (data, "image/png")


def test_data_uri_with_parameters_and_upper_case() -> None:
    data = picture("jpeg")
    uri = f"DATA:Image/JPEG;name=x.jpg;BASE64,{base64.b64encode(data).decode()}"
    assert load_image_bytes(uri) == (data, "image/jpeg")


def test_data_uri_percent_encoded() -> None:
    data = picture("gif")
    uri = "data:image/gif," + urllib.parse.quote_from_bytes(data)
    assert load_image_bytes(uri) == (data, "image/gif")


def test_data_uri_without_a_type_is_sniffed() -> None:
    data = picture("webp")
    loaded, mime = load_image_bytes(f"data:;base64,{base64.b64encode(data).decode()}")
    assert mime == ""
    assert open_image(loaded, mime).size == (64, 48)


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("data:image/png;base64,%%%notbase64", "not valid base64"),
        ("data:image/png;base64,", "empty"),
        ("data:image/png;base64", "no comma"),
    ],
)
def test_bad_data_uris_are_refused(uri: str, message: str) -> None:
    with pytest.raises(MediaError, match=message):
        load_image_bytes(uri)


@pytest.mark.parametrize("url", ["gs://bucket/cat.png", "ftp://example.com/a.png", "file:///x"])
def test_other_schemes_name_the_supported_ones(url: str) -> None:
    with pytest.raises(MediaError, match="supported schemes: data:, http:, https:"):
        url_scheme(url)
    with pytest.raises(MediaError, match="supported schemes"):
        load_image_bytes(url)


def test_url_scheme_of_supported_urls() -> None:
    assert url_scheme("https://example.com/a.png") == "https"
    assert url_scheme("HTTP://example.com/a.png") == "http"
    assert url_scheme("data:image/png;base64,AA==") == "data"


def test_declared_type_must_match_the_data() -> None:
    with pytest.raises(MediaError, match="mismatch: declared jpeg, but the data is png"):
        open_image(picture("png"), "image/jpeg")


def test_unsupported_declared_type_is_refused() -> None:
    with pytest.raises(MediaError, match="unsupported image type 'image/bmp'"):
        open_image(picture("png"), "image/bmp")


def test_unsupported_data_is_refused() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "BMP")
    with pytest.raises(MediaError, match="not a supported image"):
        open_image(buffer.getvalue(), None)


@pytest.mark.parametrize("kind", PILLOW_FORMATS)
def test_undecodable_data_is_refused(kind: str) -> None:
    data = picture(kind, size=(300, 200))
    broken = data[:40] + bytes(200)
    with pytest.raises(MediaError, match=f"could not be decoded as {kind}"):
        open_image(broken, None)


def test_images_with_too_many_pixels_are_refused_before_decoding() -> None:
    with pytest.raises(MediaError, match="too large"):
        open_image(picture("png", size=(200, 200)), "image/png", max_pixels=10_000)


def test_facts_give_size_shape_and_colours() -> None:
    img = Image.new("RGB", (400, 100), "white")
    img.paste((10, 20, 110), (0, 0, 100, 100))  # a dark blue quarter
    facts = image_facts(img)
    assert facts.startswith("400x100 pixels, landscape; main colours: white 75%, dark blue 25%")
    assert "\n" not in facts


@pytest.mark.parametrize(
    ("rgb", "name"),
    [
        ((255, 255, 255), "white"),
        ((0, 0, 0), "black"),
        ((230, 20, 20), "red"),
        ((20, 160, 50), "green"),
        ((40, 80, 230), "blue"),
        ((255, 230, 10), "yellow"),
        ((128, 128, 128), "grey"),
        ((255, 140, 0), "orange"),
    ],
)
def test_colour_names(rgb: tuple[int, int, int], name: str) -> None:
    assert dominant_colours(Image.new("RGB", (8, 8), rgb)) == [(name, 1.0)]


def test_small_colour_shares_are_left_out() -> None:
    img = Image.new("RGB", (100, 100), "white")
    img.paste((0, 0, 0), (0, 0, 2, 100))  # 2% black
    assert [name for name, _ in dominant_colours(img)] == ["white"]
