"""Name an image's dominant colours in plain words ("white", "dark blue").

Pixels are matched to the nearest of a small named palette in CIELAB, where straight
distances roughly follow how different colours look; then the names are counted.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

PALETTE: dict[str, tuple[int, int, int]] = {
    "black": (0, 0, 0),
    "dark grey": (70, 70, 70),
    "grey": (128, 128, 128),
    "light grey": (200, 200, 200),
    "white": (255, 255, 255),
    "dark red": (120, 10, 10),
    "red": (220, 30, 30),
    "pink": (250, 150, 190),
    "orange": (250, 140, 0),
    "brown": (130, 80, 40),
    "beige": (225, 205, 160),
    "yellow": (250, 220, 0),
    "light green": (150, 230, 140),
    "green": (40, 170, 60),
    "dark green": (0, 90, 20),
    "teal": (0, 128, 128),
    "cyan": (0, 210, 230),
    "light blue": (150, 200, 240),
    "blue": (30, 90, 220),
    "dark blue": (10, 20, 110),
    "purple": (120, 40, 150),
    "magenta": (220, 0, 200),
}
_NAMES = list(PALETTE)
_SAMPLE_SIDE = 64  # area shares survive resizing, so a small thumbnail counts fine


def dominant_colours(
    img: Image.Image, *, top: int = 3, min_share: float = 0.05
) -> list[tuple[str, float]]:
    """Up to `top` (name, share of the image) pairs, largest first, each ≥ min_share."""
    small = img.convert("RGB").resize((_SAMPLE_SIDE, _SAMPLE_SIDE), Image.Resampling.BOX)
    pixels = _to_lab(np.asarray(small, dtype=np.float64).reshape(-1, 3))
    palette = _to_lab(np.array(list(PALETTE.values()), dtype=np.float64))
    distances = np.linalg.norm(pixels[:, None, :] - palette[None, :, :], axis=2)
    counts = np.bincount(distances.argmin(axis=1), minlength=len(_NAMES))
    shares = counts / counts.sum()
    order = np.argsort(-shares, kind="stable")[:top]
    return [(_NAMES[i], float(shares[i])) for i in order if shares[i] >= min_share]


def _to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB rows (0 to 255) → CIELAB (D65)."""
    c = rgb / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = (
        linear
        @ np.array(
            [
                [0.4124, 0.3576, 0.1805],
                [0.2126, 0.7152, 0.0722],
                [0.0193, 0.1192, 0.9505],
            ]
        ).T
    )
    xyz /= np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.stack(
        [116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], axis=1
    )
