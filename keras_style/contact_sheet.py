"""Contact sheets: a grid of images (e.g. content rows x style or model columns)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from keras_style import checks, image_io
from keras_style.errors import StyleError


def _fit(image: np.ndarray, cell: int) -> np.ndarray:
    """Resizes to fit a cell x cell box (long side = cell) and centres it on white."""
    h, w = image.shape[:2]
    scale = cell / max(h, w)
    resized = image_io.resize_image(np.asarray(image, np.float32), (max(1, round(h * scale)), max(1, round(w * scale))))
    canvas = np.full((cell, cell, 3), 255.0, np.float32)
    top, left = (cell - resized.shape[0]) // 2, (cell - resized.shape[1]) // 2
    canvas[top : top + resized.shape[0], left : left + resized.shape[1]] = np.clip(resized, 0, 255)
    return canvas


def contact_sheet(rows: Sequence[Sequence[np.ndarray | None]], cell: int = 256, gap: int = 4) -> np.ndarray:
    """Lays out `rows` of images (float (H, W, 3) in [0, 255]; None leaves a blank cell)
    as one float32 image, each image fitted into a `cell` x `cell` square.

    Raises:
      StyleError: no images, or one that is not an (H, W, 3) array.
    """
    if not rows or not any(rows):
        raise StyleError("no images for the contact sheet")
    rows = [[None if image is None else checks.as_image(image, "contact sheet image") for image in row] for row in rows]
    columns = max(len(r) for r in rows)
    sheet = np.full((len(rows) * (cell + gap) + gap, columns * (cell + gap) + gap, 3), 255.0, np.float32)
    for i, row in enumerate(rows):
        for j, image in enumerate(row):
            if image is not None:
                y, x = gap + i * (cell + gap), gap + j * (cell + gap)
                sheet[y : y + cell, x : x + cell] = _fit(image, cell)
    return sheet
