"""Checks and helpers shared by every model kind, low in the import graph.

Argument checks (alpha, style weights, masks, image arrays) and the one-line
form of an exception, used by the library (`keras_style.adain`,
`keras_style.metanet`), the stylizers (`keras_style.inference`) and the
exporters alike, so each rule is written once. Imports only numpy.
"""

from __future__ import annotations

import math

import numpy as np

from keras_style.errors import StyleError


def one_line(error: BaseException) -> str:
    """`error`'s message on one line (at most 300 characters), else its type's name."""
    return " ".join(str(error).split())[:300] or type(error).__name__


def check_alpha(alpha) -> float:
    """`alpha` as a float in [0, 1] (the stylization strength).

    Raises:
      StyleError: not a number, outside [0, 1], or NaN.
    """
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        raise StyleError(f"alpha must be a number in [0, 1], got {alpha!r}") from None
    if not 0.0 <= value <= 1.0:  # also rejects NaN
        raise StyleError(f"alpha must be in [0, 1], got {value:g}")
    return value


def normalised_weights(weights, count: int) -> list[float]:
    """Style weights as floats summing to 1 (equal when None).

    Raises:
      StyleError: not one weight per style, a negative or non-finite weight, or a zero sum.
    """
    if weights is None:
        return [1.0 / count] * count
    weights = [float(w) for w in np.ravel(np.asarray(weights, dtype=np.float64))]
    if len(weights) != count:
        raise StyleError(f"{len(weights)} style weight(s) for {count} style(s); give one weight per style")
    if any(not math.isfinite(w) or w < 0 for w in weights):
        raise StyleError(f"style weights must be finite and >= 0, got {weights}")
    total = sum(weights)
    if total <= 0:
        raise StyleError(f"style weights sum to 0 ({weights}); give at least one positive weight")
    return [w / total for w in weights]


def mask_coefficients(masks: np.ndarray, weights) -> np.ndarray:
    """How much of each style a pixel gets when styles are blended by masks: `masks`
    (..., K) times the K style weights, normalised to sum to 1 wherever any mask covers
    the pixel, and 0 where none does (those pixels keep the content). Same dtype as `masks`."""
    coefficients = masks * np.asarray(weights, masks.dtype)
    total = coefficients.sum(axis=-1, keepdims=True)
    covered = total > 0
    return np.where(covered, coefficients / np.where(covered, total, 1), 0).astype(masks.dtype)


def check_masks(masks, count: int, size) -> list[np.ndarray]:
    """One float32 (H, W) mask in [0, 1] per style, each of the content's `size` (H, W).

    Raises:
      StyleError: the wrong number of masks, a wrong shape or size, or values outside [0, 1].
    """
    masks = list(masks)
    if len(masks) != count:
        raise StyleError(f"{len(masks)} mask(s) for {count} style(s); give one mask per style")
    h, w = size
    checked = []
    for k, mask in enumerate(masks):
        mask = np.asarray(mask, dtype=np.float32)
        if mask.ndim == 3 and mask.shape[-1] == 1:
            mask = mask[..., 0]
        if mask.ndim != 2:
            raise StyleError(f"mask {k + 1} must be an (H, W) array, got shape {mask.shape}")
        if mask.shape != (h, w):
            raise StyleError(
                f"mask {k + 1} is {mask.shape[0]}x{mask.shape[1]}, content is {h}x{w} (height x width); "
                "masks must be the content's size"
            )
        if not np.all(np.isfinite(mask)) or mask.min() < 0.0 or mask.max() > 1.0:
            raise StyleError(f"mask {k + 1} has values outside [0, 1]")
        checked.append(mask)
    return checked


def as_image(image, what: str) -> np.ndarray:
    """`image` as a float32 (H, W, 3) array; StyleError naming it as `what` otherwise."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 3 or image.shape[-1] != 3 or min(image.shape[:2]) < 1:
        raise StyleError(f"the {what} must be an (H, W, 3) RGB array, got shape {image.shape}")
    return image
