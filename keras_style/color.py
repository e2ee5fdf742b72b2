"""Colour preservation for style transfer (numpy only).

Implements the two methods of Gatys, Bethge, Hertzmann and Shechtman, 2016,
"Preserving Color in Neural Artistic Style Transfer" (arXiv:1606.05897):

* luminance-only transfer: keep the stylized image's luminance (the
  brushstrokes) and take the colour (chroma) from the content image, in YIQ
  space;
* colour histogram matching: an affine colour transform that gives one image
  the mean and covariance of another's RGB distribution. Applied to the style
  image before stylizing (the paper's usage) or to the stylized output.

The same affine transform, aimed the other way, is the arbitrary-style models'
palette step (`keras_style.inference.style_palette.StylePalette`): the stylized
output takes the style images' colour mean and covariance. An AdaIN or MetaNet decoder matches VGG feature
statistics, not colours, and on paintings it never saw it renders them faded
(`docs/design_notes.md`, "The style palette step").

Images are float (H, W, 3) RGB arrays in [0, 255]; results are float32,
clipped to [0, 255].
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from keras_style.errors import StyleError

METHODS = ("luminance", "histogram")

# RGB -> YIQ (NTSC 1953). Rows: luma Y, then the chroma channels I and Q.
_RGB_TO_YIQ = np.array(
    [
        [0.299, 0.587, 0.114],
        [0.595716, -0.274453, -0.321263],
        [0.211456, -0.522591, 0.311135],
    ]
)
# The numerical inverse, not the rounded textbook one, so that yiq_to_rgb
# undoes rgb_to_yiq to float precision.
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ)


def rgb_to_yiq(image: np.ndarray) -> np.ndarray:
    """Converts RGB (..., 3) to YIQ (..., 3) on the same scale (Y of white 255 is 255).

    Computed in float64; returns float32 for float32 or integer input,
    float64 for float64 input. Exact inverse of `yiq_to_rgb`.
    """
    return _apply_matrix(image, _RGB_TO_YIQ)


def yiq_to_rgb(image: np.ndarray) -> np.ndarray:
    """Converts YIQ (..., 3) back to RGB (..., 3); exact inverse of `rgb_to_yiq`.

    The result is not clipped: YIQ values not produced from a valid RGB
    colour can map outside [0, 255].
    """
    return _apply_matrix(image, _YIQ_TO_RGB)


def preserve_color(
    content: np.ndarray,
    stylized: np.ndarray,
    method: str = "luminance",
    match_luminance: bool = True,
) -> np.ndarray:
    """Gives a stylized image the colours of the content image.

    Args:
      content: the content image, float (H, W, 3) in [0, 255].
      stylized: the stylized output, same size as `content`.
      method: "luminance": the stylized image's luminance Y with the content's
        chroma (I, Q). "histogram": the stylized image recoloured by
        `match_color_histogram` to the content's colour mean and covariance.
      match_luminance: ("luminance" only) first shift and scale the stylized
        luminance to the content luminance's mean and standard deviation. The
        paper does this to the style image's luminance before transfer so the
        result has the content's overall brightness and contrast; applied to
        the output it has the same global effect, and it stops a much darker
        or brighter style from washing out the content's colours.

    Returns:
      float32 (H, W, 3) in [0, 255].

    Raises:
      StyleError: unknown `method`, or the images differ in size.
    """
    if method not in METHODS:
        raise StyleError(
            f"unknown colour preservation method '{method}'; use one of {', '.join(METHODS)}"
        )
    content = _as_rgb(content, "content")
    stylized = _as_rgb(stylized, "stylized")
    if content.shape != stylized.shape:
        (ch, cw), (sh, sw) = content.shape[:2], stylized.shape[:2]
        raise StyleError(
            f"cannot preserve colour: the content image is {cw}×{ch} but the stylized image is "
            f"{sw}×{sh}; resize the content image to the output size first"
        )
    if method == "histogram":
        return match_color_histogram(stylized, content)
    content_yiq = rgb_to_yiq(content)
    luminance = rgb_to_yiq(stylized)[..., 0]
    if match_luminance:
        luminance = _match_mean_std(luminance, content_yiq[..., 0])
    combined = np.concatenate([luminance[..., None], content_yiq[..., 1:]], axis=-1)
    return _to_output(yiq_to_rgb(combined))


def match_color_histogram(
    source: np.ndarray, target: np.ndarray, eps: float = 1e-3
) -> np.ndarray:
    """Recolours `source` so its RGB mean and covariance match `target`'s.

    The paper's colour histogram matching (its Section 2.1): each pixel x
    becomes A (x - mu_s) + mu_t with A = C_t^(1/2) C_s^(-1/2), where mu and C
    are the images' mean colours and colour covariances and the matrix roots
    are the symmetric ones (from an eigendecomposition). Then the result's
    mean is mu_t and its covariance A C_s A^T = C_t. Use it on the style
    image, with the content image as `target`, before stylizing; or on a
    stylized output.

    Args:
      source: float (H, W, 3) image to recolour, in [0, 255].
      target: float (h, w, 3) image whose colour statistics to take; its size
        may differ from `source`'s.
      eps: added to both covariances' eigenvalues (in squared pixel values),
        so flat images (e.g. a single colour) do not divide by zero.

    Returns:
      float32 array shaped like `source`, clipped to [0, 255].
    """
    return match_color_moments(source, ColorMoments.of(target), eps=eps)


@dataclasses.dataclass(frozen=True)
class ColorMoments:
    """The mean (3,) and covariance (3, 3) of an RGB distribution, float64, [0, 255] scale."""

    mean: np.ndarray
    covariance: np.ndarray

    @classmethod
    def of(cls, image: np.ndarray, pixel_weights: np.ndarray | None = None) -> "ColorMoments":
        """The colour moments of an (H, W, 3) image; `pixel_weights` (H, W) >= 0 weighs its pixels."""
        pixels = _as_rgb(image, "image").reshape(-1, 3)
        if pixel_weights is None:
            return cls(pixels.mean(axis=0), np.cov(pixels, rowvar=False, bias=True))
        w = np.asarray(pixel_weights, np.float64).reshape(-1, 1)
        total = w.sum()
        if total <= 0:
            raise StyleError("the pixel weights are all zero; no colours to measure")
        mean = (w * pixels).sum(axis=0) / total
        centred = pixels - mean
        return cls(mean, (w * centred).T @ centred / total)

    @classmethod
    def mix(cls, moments: Sequence["ColorMoments"], weights: Sequence[float]) -> "ColorMoments":
        """The moments of the mixture that draws a pixel from distribution k with probability
        weights[k] (weights summing to 1): what a picture painted in all the styles at once
        would have, not an average of the covariances."""
        weights = np.asarray(weights, np.float64)
        means = np.stack([m.mean for m in moments])
        mean = weights @ means
        second = sum(w * (m.covariance + np.outer(m.mean, m.mean)) for w, m in zip(weights, moments))
        return cls(mean, second - np.outer(mean, mean))


def match_color_moments(
    source: np.ndarray, target: ColorMoments, eps: float = 1e-3, pixel_weights: np.ndarray | None = None
) -> np.ndarray:
    """`source` recoloured to `target`'s mean and covariance (`match_color_histogram`'s map).

    `pixel_weights` (H, W), when given, weighs `source`'s pixels in its own moments (the map
    fitted to one region); every pixel is mapped. Returns float32 shaped like `source`,
    clipped to [0, 255].
    """
    source = _as_rgb(source, "source")
    own = ColorMoments.of(source, pixel_weights)
    transform = _sym_matrix_power(target.covariance, 0.5, eps) @ _sym_matrix_power(own.covariance, -0.5, eps)
    recoloured = (source.reshape(-1, 3) - own.mean) @ transform.T + target.mean
    return _to_output(recoloured.reshape(source.shape))


def _sym_matrix_power(matrix: np.ndarray, power: float, eps: float) -> np.ndarray:
    """(matrix + eps I) ** power for a symmetric positive semi-definite matrix."""
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    # Clamp rounding-error negatives before regularising.
    eigenvalues = np.maximum(eigenvalues, 0.0) + eps
    return (eigenvectors * eigenvalues**power) @ eigenvectors.T


def _match_mean_std(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Affinely maps `values` to `reference`'s mean and standard deviation."""
    std = values.std()
    # A flat input has no contrast to scale; it just takes the mean.
    scale = reference.std() / std if std > 1e-6 else 0.0
    return (values - values.mean()) * scale + reference.mean()


def _apply_matrix(image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.shape[-1:] != (3,):
        raise StyleError(f"expected a (..., 3) colour array, got shape {image.shape}")
    dtype = np.result_type(image.dtype, np.float32)
    return (image.astype(np.float64) @ matrix.T).astype(dtype)


def _as_rgb(image: np.ndarray, name: str) -> np.ndarray:
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise StyleError(f"{name} must be an (H, W, 3) image, got shape {image.shape}")
    return image


def _to_output(image: np.ndarray) -> np.ndarray:
    return np.clip(image, 0.0, 255.0).astype(np.float32)
