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

E per VGG block: `E_relu1_1` ... `E_relu5_1` (`E_BLOCK_COLUMNS`) are the same
computation restricted to one layer l of `EFFECTIVENESS_LAYERS` (block<b>_conv1
is VGG's relu<b>_1): E_l = −ln( max( mean over k of KL_lk , KL_FLOOR ) ). Every
layer has the same K directions, so whenever no floor applies

    E = −ln( mean over l of exp(−E_l) )

exactly (`combine_block_effectiveness`). The fine blocks (1-2) carry
brushwork and small strokes, the middle ones (3) motifs, the deep ones (4-5)
layout-level statistics.

Texture retrieval ranks the run's style images by how close their texture is
to the output's, on luminance only, so colour cannot help. The descriptor of
an image is, for each layer l of `TEXTURE_LAYERS` (relu1_1 ... relu4_1 of the
same max-pooling VGG19 as E), the Gram matrix of its Rec. 601 luminance
(clipped to [0, 255], replicated to 3 channels) features F_l (HW, C):
G_l = F_lᵀ F_l / (H·W), a mean over positions, so the image size does not
dominate. The distance between an output o and a style s is

    D(o, s) = mean over l of ‖G_l(o) − G_l(s)‖_F / (‖G_l(o)‖_F + ‖G_l(s)‖_F)

in [0, 1] (symmetric, scale-balanced across layers: each layer counts the
same however large its activations are). `texture_rank` is the 1-based rank
of the output's own painting among the run's styles by increasing D (ties
count against it); `texture_hit` is 1 when that rank is 1. A method's
retrieval score is its hit rate (chance = 1 / number of styles) and its mean
reciprocal rank. With fewer than 2 styles in the run, or no own painting
among them, both are blank.
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
# results.csv column of E restricted to each layer of EFFECTIVENESS_LAYERS (blockN_conv1 = reluN_1).
E_BLOCK_COLUMNS = tuple(f"E_relu{layer[5]}_1" for layer in EFFECTIVENESS_LAYERS)
TEXTURE_LAYERS = EFFECTIVENESS_LAYERS[:4]
# Retrieval needs somewhere else to look.
MIN_TEXTURE_STYLES = 2

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
    from keras_style.vgg_layers import min_input_side

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


def block_effectiveness(output_moments: Sequence, style_moments: Sequence) -> list[float]:
    """E_l per layer (see the module docstring), in the order of the moments given."""
    return [
        -math.log(max(float(np.mean(gaussian_kl(mean_o, var_o, mean_s, var_s))), KL_FLOOR))
        for (mean_o, var_o), (mean_s, var_s) in zip(output_moments, style_moments, strict=True)
    ]


def combine_block_effectiveness(block_values: Sequence[float]) -> float:
    """E from the per-layer E_l (equal direction counts): −ln(mean exp(−E_l)), floored like E."""
    mean_kl = float(np.mean(np.exp(-np.asarray(block_values, np.float64))))
    return -math.log(max(mean_kl, KL_FLOOR))


def gram_descriptor(features: Mapping, layers: Sequence[str] = TEXTURE_LAYERS) -> list[np.ndarray]:
    """Per layer, the (C, C) float64 Gram Fᵀ F / (H·W) of (1, H, W, C) or (H, W, C) features."""
    grams = []
    for name in layers:
        layer = np.asarray(features[name], np.float64)
        flat = layer.reshape(-1, layer.shape[-1])
        grams.append(flat.T @ flat / len(flat))
    return grams


def texture_distance(descriptor_a: Sequence[np.ndarray], descriptor_b: Sequence[np.ndarray]) -> float:
    """D: mean over layers of ‖G_a − G_b‖_F / (‖G_a‖_F + ‖G_b‖_F), in [0, 1]; 0 for equal Grams."""
    values = []
    for a, b in zip(descriptor_a, descriptor_b, strict=True):
        scale = np.linalg.norm(a) + np.linalg.norm(b)
        values.append(np.linalg.norm(a - b) / scale if scale > 0 else 0.0)
    return float(np.mean(values))


def texture_rank(descriptor: Sequence[np.ndarray], own: str, candidates: Mapping[str, Sequence[np.ndarray]]) -> int:
    """1-based rank of `candidates[own]` among all candidates by increasing `texture_distance`
    to `descriptor`; a tie with another candidate counts against `own`."""
    distances = {name: texture_distance(descriptor, other) for name, other in candidates.items()}
    return 1 + sum(1 for name, d in distances.items() if name != own and d <= distances[own])


def luminance_rgb(image: np.ndarray) -> np.ndarray:
    """The luminance of an (H, W, 3) RGB image replicated to 3 channels: float32 (H, W, 3)."""
    return np.repeat(luminance(image), 3, axis=-1)


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

    def _moments_and_texture(self, image: np.ndarray) -> tuple[list, list[np.ndarray]]:
        """E's projected moments of `image` and the luminance texture descriptor, from one
        VGG19 call on the batch [image, its luminance as RGB]."""
        import tensorflow as tf

        image = np.asarray(image, np.float32)
        if image.ndim != 3 or image.shape[-1] != 3:
            raise StyleError(f"expected an (H, W, 3) image, got shape {image.shape}")
        image = np.clip(image, 0.0, 255.0)
        features = self.effectiveness_extractor(tf.constant(np.stack([image, luminance_rgb(image)])))
        features = {name: np.asarray(value) for name, value in features.items()}
        moments = []
        for index, name in enumerate(EFFECTIVENESS_LAYERS):
            layer = features[name][0]
            if index not in self._directions:
                self._directions[index] = projection_directions(
                    layer.shape[-1], index, self.num_directions, self.projection_seed
                )
            moments.append(projected_moments(layer, self._directions[index]))
        texture = gram_descriptor({name: features[name][1] for name in TEXTURE_LAYERS})
        return moments, texture

    def _moments(self, image: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        return self._moments_and_texture(image)[0]

    def texture_descriptor(self, image: np.ndarray) -> list[np.ndarray]:
        """The luminance texture descriptor of an (H, W, 3) image (see the module docstring)."""
        return self._moments_and_texture(image)[1]

    def style_reference(self, style: np.ndarray) -> dict:
        """Precomputes what E, the texture retrieval, the palette distance and the style loss
        need from a style image (float (H, W, 3) in [0, 255], at the size to compare at).
        Pass the result to `evaluate`."""
        from keras_style import losses

        features = self._features(self.loss_extractor, style)
        grams = {name: losses.gram_matrix(features[name]) for name in self.style_layers}
        moments, texture = self._moments_and_texture(style)
        return {
            "moments": moments,
            "texture": texture,
            "grams": grams,
            "palette": palette_quantiles(style, self._palette_directions),  # clipped by srgb_to_lab
        }

    def effectiveness(self, output: np.ndarray, style) -> float:
        """E of `output` against `style` (an image or a `style_reference`)."""
        reference = style if isinstance(style, Mapping) else self.style_reference(style)
        return effectiveness_from_moments(self._moments(output), reference["moments"])

    def evaluate(self, content: np.ndarray, output: np.ndarray, style=None,
                 texture_styles: Mapping[str, Mapping] | None = None, own_style: str | None = None
                 ) -> dict[str, float | int]:
        """All metrics of one output.

        Args:
          content: the content image as given to the method (resized to the
            output's size here if it differs).
          output: the stylized image, float (H, W, 3) in [0, 255] (clipped here).
          style: a style image or `style_reference`; None (e.g. a fixed-style
            model whose training style is unknown) leaves E, the palette
            distance and the style loss NaN.
          texture_styles: {name: `style_reference`} of every style of the run, for
            the texture retrieval; it is NaN unless there are at least
            `MIN_TEXTURE_STYLES` of them and `own_style` is one.
          own_style: the name in `texture_styles` of this output's painting.

        Returns:
          {"effectiveness", *E_BLOCK_COLUMNS, "texture_rank", "texture_hit", "coherence",
          "palette", "style_loss", "content_loss"}: floats, NaN where not defined, except
          the rank and hit, which are ints when defined.
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
        effectiveness = palette = style_loss = rank = math.nan
        blocks = [math.nan] * len(EFFECTIVENESS_LAYERS)
        moments, texture = self._moments_and_texture(output)
        if texture_styles and len(texture_styles) >= MIN_TEXTURE_STYLES and own_style in texture_styles:
            rank = texture_rank(texture, own_style, {n: r["texture"] for n, r in texture_styles.items()})
        if style is not None:
            reference = style if isinstance(style, Mapping) else self.style_reference(style)
            style_loss = float(
                losses.gram_style_loss({n: output_features[n] for n in self.style_layers}, reference["grams"])
            )
            effectiveness = effectiveness_from_moments(moments, reference["moments"])
            blocks = block_effectiveness(moments, reference["moments"])
            # The same output and style image as E: only the comparison differs.
            palette = float(np.mean(np.abs(
                palette_quantiles(output, self._palette_directions) - reference["palette"]
            )))
        return {
            "effectiveness": effectiveness,
            **dict(zip(E_BLOCK_COLUMNS, blocks, strict=True)),
            "texture_rank": rank,
            "texture_hit": int(rank == 1) if isinstance(rank, int) else math.nan,
            "coherence": coherence(content, output),
            "palette": palette,
            "style_loss": style_loss,
            "content_loss": content_loss,
        }
