"""Checks and helpers shared by every model kind, low in the import graph.

Argument checks (alpha, style weights, masks, image arrays, sizes, finiteness) and the one-line
form of an exception, used by the library (`keras_style.adain`,
`keras_style.metanet`), the stylizers (`keras_style.inference`) and the
exporters alike, so each rule is written once. Imports only numpy.
"""

from __future__ import annotations

import math

import numpy as np

from keras_style.errors import StyleError


# The largest side, in pixels, that a size option may ask a whole-image computation to
# run at (Gatys' image_size and scales, evaluation images and contact-sheet cells, parity
# images): a ceiling against typos, since VGG's activations and L-BFGS' copies grow with
# the area and a mistyped 100000 ran until the kernel killed it. Checked before any work.
MAX_WORK_SIDE = 8192


def one_line(error: BaseException) -> str:
    """`error`'s message on one line (at most 300 characters), else its type's name."""
    return " ".join(str(error).split())[:300] or type(error).__name__


def check_alpha(alpha, name: str = "alpha") -> float:
    """`alpha` as a float in [0, 1] (the stylization strength); `name` is how the
    message calls it (a command passes its flag, "--alpha").

    Raises:
      StyleError: not a number, outside [0, 1], or NaN.
    """
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        raise StyleError(f"{name} must be a number in [0, 1], got {alpha!r}") from None
    if not 0.0 <= value <= 1.0:  # also rejects NaN
        raise StyleError(f"{name} must be in [0, 1], got {value:g}")
    return value


def normalised_weights(weights, count: int, name: str = "style weights") -> list[float]:
    """Style weights as floats summing to 1 (equal when None); the one normaliser of
    style (blend) weights, for every method and command. `name` is how the message
    calls them (a command passes its flag, "--style_weights").

    The weights are divided by the largest before they are summed, so no finite
    weights overflow the sum (1e308,1e308 is 0.5,0.5, not 0,0) and tiny ones do not
    underflow it.

    Raises:
      StyleError: no styles, not one weight per style, a weight that is not a number,
        negative or not finite, or no positive weight.
    """
    if count < 1:
        raise StyleError("no style images given")
    if weights is None:
        return [1.0 / count] * count
    try:
        values = [float(w) for w in np.ravel(np.asarray(weights, dtype=object))]
    except (TypeError, ValueError):
        raise StyleError(f"{name} must be numbers, got {weights!r}") from None
    if len(values) != count:
        raise StyleError(f"{name}: {len(values)} value(s) for {count} style(s); give one weight per style")
    if any(not math.isfinite(w) or w < 0 for w in values):
        raise StyleError(f"{name} must be finite and >= 0, got {values}")
    largest = max(values)
    if largest <= 0:
        raise StyleError(f"{name} sum to 0 ({values}); give at least one positive weight")
    scaled = [w / largest for w in values]  # in [0, 1], the largest exactly 1
    total = math.fsum(scaled)  # in [1, count]: finite
    return [w / total for w in scaled]


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


def check_finite(array, what: str) -> np.ndarray:
    """`array` (as numpy) if every value is finite; a non-finite (NaN or infinite) value
    means the computation that made it broke down, and a picture made from it would be
    wrong (NaN becomes black), so it is refused, naming `what` it is.

    Raises:
      StyleError: some value is NaN or infinite.
    """
    array = np.asarray(array)
    if array.dtype.kind in "fc" and not np.all(np.isfinite(array)):
        bad = int(array.size - np.count_nonzero(np.isfinite(array)))
        raise StyleError(
            f"{what} has {bad} non-finite value(s) (NaN or infinity) of {array.size}"
        )
    return array


def check_size(value, name: str, minimum: int, maximum: int, unit: str = "pixels") -> int:
    """`value` as an int in [minimum, maximum]: the one bound on a size a user (or an
    image) controls, checked before any work. `name` is how the message calls it (a
    command passes its flag, "--style_size").

    Raises:
      StyleError: not an integer, or outside the bounds.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise StyleError(f"{name} must be an integer from {minimum} to {maximum} {unit}, got {value!r}")
    if not minimum <= value <= maximum:
        raise StyleError(f"{name} must be from {minimum} to {maximum} {unit}, got {value}")
    return int(value)


# Below this long side VGG's poolings leave too little of an image to stylize.
MIN_COMPUTE_SIZE = 16


def check_compute_size(value, name: str = "compute size") -> int | None:
    """The long side to stylize at (None: full size), at least `MIN_COMPUTE_SIZE`; `name` is
    how the message calls it (a command passes its flag, "--compute_size").

    Raises:
      StyleError: not an integer, or too small.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise StyleError(f"{name} must be an integer of at least {MIN_COMPUTE_SIZE} pixels, got {value!r}")
    if value < MIN_COMPUTE_SIZE:
        raise StyleError(f"{name} must be at least {MIN_COMPUTE_SIZE} pixels, got {value}")
    return int(value)


def check_tile(tile, overlap, tile_name: str = "tile", overlap_name: str = "tile overlap",
               masks: bool = False) -> tuple[int | None, int]:
    """(tile, overlap) of a run: `tile` None (the model kind chooses), 0 (whole images) or a
    tile side in pixels, `overlap` at least 0 and, when tiling, less than `tile`; masks
    (`masks=True`) work on whole images only. The names are how the messages call them
    (a command passes its flags, "--tile" and "--tile_overlap").

    Raises:
      StyleError: a negative or non-integer tile or overlap, an overlap not below the
        tile, or a tile size with masks.
    """
    for value, name in ((tile, tile_name), (overlap, overlap_name)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
            raise StyleError(f"{name} must be an integer number of pixels, got {value!r}")
    if tile is not None and tile < 0:
        raise StyleError(f"{tile_name} must be 0 (no tiling) or a tile size in pixels, got {tile}")
    if tile and not 0 <= overlap < tile:
        raise StyleError(f"{overlap_name} must be at least 0 and less than {tile_name}={tile}, got {overlap}")
    if overlap < 0:
        raise StyleError(f"{overlap_name} must be at least 0, got {overlap}")
    if tile and masks:
        raise StyleError(f"masks work on whole images; drop {tile_name} (or make the image smaller to bound memory)")
    return (None if tile is None else int(tile)), int(overlap)


def as_image(image, what: str) -> np.ndarray:
    """`image` as a float32 (H, W, 3) array; StyleError naming it as `what` otherwise."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 3 or image.shape[-1] != 3 or min(image.shape[:2]) < 1:
        raise StyleError(f"the {what} must be an (H, W, 3) RGB array, got shape {image.shape}")
    return image
