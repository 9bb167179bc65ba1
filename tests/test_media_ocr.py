"""OCR with RapidOCR's packaged models, and the layout rules that shape its lines."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from openvertex.media import ocr as ocr_module
from openvertex.media.ocr import OcrReader
from openvertex.media.ocr_layout import TextBox, reading_order, restore_spaces


def render(lines: list[str], *, size: int = 40, width: int = 900) -> Image.Image:
    """Text drawn with the TrueType font built into Pillow (no system fonts needed)."""
    font = ImageFont.load_default(size=size)
    img = Image.new("RGB", (width, (len(lines) + 1) * size * 2), "white")
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((size, size + i * size * 2), line, font=font, fill=(20, 20, 20))
    return img


@pytest.fixture(scope="module")
def reader() -> Iterator[OcrReader]:
    model = OcrReader()
    model.load()
    yield model


def test_reads_the_invoice_line(reader: OcrReader) -> None:
    started = time.perf_counter()
    lines = reader.read_text(render(["INVOICE TOTAL 42.50"]))
    elapsed_ms = 1000 * (time.perf_counter() - started)
    print(f"\nOCR {elapsed_ms:.0f} ms per image, load {reader.load_seconds:.2f} s")
    assert lines == ["INVOICE TOTAL 42.50"]


@pytest.mark.parametrize("size", [20, 32, 48])
def test_word_spaces_survive_at_several_sizes(reader: OcrReader, size: int) -> None:
    assert reader.read_text(render(["INVOICE TOTAL 42.50"], size=size)) == ["INVOICE TOTAL 42.50"]


def test_lines_come_top_to_bottom(reader: OcrReader) -> None:
    lines = reader.read_text(render(["ACME Corporation", "Due date 2025-03-01", "Thank you"]))
    assert lines == ["ACME Corporation", "Due date 2025-03-01", "Thank you"]


def test_boxes_on_one_row_are_joined_left_to_right(reader: OcrReader) -> None:
    img = Image.new("RGB", (1000, 160), "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=40)
    draw.text((620, 50), "42.50", font=font, fill="black")
    draw.text((40, 52), "Subtotal", font=font, fill="black")
    assert reader.read_text(img) == ["Subtotal 42.50"]


def test_blank_image_has_no_text(reader: OcrReader) -> None:
    assert reader.read_text(Image.new("RGB", (200, 100), "white")) == []


def test_describes_itself() -> None:
    assert "RapidOCR" in OcrReader.description


def test_concurrent_reads_agree(reader: OcrReader) -> None:
    img = render(["TOTAL 7"], size=32, width=400)
    results: list[list[str]] = []
    threads = [threading.Thread(target=lambda: results.append(reader.read_text(img)))]
    threads.append(threading.Thread(target=lambda: results.append(reader.read_text(img))))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [["TOTAL 7"], ["TOTAL 7"]]


def test_a_model_that_fails_its_hash_stops_the_load(monkeypatch: pytest.MonkeyPatch) -> None:
    det_path, _sha = ocr_module.MODEL_FILES["det"]
    monkeypatch.setitem(ocr_module.MODEL_FILES, "det", (det_path, "0" * 64))
    with pytest.raises(RuntimeError, match=re.escape("ch_PP-OCRv4_det_infer.onnx failed")):
        OcrReader().load()


# --- layout rules, on synthetic boxes -------------------------------------------------


def box(text: str, left: float, top: float, right: float, bottom: float, spans=None) -> TextBox:
    quad = np.array([[left, top], [right, top], [right, bottom], [left, bottom]], np.float32)
    return TextBox(text=text, quad=quad, char_spans=spans)


def glyph_row(widths_and_gaps: list[tuple[int, int]], height: int = 20) -> np.ndarray:
    """A gray strip with black blocks ("letters") of given widths, separated by gaps."""
    total = sum(w + g for w, g in widths_and_gaps) + 10
    gray = np.full((height + 10, total), 255, np.uint8)
    x = 5
    for width, gap in widths_and_gaps:
        gray[5 : 5 + height, x : x + width] = 0
        x += width + gap
    return gray


def test_a_word_sized_gap_becomes_a_space() -> None:
    # "ABC" then a wide gap, then "DE": letters 10 px wide, 2 px apart, 12 px word gap.
    layout = [(10, 2), (10, 2), (10, 12), (10, 2), (10, 0)]
    gray = glyph_row(layout)
    spans, x = [], 5
    for width, gap in layout:
        spans.append((x, x + width))
        x += width + gap
    text_box = box("ABCDE", 0, 0, gray.shape[1], gray.shape[0], spans)
    assert restore_spaces(text_box, gray) == "ABC DE"


def test_digits_are_never_split() -> None:
    layout = [(6, 12), (6, 0)]  # "11" drawn with wide side bearings
    gray = glyph_row(layout)
    text_box = box("11", 0, 0, gray.shape[1], gray.shape[0], [(5, 11), (23, 29)])
    assert restore_spaces(text_box, gray) == "11"


def test_text_without_positions_is_left_alone() -> None:
    gray = glyph_row([(10, 30), (10, 0)])
    assert restore_spaces(box("AB", 0, 0, gray.shape[1], gray.shape[0]), gray) == "AB"


def test_rows_are_ordered_and_joined() -> None:
    gray = np.full((200, 400), 255, np.uint8)
    boxes = [
        box("second", 10, 100, 100, 130),
        box("right", 200, 12, 300, 38),
        box("left", 10, 10, 100, 40),
    ]
    assert reading_order(boxes, gray) == ["left right", "second"]
