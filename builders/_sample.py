"""Helpers for the synthetic sample trees: small real images and tables with exact line endings."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["synthetic_radiograph", "write_png", "write_table"]


def synthetic_radiograph(seed: int, size: tuple[int, int] = (64, 64)) -> np.ndarray:
    """A deterministic uint8 picture with a chest-like shape: bright mediastinum, dark lungs."""
    width, height = size
    y, x = np.mgrid[0:height, 0:width]
    lungs = np.exp(
        -(((x - width * 0.3) / (width * 0.15)) ** 2 + ((y - height / 2) / (height * 0.3)) ** 2)
    )
    lungs += np.exp(
        -(((x - width * 0.7) / (width * 0.15)) ** 2 + ((y - height / 2) / (height * 0.3)) ** 2)
    )
    noise = np.random.default_rng(seed).normal(0, 8, size=(height, width))
    return np.clip(200 - 140 * lungs + noise, 0, 255).astype(np.uint8)


def write_png(path: Path, pixels: np.ndarray, mode: str = "L") -> None:
    """Write ``pixels`` as a PNG; ``mode`` ``RGBA`` stores the grey value in three channels."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(pixels, mode="L")
    if mode != "L":
        image = image.convert(mode)
    image.save(path, format="PNG")


def write_table(path: Path, rows: Iterable[Iterable[object]], newline: str = "\n") -> None:
    """Write comma-separated rows exactly as given (no quoting needed for these tables)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = newline.join(",".join(str(v) for v in row) for row in rows) + newline
    path.write_bytes(text.encode("utf-8"))
