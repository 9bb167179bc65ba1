"""Read the text in an image with RapidOCR (PP-OCRv4 ONNX models from its wheel).

Loaded once, on first use, after its model files pass their pinned hashes; one image
is read at a time, with all CPU threads, which on a small machine beats interleaving.

Its package is installed apart from openvertex's dependencies (it asks for the GUI
build of OpenCV), so it may be missing: then `unavailable()` says so, and image
requests are refused with FAILED_PRECONDITION naming the install command.
"""

from __future__ import annotations

import importlib.metadata
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from openvertex.errors import FailedPrecondition
from openvertex.media.cancel import checked
from openvertex.media.ocr_layout import TextBox, reading_order
from openvertex.media.packaged_files import locate, verify_file

PACKAGE, VERSION = "rapidocr-onnxruntime", "1.4.4"
INSTALL = f"pip install --no-deps {PACKAGE}=={VERSION}"
MODEL_FILES = {
    "det": (
        "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
        "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
    ),
    "rec": (
        "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx",
        "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b",
    ),
    "cls": (
        "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
        "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c",
    ),
}
# Detection sees the image at its own size, shrunk only past this many pixels a side:
# RapidOCR's default enlarges every image to 736 px on its short side, which costs
# 10x more on wide banners and gained nothing once spaces are restored from pixels.
DETECTION_MAX_SIDE = 960
# RapidOCR shrinks anything longer to this before reading it, so larger is never needed.
MAX_SIDE = 2000
# RapidOCR rounds each side to a multiple of 32 after its own resizing, and fails when a
# side rounds to 0 (a 4000 x 10 banner did): pictures are padded up to this short side,
# and to 1/MAX_ASPECT of their long side, which survives detection's shrink to 960.
MIN_SIDE = 32
MAX_ASPECT = 32


class OcrReader:
    """Lines of text in an image, read top to bottom, then left to right."""

    description = "RapidOCR 1.4.4 (PP-OCRv4 text detection and recognition, ONNX Runtime, CPU)"

    def __init__(self, *, threads: int | None = None, min_score: float = 0.5) -> None:
        self.threads = threads or min(4, os.cpu_count() or 1)
        self.min_score = min_score
        self.load_seconds: float | None = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._engine: Any = None

    def load(self) -> None:
        """Verify and load the models now (read_text does it on first use anyway)."""
        if self._engine is not None:
            return
        with self._load_lock:
            if self._engine is None:
                started = time.perf_counter()
                self._engine = self._build()
                self.load_seconds = time.perf_counter() - started

    def _build(self) -> Any:
        if why := unavailable():
            raise FailedPrecondition(why)
        try:
            from rapidocr_onnxruntime import RapidOCR  # heavy (OpenCV, ONNX Runtime): on demand
        except ImportError as exc:  # e.g. OpenCV's GUI build where there is no libGL
            raise FailedPrecondition(
                f"Images cannot be read here: OCR ({PACKAGE}) fails to load: {exc}"
            ) from exc

        paths = {name: _verified(path, sha) for name, (path, sha) in MODEL_FILES.items()}
        engine = RapidOCR(
            det_model_path=str(paths["det"]),
            rec_model_path=str(paths["rec"]),
            cls_model_path=str(paths["cls"]),
            det_limit_type="max",
            det_limit_side_len=DETECTION_MAX_SIDE,
            intra_op_num_threads=self.threads,
            inter_op_num_threads=1,
            text_score=self.min_score,
            # The 180-degree classifier flipped a clean, upright line of DejaVu Sans into
            # gibberish; upside-down text is rare in pictures sent to a chat model.
            use_cls=False,
        )
        # Every ONNX run (detection, each batch of recognised lines) first checks that
        # its request still wants the answer: see media/cancel.py.
        engine.text_det.infer = checked(engine.text_det.infer)
        engine.text_rec.session = checked(engine.text_rec.session)
        return engine

    def read_text(self, img: Image.Image) -> list[str]:
        """The image's text as lines in reading order; [] when it has none."""
        self.load()
        rgb = fit(img.convert("RGB"))
        with self._run_lock:
            result, _timings = self._engine(rgb, return_word_box=True)
        boxes = [_text_box(item) for item in result or []]
        gray = np.asarray(rgb.convert("L"))
        return reading_order(boxes, gray)


def unavailable() -> str | None:
    """Why images cannot be read here, or None; a metadata look-up, cheap enough for
    every request (the package may be installed while the server runs)."""
    try:
        found = importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        found = None
    if found == VERSION:
        return None
    other = "" if found is None else f" (found {found})"
    return f"Images cannot be read here: OCR needs {PACKAGE}=={VERSION}{other}; run `{INSTALL}`."


def fit(img: Image.Image) -> Image.Image:
    """`img` in a shape RapidOCR can read: shrunk to MAX_SIDE, its short side padded with
    white to MIN_SIDE and to 1/MAX_ASPECT of the long side (never stretched: text keeps
    its size and positions stay those of the original, from its top-left corner)."""
    if max(img.size) > MAX_SIDE:
        img = img.copy()
        img.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    width, height = img.size
    least = max(MIN_SIDE, -(-max(width, height) // MAX_ASPECT))
    if min(width, height) >= least:
        return img
    padded = Image.new("RGB", (max(width, least), max(height, least)), "white")
    padded.paste(img, (0, 0))
    return padded


def _verified(path: str, sha256: str) -> Path:
    return verify_file(locate(PACKAGE, VERSION, path), sha256, f"RapidOCR model {Path(path).name}")


def _text_box(item: list[Any]) -> TextBox:
    """RapidOCR's [quad, text, score, char quads, chars, char scores] → TextBox."""
    quad = np.asarray(item[0], dtype=np.float32)
    text = str(item[1])
    spans = None
    if len(item) >= 5 and "".join(item[4]) == text:
        char_quads = [np.asarray(q, dtype=np.float32) for q in item[3]]
        spans = [(float(q[:, 0].min()), float(q[:, 0].max())) for q in char_quads]
    return TextBox(text=text, quad=quad, char_spans=spans)
