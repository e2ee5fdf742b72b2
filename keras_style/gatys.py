"""Gatys et al. style transfer by optimisation over VGG features with L-BFGS.

The image is the variable. An `Evaluator` computes the loss *and* its gradient in one
compiled TensorFlow call and hands float64 arrays to `scipy.optimize.fmin_l_bfgs_b`,
which runs once per scale and keeps its curvature history for the whole optimisation
(old examples restarted it every 20 evaluations, throwing that history away). Pixel
values are box-constrained to [0, 255] by L-BFGS-B itself, so nothing is clipped behind
the optimiser's back.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Callable, Sequence

import numpy as np

# Keras (`losses`, `vgg`) and scipy's optimiser are imported where they are used, so
# `GatysConfig` and its checks (style_gatys' and style_evaluate's flag defaults and input
# checks) load quickly.
from keras_style import checks, color, image_io, precision as precision_lib
from keras_style.errors import StyleError

DEFAULT_STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
DEFAULT_CONTENT_LAYERS = ("block4_conv2",)
MIN_IMAGE_SIZE = 32  # below this, block5 features are under 2x2 pixels
# The largest image_size (or stage of scales); L-BFGS keeps 20 float64 copies of the image.
MAX_IMAGE_SIZE = checks.MAX_WORK_SIDE
BLEND_WEIGHTS = "style blend weights"  # how messages name them


@dataclasses.dataclass
class GatysConfig:
    """Settings of a Gatys optimisation; every field has a matching `style_gatys` flag.

    Loss = content_weight · Σ MSE(content features)
         + style_weight · Σ_l w_l · MSE(Gram_l)  (Gram normalised by C·H·W)
         + tv_weight · TV(image) / (H·W)
    Each term is independent of the image size, so weights carry across scales.
    `precision` is a `keras_style.precision` setting for the VGG network ("auto":
    mixed_bfloat16 on CPUs with bfloat16 units, else float32).
    """

    content_weight: float = 1.0
    style_weight: float = 300.0
    tv_weight: float = 0.1
    tv_form: str = "pow1.25"
    content_layers: Sequence[str] = DEFAULT_CONTENT_LAYERS
    content_layer_weights: Sequence[float] | None = None
    style_layers: Sequence[str] = DEFAULT_STYLE_LAYERS
    style_layer_weights: Sequence[float] | None = None
    style_blend_weights: Sequence[float] | None = None
    network: str = "vgg19"
    pooling: str = "avg"
    weights: str | None = "auto"
    image_size: int = 512
    scales: Sequence[int] = ()
    style_scale: float = 1.0
    iterations: int = 300
    init: str = "content"
    preserve_color: str | None = None
    seed: int = 0
    precision: str = precision_lib.AUTO

    def validate(self):
        """Raises StyleError naming the first bad field."""
        # A style image larger than this (long side, pixels) is refused unless the
        # image itself is larger: style_scale multiplies the image size with no bound.
        max_style_side = 4096

        def finite(values) -> bool:  # NaN passes every `< 0` test and gives a blank picture
            try:
                return all(math.isfinite(float(v)) for v in values)
            except (TypeError, ValueError):
                return False

        for name in ("content_weight", "style_weight", "tv_weight"):
            if not finite([getattr(self, name)]):
                raise StyleError(f"{name} must be a finite number, got {getattr(self, name)}")
            if getattr(self, name) < 0:
                raise StyleError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name, layers, layer_weights in (
            ("content", self.content_layers, self.content_layer_weights),
            ("style", self.style_layers, self.style_layer_weights),
        ):
            if not layers:
                raise StyleError(f"no {name} layers given")
            if layer_weights is not None:
                if len(layer_weights) != len(layers):
                    raise StyleError(
                        f"{len(layer_weights)} {name} layer weights for {len(layers)} {name} layers"
                    )
                if not finite(layer_weights):
                    raise StyleError(f"{name} layer weights must be finite numbers, got {list(layer_weights)}")
                if any(w < 0 for w in layer_weights):
                    raise StyleError(f"{name} layer weights must be >= 0, got {list(layer_weights)}")
        if self.style_blend_weights is not None:  # their count is checked against the styles in `stylize`
            checks.normalised_weights(self.style_blend_weights, len(self.style_blend_weights), BLEND_WEIGHTS)
        for size in self.stage_sizes():
            if isinstance(size, (int, np.integer)) and size < MIN_IMAGE_SIZE:
                raise StyleError(f"image size {size} is too small; use at least {MIN_IMAGE_SIZE} pixels")
            checks.check_size(size, "scales" if self.scales else "image_size", MIN_IMAGE_SIZE, MAX_IMAGE_SIZE)
        if not finite([self.style_scale]):
            raise StyleError(f"style_scale must be a finite number, got {self.style_scale}")
        if self.style_scale <= 0:
            raise StyleError(f"style_scale must be > 0, got {self.style_scale}")
        for size in self.stage_sizes():
            style_side = round(size * self.style_scale)
            if style_side > max(max_style_side, size):
                raise StyleError(
                    f"style_scale {self.style_scale:g} makes the style images {style_side} px on the long side "
                    f"(image size {size}); the limit is {max_style_side} px (or the image size, if larger), "
                    "so use a smaller style_scale"
                )
        if self.iterations < 1:
            raise StyleError(f"iterations must be >= 1, got {self.iterations}")
        if self.tv_form not in ("l1", "pow1.25"):
            raise StyleError(f"unknown tv_form '{self.tv_form}'; choose l1 or pow1.25")
        precision_lib.canonical(self.precision)
        if self.preserve_color not in (None, "luminance", "histogram"):
            raise StyleError(f"unknown colour preservation '{self.preserve_color}'; choose luminance or histogram")

    def stage_sizes(self) -> list[int]:
        """Long-side sizes of the coarse-to-fine stages (one stage unless `scales` is set)."""
        return list(self.scales) if self.scales else [self.image_size]

    def style_long_side(self, long_side: int) -> int:
        """Long side of the style images in the stage whose long side is `long_side`."""
        return max(MIN_IMAGE_SIZE, round(long_side * self.style_scale))

    def min_image_side(self) -> int:
        """Smallest side, in pixels, the loss network takes (16 for the default layers)."""
        from keras_style.vgg_layers import min_input_side

        return min_input_side(list(self.content_layers) + list(self.style_layers), self.network)


def check_image_sizes(config: GatysConfig, content, styles, names: Sequence[str] | None = None) -> None:
    """Raises StyleError if an image, resized for any stage, is too thin for the loss network.

    An image of extreme aspect ratio keeps a short side of a few pixels, which VGG's
    poolings take to 0, failing in TensorFlow mid-run; this refuses it before any work.

    Args:
      config: the settings (stage sizes, style scale, layers).
      content, styles: the images (arrays or shapes, (H, W, ...)) at any size.
      names: how messages name the content, then each style image (default "content
        image", "style image 1", ...).
    """
    minimum = config.min_image_side()
    shapes = [np.shape(content)[:2]] + [np.shape(s)[:2] for s in styles]
    names = list(names or ["content image"] + [f"style image {k + 1}" for k in range(len(styles))])
    for long_side in config.stage_sizes():
        for index, ((height, width), name) in enumerate(zip(shapes, names)):
            side = long_side if index == 0 else config.style_long_side(long_side)
            h, w = _size_for_long_side(height, width, side)
            if min(h, w) < minimum:
                raise StyleError(
                    f"{name} is {w}x{h} pixels after resizing to {side} on the long side; the loss network needs "
                    f"at least {minimum} pixels on each side, so use a larger image size or a less elongated image"
                )


@dataclasses.dataclass
class Progress:
    """What an optimisation reports after each loss-and-gradient evaluation."""

    stage: int
    num_stages: int
    size: tuple[int, int]
    evaluation: int
    total_evaluations: int
    loss: float
    content_loss: float
    style_loss: float
    tv_loss: float
    evaluations_per_second: float
    image: Callable[[], np.ndarray]  # current image (H, W, 3) float in [0, 255], on demand


class GatysLoss:
    """Builds the Gatys loss for one content image, its style targets and one image size.

    Targets (content features and blended style Gram matrices) are computed once; the
    loss of a candidate image then costs one VGG forward pass (and backward for the
    gradient) plus the small Gram products.
    """

    def __init__(self, extractor, config: GatysConfig, content, styles, blend_weights):
        import tensorflow as tf

        from keras_style import losses

        self.extractor = extractor
        self.config = config
        self.content_layers = list(config.content_layers)
        self.style_layers = list(config.style_layers)
        self.content_layer_weights = dict(
            zip(self.content_layers, config.content_layer_weights or [1.0] * len(self.content_layers))
        )
        self.style_layer_weights = dict(
            zip(self.style_layers, config.style_layer_weights or [1.0] * len(self.style_layers))
        )
        content_features = extractor(tf.constant(content[None], tf.float32))
        self.content_targets = {n: tf.constant(content_features[n]) for n in self.content_layers}
        grams = {n: 0.0 for n in self.style_layers}
        for style, weight in zip(styles, blend_weights):
            features = extractor(tf.constant(style[None], tf.float32))
            for n in self.style_layers:
                grams[n] = grams[n] + weight * losses.gram_matrix(features[n])
        self.style_targets = {n: tf.constant(g) for n, g in grams.items()}

    def __call__(self, image):
        """Returns (total, content, style, tv) for a (1, H, W, 3) float32 image tensor."""
        from keras_style import losses

        features = self.extractor(image)
        content = 0.0
        for n in self.content_layers:
            content += self.content_layer_weights[n] * losses.content_loss(features[n], self.content_targets[n])
        style = losses.gram_style_loss(
            {n: features[n] for n in self.style_layers}, self.style_targets, self.style_layer_weights
        )
        pixels = float(image.shape[1] * image.shape[2])
        tv = losses.total_variation_loss(image, self.config.tv_form) / pixels
        c = self.config
        total = c.content_weight * content + c.style_weight * style + c.tv_weight * tv
        return total, content, style, tv


class Evaluator:
    """Loss and gradient of a flat float64 image vector in one compiled call.

    `scipy.optimize.fmin_l_bfgs_b(evaluator, x0)` calls it with `x` and receives
    `(loss, gradient)` as float64, the form L-BFGS-B expects; the last loss terms are
    kept for progress reports.
    """

    def __init__(self, loss: GatysLoss, height: int, width: int):
        import tensorflow as tf

        self.shape = (1, height, width, 3)
        self.last_terms = (0.0, 0.0, 0.0, 0.0)
        self.count = 0

        @tf.function(input_signature=[tf.TensorSpec([height * width * 3], tf.float64)])
        def loss_and_gradient(x):
            image = tf.reshape(tf.cast(x, tf.float32), self.shape)
            with tf.GradientTape() as tape:
                tape.watch(image)
                terms = loss(image)
            gradient = tape.gradient(terms[0], image)
            return tf.stack(terms), tf.cast(tf.reshape(gradient, [-1]), tf.float64)

        self._fn = loss_and_gradient

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        terms, gradient = self._fn(x)
        terms = terms.numpy().astype(np.float64)
        self.last_terms = tuple(float(t) for t in terms)
        self.count += 1
        return float(terms[0]), gradient.numpy()


def _size_for_long_side(height: int, width: int, long_side: int) -> tuple[int, int]:
    scale = long_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def _initial_image(config: GatysConfig, content: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if config.init == "content":
        return content.copy()
    if config.init == "noise":
        return rng.uniform(0.0, 255.0, size=content.shape).astype(np.float32)
    # Any other value is an image file.
    return image_io.resize_image(image_io.load_image(config.init), content.shape[:2])


def loss_network(config: GatysConfig):
    """The `VGGFeatureExtractor` for `config`'s content and style layers, computing in
    `config.precision`.

    Under mixed_bfloat16 the VGG convs run on the CPU's bfloat16 units; the Gram
    matrices, the losses and the gradient handed to L-BFGS stay float32 (float64 for
    scipy).
    """
    from keras_style.vgg import VGGFeatureExtractor

    layers = list(dict.fromkeys(list(config.content_layers) + list(config.style_layers)))
    with precision_lib.policy_scope(config.precision):
        return VGGFeatureExtractor(layers, network=config.network, pooling=config.pooling, weights=config.weights)


def stylize(
    model,
    content: np.ndarray,
    styles: Sequence[np.ndarray],
    *,
    style_weights: Sequence[float] | None = None,
    config: GatysConfig | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> np.ndarray:
    """Optimises an image to match `content`'s features and the `styles`' Gram matrices.

    Args:
      model: the VGG loss network, a `VGGFeatureExtractor` for the config's layers
        (`loss_network(config)`, built when None, computing in `config.precision`;
        a given one keeps its own dtype policy).
      content: float (H, W, 3) RGB in [0, 255], any size (resized to each stage size).
      styles: one or more style images, same format (a single image is accepted too).
      style_weights: one blend weight per style (normalised to sum 1); None:
        `config.style_blend_weights`, else equal.
      config: the settings (None: `GatysConfig()`); validated here.
      on_progress: called after every evaluation with a `Progress`.

    Returns:
      The stylized image, float32 (h, w, 3) in [0, 255], long side = last stage size.

    Raises:
      StyleError: bad images, weights or settings.
    """
    import scipy.optimize
    import tensorflow as tf

    config = GatysConfig() if config is None else config
    if style_weights is not None:
        config = dataclasses.replace(config, style_blend_weights=list(style_weights))
    config.validate()
    content = checks.as_image(content, "content image")
    if isinstance(styles, np.ndarray) and styles.ndim == 3:
        styles = [styles]
    styles = [checks.as_image(s, f"style image {k + 1}") for k, s in enumerate(styles)]
    if not styles:
        raise StyleError("no style images given")
    blend = checks.normalised_weights(config.style_blend_weights, len(styles), BLEND_WEIGHTS)
    check_image_sizes(config, content, styles)

    extractor = loss_network(config) if model is None else model
    rng = np.random.default_rng(config.seed)
    tf.random.set_seed(config.seed)

    sizes = config.stage_sizes()
    image = None
    for stage, long_side in enumerate(sizes):
        h, w = _size_for_long_side(*content.shape[:2], long_side)
        # Lanczos overshoots [0, 255]; clip so a content start lies inside the L-BFGS-B box.
        stage_content = np.clip(image_io.resize_image(content, (h, w)), 0.0, 255.0)
        stage_styles = [image_io.resize_long_side(s, config.style_long_side(long_side)) for s in styles]
        if image is None:
            image = _initial_image(config, stage_content, rng)
        else:
            image = image_io.resize_image(image, (h, w))  # coarse result starts the next stage
        evaluator = Evaluator(GatysLoss(extractor, config, stage_content, stage_styles, blend), h, w)
        start = time.perf_counter()

        def report(x, stage=stage, h=h, w=w, evaluator=evaluator, start=start):
            if on_progress is None:
                return
            total, c, s, t = evaluator.last_terms
            elapsed = max(time.perf_counter() - start, 1e-9)
            on_progress(
                Progress(
                    stage=stage,
                    num_stages=len(sizes),
                    size=(h, w),
                    evaluation=evaluator.count,
                    total_evaluations=config.iterations,
                    loss=total,
                    content_loss=c,
                    style_loss=s,
                    tv_loss=t,
                    evaluations_per_second=evaluator.count / elapsed,
                    image=lambda x=x: np.asarray(x, np.float32).reshape(h, w, 3),
                )
            )

        def counted(x, evaluator=evaluator, report=report):
            result = evaluator(x)
            report(x)
            return result

        x, _, _ = scipy.optimize.fmin_l_bfgs_b(
            counted,
            image.astype(np.float64).ravel(),
            bounds=[(0.0, 255.0)] * (h * w * 3),
            m=10,
            maxfun=config.iterations,
            maxiter=config.iterations,
            factr=10.0,  # run the full evaluation budget; the default stops early on plateaus
            pgtol=0.0,
        )
        image = x.astype(np.float32).reshape(h, w, 3)

    if config.preserve_color:
        image = color.preserve_color(image_io.resize_image(content, image.shape[:2]), image, config.preserve_color)
    return image
