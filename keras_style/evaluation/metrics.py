"""Quantitative style-transfer metrics: effectiveness E, coherence C, palette distance and the Gatys losses.

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

Palette distance P measures whether the style's colours come through, which E
(texture statistics of VGG features) and C (luminance structure) do not. Both
images, clipped to [0, 255], are converted to CIELAB (`srgb_to_lab`: sRGB
decoding to linear RGB, the IEC 61966-2-1 matrix to XYZ, D65 white, CIE 1976
L*a*b*). Each is then a set of Lab points; an image with more than
`PALETTE_MAX_PIXELS` = 65536 pixels is subsampled to that many without
replacement by a generator seeded with `PALETTE_SAMPLE_SEED`, so large images
stay cheap and the same image always gives the same set. The points are
projected onto `PALETTE_DIRECTIONS` = 64 unit vectors u_k in Lab space (drawn
once from `PALETTE_SEED`, the same for every image, run and machine), and with
Q_x,k(q) the q-quantile of image x's projections on u_k (`np.quantile`,
method "hazen": the piecewise-linear empirical quantile through the sorted
values at (i + 1/2) / n),

    P = mean over k of  mean over i = 0..255 of | Q_o,k((i + 1/2) / 256) − Q_s,k((i + 1/2) / 256) |

the sliced Wasserstein-1 distance between the two colour distributions. It is
symmetric, ignores where the colours are (pixel order) and how many pixels
there are, and is in Lab units (ΔE76-like): 0 = the same colour distribution,
lower = closer to the style's palette. A uniform shift of every pixel by a Lab
vector d gives mean_k |u_k · d|, about |d| / 2 (the mean |cos| on a sphere).

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

PALETTE_DIRECTIONS = 64
PALETTE_QUANTILES = 256
PALETTE_MAX_PIXELS = 65536
# Fixed, like PROJECTION_SEED, so palette distances compare across runs and machines.
PALETTE_SEED = 20240611
PALETTE_SAMPLE_SEED = 1931
# sRGB (IEC 61966-2-1) linear RGB -> CIE XYZ, and its D65 white: the row sums (0.95047,
# 1.0, 1.08883), so RGB white maps to exactly L* = 100, a* = b* = 0.
SRGB_TO_XYZ = np.array([
    [0.4124564, 0.3575761, 0.1804375],
    [0.2126729, 0.7151522, 0.0721750],
    [0.0193339, 0.1191920, 0.9503041],
])
D65_WHITE = SRGB_TO_XYZ.sum(axis=1)


def min_image_side(gatys_config=None) -> int:
    """Smallest side, in pixels, of an image every metric (and Gatys with `gatys_config`,
    default `GatysConfig()`) can score: SSIM's window and the VGG19 poolings before the
    deepest layer (E's block5_conv1: 16)."""
    from keras_style.gatys import GatysConfig
    from keras_style.vgg import min_input_side

    config = gatys_config or GatysConfig()
    return max(SSIM_FILTER_SIZE, min_input_side(EFFECTIVENESS_LAYERS), config.min_image_side())


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


def srgb_to_lab(image) -> np.ndarray:
    """CIELAB (L* in [0, 100], a*, b*) of sRGB values in [0, 255] (clipped): float64, same shape.

    The standard chain: v = value / 255 decoded to linear light (v / 12.92 up to
    0.04045, else ((v + 0.055) / 1.055) ** 2.4), `SRGB_TO_XYZ`, divided by the
    D65 white, then f(t) = t ** (1/3) above (6/29)³, else t / (3 · (6/29)²) + 4/29,
    and L* = 116 f(Y) − 16, a* = 500 (f(X) − f(Y)), b* = 200 (f(Y) − f(Z)).
    """
    rgb = np.clip(np.asarray(image, np.float64), 0.0, 255.0) / 255.0
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = linear @ SRGB_TO_XYZ.T / D65_WHITE
    delta = 6.0 / 29.0
    # The linear segment near black keeps f finite-sloped, as CIE 1976 defines it.
    f = np.where(xyz > delta**3, np.cbrt(xyz), xyz / (3.0 * delta**2) + 4.0 / 29.0)
    fx, fy, fz = f[..., 0], f[..., 1], f[..., 2]
    return np.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)


def palette_directions(num_directions: int = PALETTE_DIRECTIONS, seed: int = PALETTE_SEED) -> np.ndarray:
    """(3, num_directions) float64 matrix of random unit column vectors in Lab space,
    the same on every call (standard normal draws from `seed`, normalised)."""
    directions = np.random.default_rng(seed).standard_normal((3, num_directions))
    return directions / np.linalg.norm(directions, axis=0, keepdims=True)


def palette_quantiles(image, directions: np.ndarray | None = None) -> np.ndarray:
    """The (PALETTE_QUANTILES, K) quantiles of an (H, W, 3) RGB image's Lab pixels
    projected on each column of `directions` (default `palette_directions()`).

    Two images' palette distance is the mean absolute difference of their
    quantiles; computing a style's once lets every output of it reuse them.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise StyleError(f"expected an (H, W, 3) image, got shape {image.shape}")
    if directions is None:
        directions = palette_directions()
    pixels = image.reshape(-1, 3)
    if len(pixels) > PALETTE_MAX_PIXELS:
        # Subsample before converting: the conversion is the costly part. A fresh
        # generator per call, so an image always gives the same subset.
        rng = np.random.default_rng(PALETTE_SAMPLE_SEED)
        pixels = pixels[rng.choice(len(pixels), PALETTE_MAX_PIXELS, replace=False)]
    projected = srgb_to_lab(pixels) @ directions  # (N, K)
    levels = (np.arange(PALETTE_QUANTILES) + 0.5) / PALETTE_QUANTILES
    # "hazen" puts the i-th sorted value at level (i + 1/2) / N, the same midpoints as `levels`.
    return np.quantile(projected, levels, axis=0, method="hazen")


def palette_distance(output, style) -> float:
    """P: sliced Wasserstein-1 distance between the CIELAB colour distributions of two
    float (H, W, 3) RGB images in [0, 255] (see the module docstring).

    0 for the same colour distribution (whatever the pixel order or image size),
    symmetric, in Lab units; lower = the output's palette is closer to the style's.
    """
    return float(np.mean(np.abs(palette_quantiles(output) - palette_quantiles(style))))


class StyleMetrics:
    """Computes E, C, the palette distance and the Gatys style and content losses of stylized images.

    Builds two frozen VGG19 extractors once: the standard (max-pooling) one for
    E and the Gatys one (`gatys_config`'s pooling and layers) for the losses;
    `loss_extractor` can be handed to `gatys.stylize` as its model to avoid building a third.
    Per-style work (projected moments, Gram matrices, palette quantiles) is done once by
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
        self._palette_directions = palette_directions()

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
        """Precomputes what E, the palette distance and the style loss need from a style
        image (float (H, W, 3) in [0, 255], at the size to compare at). Pass the
        result to `evaluate`."""
        from keras_style import losses

        features = self._features(self.loss_extractor, style)
        grams = {name: losses.gram_matrix(features[name]) for name in self.style_layers}
        return {
            "moments": self._moments(style),
            "grams": grams,
            "palette": palette_quantiles(style, self._palette_directions),  # clipped by srgb_to_lab
        }

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
            model whose training style is unknown) leaves E, the palette
            distance and the style loss NaN.

        Returns:
          {"effectiveness", "coherence", "palette", "style_loss", "content_loss"} as floats.
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
        effectiveness = palette = style_loss = math.nan
        if style is not None:
            reference = style if isinstance(style, Mapping) else self.style_reference(style)
            style_loss = float(
                losses.gram_style_loss({n: output_features[n] for n in self.style_layers}, reference["grams"])
            )
            effectiveness = self.effectiveness(output, reference)
            # The same output and style image as E: only the comparison differs.
            palette = float(np.mean(np.abs(
                palette_quantiles(output, self._palette_directions) - reference["palette"]
            )))
        return {
            "effectiveness": effectiveness,
            "coherence": coherence(content, output),
            "palette": palette,
            "style_loss": style_loss,
            "content_loss": content_loss,
        }
