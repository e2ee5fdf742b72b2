"""Arbitrary style transfer with a trained AdaIN model, from Python.

Huang & Belongie, "Arbitrary Style Transfer in Real-time with Adaptive Instance
Normalization" (ICCV 2017), Section 7 (user controls): content-style trade-off
(`alpha`), interpolation between several styles (`style_weights`), spatial control
(`masks`) and colour preservation (`preserve_color`).

    from keras_style import adain, image_io
    model = keras.saving.load_model("adain.keras")   # an AdaINStyleTransfer
    out = adain.stylize(model, image_io.load_image("photo.jpg"),
                        [image_io.load_image("a.jpg"), image_io.load_image("b.jpg")],
                        style_weights=[0.7, 0.3], alpha=0.8)

Images are float (H, W, 3) RGB arrays in [0, 255], as `keras_style.image_io` reads
them; `model` is a `keras_style.models.adain_model.AdaINStyleTransfer`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from keras_style import checks, color
from keras_style.errors import StyleError


def style_statistics(model, style_image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The relu4_1 channel mean and standard deviation of one style image.

    Args:
      model: an `AdaINStyleTransfer`.
      style_image: float (H, W, 3) RGB in [0, 255], any size.

    Returns:
      (mean, std), each float32 of shape (512,); std = sqrt(var + epsilon).
    """
    style = checks.as_image(style_image, "style image")
    mean, std = model.style_statistics(style[None])
    return _numpy(mean)[0], _numpy(std)[0]


def mix_statistics(
    stats_list: Sequence[tuple[np.ndarray, np.ndarray]], weights: Sequence[float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Interpolates between styles: a convex combination of their statistics.

    Returns (Σ_k w_k mean_k, Σ_k w_k std_k) with the weights normalised to sum to 1.
    This mixes the relu4_1 mean/std, whereas the paper interpolates the AdaIN
    *outputs*, Σ_k w_k AdaIN(f, mean_k, std_k) for the content features f. The two
    are the same: for fixed f, AdaIN(f, mean, std) = std * n(f) + mean with
    n(f) = (f - mu(f)) / sigma(f) is linear in (mean, std), so
    Σ_k w_k (std_k n(f) + mean_k) = (Σ_k w_k std_k) n(f) + Σ_k w_k mean_k
    (verified numerically in tests/test_adain.py). Mixing the statistics is cheaper:
    one AdaIN and one decoder input, and the mix can be computed once per style set.

    Args:
      stats_list: (mean, std) pairs, e.g. from `style_statistics`.
      weights: one weight >= 0 per style, not all zero; None weighs them equally.

    Returns:
      (mean, std), float32 arrays shaped like the inputs'.

    Raises:
      StyleError: no styles, a weight count that differs from the style count,
        negative or non-finite weights, weights summing to 0, or statistics of
        different shapes.
    """
    stats_list = list(stats_list)
    if not stats_list:
        raise StyleError("no styles to mix")
    weights = checks.normalised_weights(weights, len(stats_list))
    means = [np.asarray(mean, np.float32) for mean, _ in stats_list]
    stds = [np.asarray(std, np.float32) for _, std in stats_list]
    if any(a.shape != means[0].shape for a in means + stds):
        raise StyleError("cannot mix style statistics of different shapes (from different models?)")
    mean = sum(w * m.astype(np.float64) for w, m in zip(weights, means))
    std = sum(w * s.astype(np.float64) for w, s in zip(weights, stds))
    return mean.astype(np.float32), std.astype(np.float32)


def adain_target(
    model,
    content: np.ndarray,
    stats_list: Sequence[tuple[np.ndarray, np.ndarray]],
    style_weights: Sequence[float] | None = None,
    masks: Sequence[np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The content's relu4_1 features and the AdaIN target the decoder should render.

    Without masks the target is AdaIN(f, mixed statistics) (see `mix_statistics`).
    With masks (spatial control) each style k gives its own target
    t_k = AdaIN(f, mean_k, std_k); the masks are resized to the relu4_1 grid (area
    average over each 8x8 block of the padded content, see
    `AdaINStyleTransfer.feature_masks`), multiplied by the style weights and
    normalised to sum to 1 at each feature pixel, and the target is
    Σ_k c_k t_k. Feature pixels where every mask is 0 keep the content features f.

    Args:
      model: an `AdaINStyleTransfer`.
      content: float (H, W, 3) RGB in [0, 255].
      stats_list: one (mean, std) pair per style.
      style_weights: one weight >= 0 per style; None weighs them equally.
      masks: None, or one float (H, W) mask in [0, 1] per style, the content's size.

    Returns:
      (features, target), each float32 (h, w, 512) with h, w = ceil(H / 8), ceil(W / 8)
      (at least 2).

    Raises:
      StyleError: bad weights or masks (see `stylize`).
    """
    content = checks.as_image(content, "content image")
    stats_list = list(stats_list)
    if not stats_list:
        raise StyleError("no styles given")
    weights = checks.normalised_weights(style_weights, len(stats_list))
    features = model.encode_content(content[None])
    if masks is None:
        mean, std = mix_statistics(stats_list, weights)
        target = model.adain([features, mean[None], std[None]])
        return _numpy(features)[0], _numpy(target)[0]

    masks = checks.check_masks(masks, len(stats_list), content.shape[:2])
    coefficients = _numpy(model.feature_masks(np.stack(masks, axis=-1)[None]))[0]  # (h, w, K)
    coefficients = checks.mask_coefficients(coefficients, weights)
    covered = coefficients.sum(axis=-1, keepdims=True) > 0
    f = _numpy(features)[0]
    target = np.zeros_like(f)
    for k, (mean, std) in enumerate(stats_list):
        t_k = _numpy(model.adain([features, np.asarray(mean, np.float32)[None], np.asarray(std, np.float32)[None]]))[0]
        target += coefficients[..., k : k + 1] * t_k
    # Uncovered pixels: the content features, i.e. no stylization there.
    target = np.where(covered, target, f)
    return f, target.astype(np.float32)


def stylize(
    model,
    content: np.ndarray,
    styles: Sequence[np.ndarray],
    *,
    style_weights: Sequence[float] | None = None,
    alpha: float = 1.0,
    masks: Sequence[np.ndarray] | None = None,
    preserve_color: str | None = None,
) -> np.ndarray:
    """Renders `content` in the style of `styles` with a trained AdaIN model.

    The decoder renders (1 - alpha) * f + alpha * t, where f are the content's relu4_1
    features and t the AdaIN target (`adain_target`): the styles' statistics mixed
    by `style_weights`, or with `masks` each style's target in its own region.

    Args:
      model: an `AdaINStyleTransfer`.
      content: float (H, W, 3) RGB in [0, 255], any size.
      styles: style images, float (Hs, Ws, 3) in [0, 255], any sizes (a single
        image is accepted too).
      style_weights: one weight >= 0 per style, normalised to sum to 1; None weighs
        the styles equally. With masks, they scale each style's mask.
      alpha: style strength in [0, 1]; 0 reconstructs the content through the
        decoder, 1 is full stylization.
      masks: None, or one (H, W) float mask in [0, 1] per style, the content's size:
        style k is applied where its mask is 1 (spatial control).
      preserve_color: None, "luminance" (keep the output's luminance with the
        content's colours: a post-process) or "histogram" (recolour every style image
        to the content's colour mean and covariance before stylizing, as the paper
        does). See `keras_style.color`.

    Returns:
      float32 (H, W, 3) RGB, clipped to [0, 255].

    Raises:
      StyleError: bad images, weights, alpha, masks or colour method.
    """
    content = checks.as_image(content, "content image")
    if isinstance(styles, np.ndarray) and styles.ndim == 3:
        styles = [styles]
    styles = [checks.as_image(s, f"style image {k + 1}") for k, s in enumerate(styles)]
    if not styles:
        raise StyleError("no style images given")
    alpha = checks.check_alpha(alpha)
    if preserve_color is not None and preserve_color not in color.METHODS:
        raise StyleError(
            f"unknown colour preservation method '{preserve_color}'; use one of {', '.join(color.METHODS)}"
        )
    # Validate cheap arguments before running the network.
    checks.normalised_weights(style_weights, len(styles))
    if masks is not None:
        checks.check_masks(masks, len(styles), content.shape[:2])

    if preserve_color == "histogram":
        styles = [color.match_color_histogram(s, content) for s in styles]
    stats_list = [style_statistics(model, s) for s in styles]
    features, target = adain_target(model, content, stats_list, style_weights, masks)
    decoder_input = features + np.float32(alpha) * (target - features)
    out = _numpy(model.decode(decoder_input[None], content[None]))[0]
    out = np.clip(out, 0.0, 255.0).astype(np.float32)
    if preserve_color == "luminance":
        out = color.preserve_color(content, out, "luminance")
    return out


def _numpy(x) -> np.ndarray:
    import keras

    return np.asarray(keras.ops.convert_to_numpy(x), dtype=np.float32)
