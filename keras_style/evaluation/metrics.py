"""Quantitative style-transfer metrics: effectiveness E, coherence C and the Gatys losses.

Effectiveness E (after Yeh et al., "Quantitative Evaluation of Style Transfer",
2020) measures how close the output's VGG19 feature statistics are to the
style's. For each layer l in `EFFECTIVENESS_LAYERS` (block1_conv1 ... block5_conv1,
standard VGG19 with max pooling, as in the paper) the (HW, C) post-ReLU features
are projected onto K = `NUM_DIRECTIONS` = 128 random unit vectors u_k in R^C
(drawn once per layer from `PROJECTION_SEED`, identical for the style and the
output, so E is comparable across runs). Each 1-D projection is treated as a
Gaussian: mean m and population variance v over the HW positions, with
`VARIANCE_EPSILON` = 1e-5 added to v. With o = output, s = style,

    KL_lk = KL(N(m_o, v_o) || N(m_s, v_s))
          = 1/2 · [ ln(v_s / v_o) + (v_o + (m_o − m_s)²) / v_s − 1 ]   (>= 0; clamped at 0)
    E     = −ln( max( mean over l, k of KL_lk , KL_FLOOR ) )

Higher E = output statistics closer to the style's. `KL_FLOOR` = 1e-12 guards
the identical-statistics case (mean KL = 0): E is then capped at
`MAX_EFFECTIVENESS` = −ln(1e-12) ≈ 27.63 instead of +inf.

Coherence C is the SSIM between the luminance of the content (resized to the
output's size) and of the output:
`tf.image.ssim(max_val=255, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03)`
on Y = 0.299 R + 0.587 G + 0.114 B (Rec. 601, what `tf.image.rgb_to_grayscale`
uses), both clipped to [0, 255]. C = 1 for identical images; both sides must be
at least 11 pixels.

Style and content losses are the Gatys terms, unweighted: Σ_l mean((G_l(output)
− G_l(style))²) over `gatys.DEFAULT_STYLE_LAYERS` (Gram normalised by C·H·W) and
the feature MSE at `gatys.DEFAULT_CONTENT_LAYERS`, on the Gatys VGG19 (average
pooling, `GatysConfig().pooling`). The style image is used at the size it is
given (the evaluation resizes it to the output's long side, as `gatys.stylize`
does with style_scale 1).
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

from keras_style import image_io
from keras_style.errors import StyleError

EFFECTIVENESS_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
NUM_DIRECTIONS = 128
# Fixed so every run, method and machine projects onto the same directions.
PROJECTION_SEED = 20200913
VARIANCE_EPSILON = 1e-5
KL_FLOOR = 1e-12
MAX_EFFECTIVENESS = -math.log(KL_FLOOR)

# SSIM settings (Wang et al. 2004 defaults), on 0..255 luminance.
SSIM_MAX_VAL = 255.0
SSIM_FILTER_SIZE = 11
SSIM_FILTER_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03
LUMA_WEIGHTS = (0.299, 0.587, 0.114)


def gaussian_kl(mean_p, var_p, mean_q, var_q) -> np.ndarray:
    """KL(N(mean_p, var_p) ‖ N(mean_q, var_q)), elementwise, in float64.

    Variances must be positive (add `VARIANCE_EPSILON` first). Rounding can
    make the exact zero of identical Gaussians slightly negative; it is
    clamped to 0.
    """
    mean_p, var_p, mean_q, var_q = (np.asarray(a, np.float64) for a in (mean_p, var_p, mean_q, var_q))
    kl = 0.5 * (np.log(var_q / var_p) + (var_p + np.square(mean_p - mean_q)) / var_q - 1.0)
    return np.maximum(kl, 0.0)


def projection_directions(channels: int, layer_index: int, num_directions: int = NUM_DIRECTIONS,
                          seed: int = PROJECTION_SEED) -> np.ndarray:
    """(channels, num_directions) float64 matrix of random unit column vectors.

    Drawn from a standard normal (so uniform on the sphere) with a generator
    seeded by (seed, layer_index): the same call always gives the same matrix.
    """
    rng = np.random.default_rng([seed, layer_index])
    directions = rng.standard_normal((channels, num_directions))
    return directions / np.linalg.norm(directions, axis=0, keepdims=True)


def projected_moments(features, directions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance (+ `VARIANCE_EPSILON`) of (H, W, C) or (1, H, W, C) features
    projected on each column of `directions`: two (K,) float64 arrays."""
    features = np.asarray(features, np.float64)
    flat = features.reshape(-1, features.shape[-1])  # (HW, C)
    projected = flat @ directions  # (HW, K)
    return projected.mean(axis=0), projected.var(axis=0) + VARIANCE_EPSILON


def effectiveness_from_moments(output_moments: Sequence, style_moments: Sequence) -> float:
    """E = −ln(max(mean KL(output ‖ style), KL_FLOOR)) over all layers and directions.

    Args:
      output_moments, style_moments: per layer, (means, variances) as returned
        by `projected_moments`, in the same layer order.
    """
    kls = [
        gaussian_kl(mean_o, var_o, mean_s, var_s)
        for (mean_o, var_o), (mean_s, var_s) in zip(output_moments, style_moments, strict=True)
    ]
    mean_kl = float(np.mean(np.concatenate(kls)))
    return -math.log(max(mean_kl, KL_FLOOR))


def luminance(image: np.ndarray) -> np.ndarray:
    """Rec. 601 luminance of an (H, W, 3) RGB image, clipped to [0, 255]: float32 (H, W, 1)."""
    image = np.clip(np.asarray(image, np.float32), 0.0, 255.0)
    return (image @ np.asarray(LUMA_WEIGHTS, np.float32))[..., None]


def coherence(content: np.ndarray, output: np.ndarray) -> float:
    """C: SSIM of the luminances of `content` (resized to `output`'s size) and `output`.

    See the module docstring for the exact settings. Both images are float
    (H, W, 3) RGB in [0, 255].

    Raises:
      StyleError: the output is smaller than the 11-pixel SSIM window.
    """
    import tensorflow as tf

    height, width = np.asarray(output).shape[:2]
    if min(height, width) < SSIM_FILTER_SIZE:
        raise StyleError(
            f"a {width}x{height} image is too small for SSIM; both sides must be at least {SSIM_FILTER_SIZE} pixels"
        )
    content = np.asarray(content, np.float32)
    if content.shape[:2] != (height, width):
        content = image_io.resize_image(content, (height, width))
    value = tf.image.ssim(
        tf.constant(luminance(content)),
        tf.constant(luminance(output)),
        max_val=SSIM_MAX_VAL,
        filter_size=SSIM_FILTER_SIZE,
        filter_sigma=SSIM_FILTER_SIGMA,
        k1=SSIM_K1,
        k2=SSIM_K2,
    )
    return float(value)


class StyleMetrics:
    """Computes E, C and the Gatys style and content losses of stylized images.

    Builds two frozen VGG19 extractors once: the standard (max-pooling) one for
    E and the Gatys one (`gatys_config`'s pooling and layers) for the losses;
    `loss_extractor` can be handed to `gatys.stylize` as its model to avoid building a third.
    Per-style work (projected moments, Gram matrices) is done once by
    `style_reference` and reused for every output of that style.

    Args:
      weights: VGG19 weights, as for `VGGFeatureExtractor` ("auto": cached).
      gatys_config: where the loss layers and pooling come from (default
        `GatysConfig()`).
      num_directions: K, random projections per layer for E.
      projection_seed: seed of the projection directions.
    """

    def __init__(self, weights: str | None = "auto", gatys_config=None, num_directions: int = NUM_DIRECTIONS,
                 projection_seed: int = PROJECTION_SEED):
        from keras_style.gatys import GatysConfig
        from keras_style.vgg import VGGFeatureExtractor

        config = gatys_config or GatysConfig()
        self.style_layers = list(config.style_layers)
        self.content_layers = list(config.content_layers)
        self.num_directions = num_directions
        self.projection_seed = projection_seed
        self.effectiveness_extractor = VGGFeatureExtractor(
            EFFECTIVENESS_LAYERS, network="vgg19", pooling="max", weights=weights
        )
        # Same layer set as `gatys.stylize` builds, so it can be shared with it.
        layers = list(dict.fromkeys(self.content_layers + self.style_layers))
        self.loss_extractor = VGGFeatureExtractor(layers, network="vgg19", pooling=config.pooling, weights=weights)
        self._directions: dict[int, np.ndarray] = {}

    def _features(self, extractor, image: np.ndarray) -> dict:
        import tensorflow as tf

        image = np.asarray(image, np.float32)
        if image.ndim != 3 or image.shape[-1] != 3:
            raise StyleError(f"expected an (H, W, 3) image, got shape {image.shape}")
        return extractor(tf.constant(np.clip(image, 0.0, 255.0)[None]))

    def _moments(self, image: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        features = self._features(self.effectiveness_extractor, image)
        moments = []
        for index, name in enumerate(EFFECTIVENESS_LAYERS):
            layer = np.asarray(features[name])
            if index not in self._directions:
                self._directions[index] = projection_directions(
                    layer.shape[-1], index, self.num_directions, self.projection_seed
                )
            moments.append(projected_moments(layer, self._directions[index]))
        return moments

    def style_reference(self, style: np.ndarray) -> dict:
        """Precomputes what E and the style loss need from a style image (float (H, W, 3)
        in [0, 255], at the size to compare at). Pass the result to `evaluate`."""
        from keras_style import losses

        features = self._features(self.loss_extractor, style)
        grams = {name: losses.gram_matrix(features[name]) for name in self.style_layers}
        return {"moments": self._moments(style), "grams": grams}

    def effectiveness(self, output: np.ndarray, style) -> float:
        """E of `output` against `style` (an image or a `style_reference`)."""
        reference = style if isinstance(style, Mapping) else self.style_reference(style)
        return effectiveness_from_moments(self._moments(output), reference["moments"])

    def evaluate(self, content: np.ndarray, output: np.ndarray, style=None) -> dict[str, float]:
        """All metrics of one output.

        Args:
          content: the content image as given to the method (resized to the
            output's size here if it differs).
          output: the stylized image, float (H, W, 3) in [0, 255] (clipped here).
          style: a style image or `style_reference`; None (e.g. a fixed-style
            model whose training style is unknown) leaves E and the style loss NaN.

        Returns:
          {"effectiveness", "coherence", "style_loss", "content_loss"} as floats.
        """
        from keras_style import losses  # Keras: loaded when metrics are computed

        output = np.clip(np.asarray(output, np.float32), 0.0, 255.0)
        content = np.asarray(content, np.float32)
        if content.shape[:2] != output.shape[:2]:
            content = np.clip(image_io.resize_image(content, output.shape[:2]), 0.0, 255.0)
        output_features = self._features(self.loss_extractor, output)
        content_features = self._features(self.loss_extractor, content)
        content_loss = sum(
            float(losses.content_loss(output_features[n], content_features[n])) for n in self.content_layers
        )
        effectiveness = style_loss = math.nan
        if style is not None:
            reference = style if isinstance(style, Mapping) else self.style_reference(style)
            style_loss = float(
                losses.gram_style_loss({n: output_features[n] for n in self.style_layers}, reference["grams"])
            )
            effectiveness = self.effectiveness(output, reference)
        return {
            "effectiveness": effectiveness,
            "coherence": coherence(content, output),
            "style_loss": style_loss,
            "content_loss": content_loss,
        }
