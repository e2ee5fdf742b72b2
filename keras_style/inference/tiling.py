"""Stylizing large images tile by tile, with seamless blending.

A fully convolutional style network can run on any size, but its activation
memory grows with the image; `stylize_tiled` runs it on overlapping tiles and
blends them so the seams do not show. Memory is bounded by the tile size
(plus the float32 output and one weight plane for the whole image).

Instance-norm networks (Johnson's TransformNet, AdaIN) normalise with each
tile's own statistics, so a tile's colours and contrast differ slightly from
what the whole image would give. The raised-cosine cross-fade across each
overlap hides the seams; the remaining difference from an untiled run is a
soft, low-frequency one (tests/test_inference.py bounds it). Larger tiles
and overlaps bring the result closer to the untiled one.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from keras_style.checks import as_image
from keras_style.errors import StyleError


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles covering `[0, size)`: first at 0, last ending at
    `size`, evenly spread so neighbours overlap by at least `overlap`.

    A `size <= tile` gives one tile at 0 (of length `size`).
    """
    if size <= tile:
        return [0]
    count = math.ceil((size - overlap) / (tile - overlap))
    count = max(count, 2)
    stride = (size - tile) / (count - 1)
    return [round(i * stride) for i in range(count)]


def _window(length: int, ramp_start: int, ramp_end: int) -> np.ndarray:
    """1-D weights for a tile of `length`: a raised-cosine ramp up over the first
    `ramp_start` pixels and down over the last `ramp_end`, 1 in between.

    Sampled at pixel centres, so no weight is exactly 0 and every pixel of the
    image has a positive total weight.
    """
    w = np.ones(length, dtype=np.float32)
    for ramp, sl in ((ramp_start, slice(None)), (ramp_end, slice(None, None, -1))):
        ramp = min(ramp, length)
        if ramp > 0:
            t = (np.arange(ramp, dtype=np.float32) + 0.5) / ramp
            rise = 0.5 - 0.5 * np.cos(np.pi * t)
            view = w[sl]
            view[:ramp] = np.minimum(view[:ramp], rise)
    return w


def stylize_tiled(
    fn: Callable[[np.ndarray], np.ndarray],
    image: np.ndarray,
    tile: int = 512,
    overlap: int = 64,
) -> np.ndarray:
    """Applies an image-to-image `fn` tile by tile and blends the tiles.

    Args:
      fn: maps a float32 (h, w, 3) tile to an array of the same shape, e.g. a
        `Stylizer` (or `lambda t: stylizer.stylize(t, style=prepared)`).
      image: float (H, W, 3) image in [0, 255], any size.
      tile: largest tile side in pixels; `fn` never sees anything larger.
        An image side no larger than `tile` is one tile along that axis.
      overlap: minimum overlap between neighbouring tiles, in pixels; the
        blend ramps across it. 0 gives hard seams.

    Returns:
      float32 (H, W, 3). Every pixel is a weighted average of the tiles
      covering it, with weights that sum to one (a raised-cosine cross-fade
      across each overlap, no fade at the image border).

    Raises:
      StyleError: `image` is not (H, W, 3), `tile < 1`, `overlap < 0` or `overlap >= tile`.
      ValueError: `fn` changes a tile's shape (a bug in `fn`).
    """
    if tile < 1:
        raise StyleError(f"tile size must be at least 1 pixel, got {tile}")
    if overlap < 0 or overlap >= tile:
        raise StyleError(f"tile overlap must be at least 0 and less than the tile size {tile}, got {overlap}")
    image = as_image(image, "image")
    height, width = image.shape[:2]
    ys, xs = tile_starts(height, tile, overlap), tile_starts(width, tile, overlap)
    if len(ys) == 1 and len(xs) == 1:
        return _checked(fn, image)

    out = np.zeros((height, width, 3), dtype=np.float32)
    total = np.zeros((height, width, 1), dtype=np.float32)
    th, tw = min(tile, height), min(tile, width)
    for i, y in enumerate(ys):
        # Ramp only where a neighbouring tile overlaps, over the actual overlap.
        wy = _window(
            th,
            ys[i - 1] + th - y if i > 0 else 0,
            y + th - ys[i + 1] if i + 1 < len(ys) else 0,
        )
        for j, x in enumerate(xs):
            wx = _window(
                tw,
                xs[j - 1] + tw - x if j > 0 else 0,
                x + tw - xs[j + 1] if j + 1 < len(xs) else 0,
            )
            weight = (wy[:, None] * wx[None, :])[..., None]
            result = _checked(fn, image[y : y + th, x : x + tw])
            out[y : y + th, x : x + tw] += weight * result
            total[y : y + th, x : x + tw] += weight
    out /= total
    return out


def _checked(fn, tile_image: np.ndarray) -> np.ndarray:
    result = np.asarray(fn(np.ascontiguousarray(tile_image)), dtype=np.float32)
    if result.shape != tile_image.shape:
        raise ValueError(f"fn returned shape {result.shape} for a tile of shape {tile_image.shape}")
    return result


def balanced_tile(height: int, width: int, max_tile: int, overlap: int = 64, multiple: int = 8) -> int:
    """The smallest tile side that covers an image with as few tiles as `max_tile` would.

    `stylize_tiled(..., tile=max_tile)` needs `n = ceil((L - overlap) / (max_tile - overlap))`
    tiles along a side of length L; a tile of `ceil((L + (n - 1) * overlap) / n)` covers it
    with the same n and less overlap, so less work and memory (a 1024-pixel side with
    max_tile 790: 2 tiles of 544 rather than 2 of 790). Rounded up to `multiple` (models
    that pad to a multiple of 8 then pad nothing), at most `max_tile`.

    Returns:
      0 when the whole image fits in one `max_tile` (no tiling), else the tile side.

    Raises:
      StyleError: `max_tile <= overlap` or `overlap < 0`.
    """
    if overlap < 0:
        raise StyleError(f"tile overlap must be at least 0, got {overlap}")
    if max_tile <= overlap:
        raise StyleError(f"tile size {max_tile} must be larger than the overlap {overlap}")
    if max(height, width) <= max_tile:
        return 0
    tile = 1
    for side in (height, width):
        if side <= max_tile:
            continue
        count = math.ceil((side - overlap) / (max_tile - overlap))
        tile = max(tile, math.ceil((side + (count - 1) * overlap) / count))
    return min(max_tile, -(-tile // multiple) * multiple)
