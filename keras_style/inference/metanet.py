"""Running an exported MetaNet: a SavedModel (TensorFlow) or a TFLite pair (LiteRT only).

    from keras_style.inference import load_stylizer
    stylizer = load_stylizer("saved_models/metanet")            # kind "metanet"
    style = stylizer.prepare_style([starry, wave], [0.7, 0.3])  # weights generated once
    out = stylizer.stylize(photo, style=style)                  # cheap: transform net only
    soft = stylizer.stylize(photo, style=style, alpha=0.5)      # style strength

`prepare_style` is the expensive half: each style image is resized so its short side
is the model's training style size (`style_size` in its metadata, 256 by default),
its VGG19 statistics are taken, the styles' statistics are mixed (a convex
combination, as `keras_style.metanet.generate_weights` does) and the MetaNet
generates the transform net's filters for the mix, once. `stylize` then only runs the
transform net with those filters, for every image and every tile.

Style strength alpha is taken in statistics space, as `keras_style.metanet.stylize`
does: the filters for a content image c are the MetaNet's answer to
`alpha · s_style + (1 - alpha) · s(c)`. They depend on the content, so
`style_for_content(style, content, alpha)` generates them once per content image; pass
its result to `stylize` for every tile of that image (`stylize(tile, style, alpha)`
would take each tile's own statistics and give each tile other filters). With
`tile=` it takes the content's statistics tile by tile and pools them (exact moments
per tile, pooled by area), so large images stay within memory.

A TFLite pair (`keras_style.export.metanet.convert_metanet_to_tflite`, or
`style_export --saved_model=METANET`) is two files, `PREFIX_style_to_weights_<q>.tflite`
(signatures style_to_weights, image_statistics, statistics_to_weights) and
`PREFIX_stylize_with_weights_<q>.tflite`, <q> fp32, fp16 or dynamic; naming either
loads both. They run on the LiteRT interpreter: this module imports neither
TensorFlow nor Keras.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from keras_style import image_io
from keras_style.checks import check_alpha, check_finite, check_size, normalised_weights, one_line
from keras_style.errors import StyleError
from keras_style.inference.model_spec import read_metadata
from keras_style.inference.saved_model import load_saved_model
from keras_style.inference.stylizer import Stylizer
from keras_style.inference.style_palette import StylePalette
from keras_style.inference.tflite import (
    QUANTIZE_SUFFIXES,
    open_interpreter,
    pair_file_role,
    pair_paths,
    pair_spec_path,
    preferred_pair,
)
from keras_style.inference.tiling import tile_starts
from keras_style.native_logs import native_logs_filtered

KIND = "metanet"
# Signatures and tensor names of a MetaNet SavedModel (keras_style.export.metanet).
STYLE_TO_WEIGHTS = "style_to_weights"
STYLIZE_WITH_WEIGHTS = "stylize_with_weights"
IMAGE_STATISTICS = "image_statistics"
STATISTICS_TO_WEIGHTS = "statistics_to_weights"
STYLE_INPUT = "style"
CONTENT_INPUT = "content"
IMAGE_INPUT = "image"
STATISTICS_OUTPUT = "statistics"
WEIGHTS_OUTPUT = "weights"
STYLIZED_OUTPUT = "stylized"

# The TFLite pair (as AdaIN's): PREFIX_<role>_<q>.tflite, <q> per QUANTIZE_SUFFIXES.
DEFAULT_PREFIX = "metanet"
PAIR_ROLES = (STYLE_TO_WEIGHTS, STYLIZE_WITH_WEIGHTS)

# MetaNetConfig.style_size's default: the short side of the training style crops.
DEFAULT_STYLE_SIZE = 256
# Bounds on the style size (a model's metadata, `style_metanet_extract --style_size`):
# below 16 px relu4_1 has no positions left; above 1024 (4x the training size) the
# statistics no longer describe the scale the MetaNet learnt, and memory grows fast.
MIN_STYLE_SIZE = 16
MAX_STYLE_SIZE = 1024
# A style is resized so its short side is the style size, so its long side grows with its
# aspect ratio (a 10000x20 strip became 128000x256 and VGG ran out of memory). The resized
# style may have at most this many pixels (a 2048x2048 image's; a 256 style size allows
# 64:1), checked before it is resized.
MAX_STYLE_PIXELS = 2048 * 2048
# keras_style.models.metanet.STATISTICS_CHANNELS / STATISTICS_DIM (not imported: that
# module imports Keras, and this one must run with LiteRT alone).
STATISTICS_CHANNELS = (64, 128, 256, 512)
STATISTICS_DIM = 2 * sum(STATISTICS_CHANNELS)
STATISTICS_EPSILON = 1e-5  # keras_style.losses.mean_std's


def tflite_pair_paths(output: str | os.PathLike, quantize: str = "float16") -> dict[str, str]:
    """{role: path} of the two files `convert_metanet_to_tflite` writes for `output`.

    `output` is a directory (one that exists, or a path ending in a separator):
    `DIR/metanet_style_to_weights_<q>.tflite` and `DIR/metanet_stylize_with_weights_<q>.tflite`;
    or a file name prefix `P` (a trailing `.tflite` is dropped):
    `P_style_to_weights_<q>.tflite` and `P_stylize_with_weights_<q>.tflite`; <q> is fp32,
    fp16 or dynamic.
    """
    return pair_paths(output, quantize, QUANTIZE_SUFFIXES, PAIR_ROLES, DEFAULT_PREFIX, "a MetaNet pair")


def pair_role(path: str | os.PathLike) -> tuple[str, str] | None:
    """(role, partner path) of a file named like one of a MetaNet pair, else None.

    The role is "style_to_weights" or "stylize_with_weights", whichever occurs last in
    the file name (as `_<role>`); the partner has the other one there.
    """
    return pair_file_role(path, PAIR_ROLES)


def is_pair_file(path: str | os.PathLike) -> bool:
    """Whether `path` is one file of a MetaNet pair whose partner exists."""
    found = pair_role(path)
    return found is not None and os.path.isfile(path) and os.path.isfile(found[1])


def preferred_pair_file(directory: str | os.PathLike) -> str | None:
    """The style_to_weights file of the float16 pair in `directory` (else of any pair), or None."""
    return preferred_pair(directory, STYLE_TO_WEIGHTS, is_pair_file, QUANTIZE_SUFFIXES["float16"])


def convex_weights(style_weights, count: int) -> np.ndarray:
    """Style weights normalised to sum 1 (equal when None), as a float64 array:
    `checks.normalised_weights`, the one rule for style weights."""
    return np.asarray(normalised_weights(style_weights, count), dtype="float64")


def model_style_size(metadata: dict, style_size: int | None = None) -> int:
    """The short side a model's style images are resized to: `style_size` if given, else its
    metadata's (the training style size), else `DEFAULT_STYLE_SIZE`.

    Raises:
      StyleError: outside [MIN_STYLE_SIZE, MAX_STYLE_SIZE].
    """
    size = style_size or metadata.get("style_size") or DEFAULT_STYLE_SIZE
    return check_size(size, "the style size", MIN_STYLE_SIZE, MAX_STYLE_SIZE)


def resized_style_shape(shape, style_size: int = DEFAULT_STYLE_SIZE, what: str = "a style image") -> tuple[int, int]:
    """The (height, width) a style image of `shape` (H, W, ...) is resized to: short side
    `style_size` (the training scale), at most `MAX_STYLE_PIXELS` pixels. Cheap: a
    command checks its style images with it before the model loads.

    Raises:
      StyleError: the resized style would have more pixels than that (`what` names it).
    """
    height, width = int(shape[0]), int(shape[1])
    scale = style_size / min(height, width)
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    if size[0] * size[1] > MAX_STYLE_PIXELS:
        ratio = MAX_STYLE_PIXELS // (style_size * style_size)
        raise StyleError(
            f"{what} is {width}x{height} (width x height); resized to a short side of {style_size} px "
            f"(the model's style size) it would be {size[1]}x{size[0]}, over the limit of {MAX_STYLE_PIXELS} "
            f"pixels: crop it to at most {ratio}:1 (long side to short side)"
        )
    return size


def mix_statistics(vectors: Sequence[np.ndarray], weights) -> np.ndarray:
    """Σ w_i · s_i of (1, 1920) statistics (float64 sums), as float32 (1, 1920)."""
    mix = convex_weights(weights, len(vectors))
    vectors = [np.asarray(v, dtype="float64").reshape(STATISTICS_DIM) for v in vectors]
    return np.sum([w * v for w, v in zip(mix, vectors)], axis=0)[None].astype("float32")


def pool_statistics(vectors: Sequence[np.ndarray], areas: Sequence[float]) -> np.ndarray:
    """The statistics of a whole image from those of its tiles.

    Per channel: the mean is the area-weighted mean of the tiles' means, and the
    variance comes from the pooled second moments (var_t + mean_t², weighted) minus the
    pooled mean squared; std = sqrt(var + epsilon), as `losses.mean_std`. Exact for
    tiles that partition the image, up to VGG's border effects at tile edges.
    """
    areas = np.asarray(areas, dtype="float64")
    areas = areas / areas.sum()
    vectors = [np.asarray(v, dtype="float64").reshape(STATISTICS_DIM) for v in vectors]
    out, offset = [], 0
    for channels in STATISTICS_CHANNELS:
        means = np.stack([v[offset: offset + channels] for v in vectors])
        stds = np.stack([v[offset + channels: offset + 2 * channels] for v in vectors])
        second = np.maximum(stds**2 - STATISTICS_EPSILON, 0.0) + means**2
        mean = areas @ means
        variance = np.maximum(areas @ second - mean**2, 0.0)
        out += [mean, np.sqrt(variance + STATISTICS_EPSILON)]
        offset += 2 * channels
    return np.concatenate(out)[None].astype("float32")


@dataclasses.dataclass(frozen=True)
class MetaNetStyle:
    """A prepared MetaNet style: what `stylize` needs, computed once.

    Attributes:
      statistics: float32 (1, 1920), the (mixed) style statistics.
      weights: float32 (1, P), the transform-net filters generated for them.
      mix: the normalised style weights, one per style image.
      alpha: the style strength applied by `style_for_content` (1: none).
      for_content: whether the weights are bound to one content image (alpha < 1).
      palette: the style images' colours (`keras_style.inference.style_palette.StylePalette`), for the
        palette step after stylizing; None if not computed.
    """

    statistics: np.ndarray
    weights: np.ndarray
    mix: tuple
    alpha: float = 1.0
    for_content: bool = False
    palette: StylePalette | None = None


class MetaNetStylizer(Stylizer):
    """Common part of the SavedModel and TFLite MetaNet stylizers (see the module doc).

    Attributes:
      style_size: the short side style images are resized to before their statistics
        are taken (the model's training style size).
      calls: {"image_statistics": n, "statistics_to_weights": n, "stylize_with_weights":
        n}, how often each half ran (the weights are generated once per prepared style).
    """

    takes_style = True
    supports_alpha = True
    # supports_masks stays False: one style (or one mix) per image, no spatial control.

    def __init__(self, name: str, metadata: dict | None = None, style_size: int | None = None):
        super().__init__(name, metadata)
        self.style_size = model_style_size(self.metadata, style_size)
        self.calls = {IMAGE_STATISTICS: 0, STATISTICS_TO_WEIGHTS: 0, STYLIZE_WITH_WEIGHTS: 0}

    @property
    def kind(self) -> str:
        return KIND

    # The halves, implemented per backend: float32 numpy in, float32 numpy out.

    def _image_statistics(self, image: np.ndarray) -> np.ndarray:
        """(1, H, W, 3) -> (1, 1920)."""
        raise NotImplementedError

    def _statistics_to_weights(self, statistics: np.ndarray) -> np.ndarray:
        """(1, 1920) -> (1, P)."""
        raise NotImplementedError

    def _stylize_with_weights(self, images: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """(1, H, W, 3), (1, P) -> (1, H, W, 3)."""
        raise NotImplementedError

    # Public API.

    def image_statistics(self, image: np.ndarray, what: str = "an image", style: bool = False) -> np.ndarray:
        """The (1, 1920) VGG statistics of one (H, W, 3) image, used as given (`style`:
        it is a style image, for the out-of-memory hint).

        Raises:
          StyleError: out of memory, or non-finite statistics (`what` names the image).
        """
        image = _batch(image)
        self.calls[IMAGE_STATISTICS] += 1
        try:
            statistics = self._image_statistics(image)
        except OutOfMemory:
            raise StyleError(
                f"out of memory taking the VGG statistics of {what} ({image.shape[2]}x{image.shape[1]})"
                f"{self._memory_hint(style)}"
            ) from None
        return check_finite(np.asarray(statistics, np.float32), f"the VGG statistics of {what}")

    def statistics_to_weights(self, statistics: np.ndarray) -> np.ndarray:
        """The (1, P) filters the MetaNet generates for (1, 1920) statistics.

        Raises:
          StyleError: non-finite statistics or generated filters.
        """
        statistics = check_finite(np.asarray(statistics, np.float32).reshape(1, STATISTICS_DIM), "the mixed statistics")
        self.calls[STATISTICS_TO_WEIGHTS] += 1
        try:
            weights = self._statistics_to_weights(statistics)
        except OutOfMemory:
            raise StyleError(f"out of memory generating the transform net's filters in MetaNet '{self.name}'") from None
        return check_finite(np.asarray(weights, np.float32), f"the filters MetaNet '{self.name}' generated")

    def style_to_weights(self, style: np.ndarray) -> np.ndarray:
        """The (1, P) filters for one style image, used as given (not resized)."""
        return self.statistics_to_weights(self.image_statistics(style, "the style image", style=True))

    def stylize_with_weights(self, content: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Runs the transform net on one (H, W, 3) image with (1, P) filters."""
        content = _batch(content)
        self.calls[STYLIZE_WITH_WEIGHTS] += 1
        try:
            out = np.asarray(self._stylize_with_weights(content, np.asarray(weights, np.float32).reshape(1, -1)))
        except OutOfMemory:
            raise StyleError(
                f"out of memory stylizing a {content.shape[2]}x{content.shape[1]} image{self._memory_hint(False)}"
            ) from None
        return out[0].astype(np.float32)

    def _memory_hint(self, style: bool) -> str:
        """The flags that bound the memory of the image that ran out: a content image's
        size (--tile, --max_size, --compute_size); a style's is set by the style size."""
        if style:
            return (f"; styles are resized to a short side of {self.style_size} px (the model's style size), so "
                    "use a less elongated --style image or a smaller style size (style_metanet_extract --style_size)")
        return "; use --tile, --max_size or --compute_size"

    @classmethod
    def check_style_shape(cls, shape, metadata: dict | None = None, what: str = "a style image") -> None:
        """The resized style's bound (`resized_style_shape`) at the style size in `metadata`."""
        resized_style_shape(shape, model_style_size(metadata or {}), what)

    def resized_style_shape(self, shape, what: str = "a style image") -> tuple[int, int]:
        """`resized_style_shape(shape, self.style_size, what)`."""
        return resized_style_shape(shape, self.style_size, what)

    def resize_style(self, style: np.ndarray, what: str = "a style image") -> np.ndarray:
        """`style` resized so its short side is `style_size` (the training scale); see
        `resized_style_shape` for the bound on its size."""
        style = np.asarray(style, np.float32)
        if style.ndim != 3 or style.shape[-1] != 3 or min(style.shape[:2]) < 1:
            raise StyleError(f"a style image is (H, W, 3) RGB; got shape {style.shape}")
        size = self.resized_style_shape(style.shape, what)
        if size == style.shape[:2]:
            return style
        return np.clip(image_io.resize_image(style, size), 0.0, 255.0)

    def prepare_style(self, styles, weights=None) -> MetaNetStyle:
        """Generates the transform-net filters for a style or a mix of styles, once.

        Args:
          styles: one (H, W, 3) RGB float image in [0, 255] or a list of them; each is
            resized so its short side is `style_size`.
          weights: one non-negative weight per style (normalised to sum 1); None: equal.

        Returns:
          A `MetaNetStyle` to pass as `style=` to `stylize` (every image, every tile).

        Raises:
          StyleError: no styles, a weight count that does not match, bad weights.
        """
        if isinstance(styles, np.ndarray) and styles.ndim == 3:
            styles = [styles]
        styles = list(styles or [])
        mix = convex_weights(weights, len(styles))
        names = [f"style image {k + 1}" if len(styles) > 1 else "the style image" for k in range(len(styles))]
        for style, name in zip(styles, names):  # every size checked before any is resized
            if np.ndim(style) == 3:
                self.resized_style_shape(np.shape(style), name)
        resized = [self.resize_style(style, name) for style, name in zip(styles, names)]
        statistics = mix_statistics([self.image_statistics(s, name, style=True) for s, name in zip(resized, names)], mix)
        return MetaNetStyle(
            statistics, self.statistics_to_weights(statistics), tuple(float(w) for w in mix),
            palette=StylePalette.of(resized, mix),
        )

    def content_statistics(self, content: np.ndarray, tile: int | None = None) -> np.ndarray:
        """(1, 1920) statistics of a content image; with `tile`, taken on tiles of at most
        that side and pooled (`pool_statistics`), so memory stays bounded."""
        content = np.asarray(content, np.float32)
        if not tile or max(content.shape[:2]) <= tile:
            return self.image_statistics(content, "the content image")
        height, width = content.shape[:2]
        vectors, areas = [], []
        # Abutting tiles (the last ones shifted back to fit, so some overlap slightly).
        for y in tile_starts(height, tile, 0):
            for x in tile_starts(width, tile, 0):
                piece = content[y: y + tile, x: x + tile]
                vectors.append(self.image_statistics(piece, "a content tile"))
                areas.append(piece.shape[0] * piece.shape[1])
        return pool_statistics(vectors, areas)

    def style_for_content(
        self, style: MetaNetStyle, content: np.ndarray, alpha: float, tile: int | None = None
    ) -> MetaNetStyle:
        """`style` at strength `alpha` for one content image: filters generated once.

        The filters are the MetaNet's answer to `alpha · s_style + (1 - alpha) ·
        s(content)`. Pass the result to `stylize` for the whole image or each of its
        tiles. alpha = 1 returns `style` itself.

        Args:
          tile: take the content's statistics on tiles of at most this side (the
            `--tile` size), pooled; None: on the whole image.
        """
        alpha = check_alpha(alpha)
        style = self._check_style(style)
        if style.for_content:
            raise StyleError("this style was already prepared for one content image; pass the prepare_style result")
        if alpha == 1.0:
            return style
        own = self.content_statistics(content, tile)
        statistics = mix_statistics([style.statistics, own], [alpha, 1.0 - alpha])
        return dataclasses.replace(
            style, weights=self.statistics_to_weights(statistics), alpha=alpha, for_content=True
        )

    def _bind_style(self, image: np.ndarray, style: Any, alpha: float | None) -> MetaNetStyle:
        """`style` for `image` at strength `alpha` (None: the strength `style` was prepared
        with, else the model's `default_alpha`). Below 1 the filters are generated for this
        image's own statistics mixed in (see `style_for_content`; not per tile)."""
        style = self._check_style(style)
        if alpha is None:
            alpha = style.alpha if style.for_content else self.default_alpha
        if alpha == 1.0:
            return style
        if style.for_content:
            if alpha != style.alpha:
                raise StyleError(f"this style was prepared with alpha {style.alpha:g}; do not pass another alpha")
            return style
        return self.style_for_content(style, image, alpha)

    def _stylize_batch(self, images: np.ndarray, style: Any) -> np.ndarray:
        out = self.stylize_with_weights(images[0], style.weights)
        return out[None]

    def _check_style(self, style) -> MetaNetStyle:
        if style is None:
            raise self._needs_style_error()
        if not isinstance(style, MetaNetStyle):
            raise StyleError(
                f"MetaNet model '{self.name}' needs a style from its prepare_style(), got {type(style).__name__}"
            )
        return style

    def _needs_style_error(self) -> StyleError:
        return StyleError(
            f"model '{self.name}' is a MetaNet (arbitrary style): it needs style images (--style=FILE[,FILE...])"
        )


class MetaNetSavedModelStylizer(MetaNetStylizer):
    """A `MetaNetStylizer` over a MetaNet SavedModel's signatures (imports TensorFlow).

    Args:
      path: the SavedModel directory (from `export_metanet_model`).
      metadata: its `keras_style.json` contents; read from `path` when None.
      name: how to name the model in messages (default `path`).
      style_size: overrides the metadata's style size.
    """

    backend = "saved_model"

    def __init__(self, path, metadata: dict | None = None, name: str | None = None, style_size: int | None = None):
        path = os.fspath(path)
        super().__init__(name or path, read_metadata(path) if metadata is None else metadata, style_size)
        self.path = path
        tf, self.loaded = load_saved_model(path, self.name, "the model's .tflite pair")
        signatures = self.loaded.signatures
        needed = (IMAGE_STATISTICS, STATISTICS_TO_WEIGHTS, STYLIZE_WITH_WEIGHTS)
        missing = [key for key in needed if key not in signatures]
        if missing:
            raise StyleError(
                f"SavedModel '{self.name}' lacks the MetaNet signature(s) {', '.join(missing)} (it has: "
                f"{', '.join(sorted(signatures)) or 'none'}); export it with keras_style.export.metanet"
            )
        self._signatures = {key: signatures[key] for key in needed}
        self._tf = tf

    def _image_statistics(self, image):
        return self._run(IMAGE_STATISTICS, {IMAGE_INPUT: image})[STATISTICS_OUTPUT]

    def _statistics_to_weights(self, statistics):
        return self._run(STATISTICS_TO_WEIGHTS, {STATISTICS_OUTPUT: statistics})[WEIGHTS_OUTPUT]

    def _stylize_with_weights(self, images, weights):
        inputs = {CONTENT_INPUT: images, WEIGHTS_OUTPUT: weights}
        return self._run(STYLIZE_WITH_WEIGHTS, inputs)[STYLIZED_OUTPUT]

    def _run(self, key, inputs):
        tf = self._tf
        try:
            outputs = self._signatures[key](**{k: tf.constant(v) for k, v in inputs.items()})
        except tf.errors.ResourceExhaustedError:
            raise OutOfMemory(key) from None  # the public method says for which image, and which flags help
        return {k: v.numpy() for k, v in outputs.items()}


class MetaNetTFLiteStylizer(MetaNetStylizer):
    """A `MetaNetStylizer` over a TFLite pair, on the LiteRT interpreter (no TensorFlow).

    Args:
      path: either file of the pair (see `tflite_pair_paths`).
      metadata: the model's `keras_style.json` contents, if any.
      name: how to name the model in messages (default `path`).
      style_size: overrides the metadata's style size (default 256).
      num_threads: interpreter threads; default `os.cpu_count()`.
    """

    backend = "tflite"

    def __init__(
        self,
        path,
        metadata: dict | None = None,
        name: str | None = None,
        style_size: int | None = None,
        num_threads: int | None = None,
    ):
        path = os.fspath(path)
        super().__init__(name or path, dict(metadata or {}, kind=KIND), style_size)
        found = pair_role(path)
        if found is None:
            raise StyleError(
                f"'{path}' is not a file of a MetaNet TFLite pair (PREFIX_{STYLE_TO_WEIGHTS}_Q.tflite and "
                f"PREFIX_{STYLIZE_WITH_WEIGHTS}_Q.tflite)"
            )
        role, partner = found
        self.style_path, self.transform_path = (path, partner) if role == STYLE_TO_WEIGHTS else (partner, path)
        for half in (self.style_path, self.transform_path):
            if not os.path.isfile(half):
                raise StyleError(
                    f"MetaNet TFLite model '{self.name}' needs both files of its pair; '{half}' is missing"
                )
        self._runners = {}
        for half, keys in (
            (self.style_path, (IMAGE_STATISTICS, STATISTICS_TO_WEIGHTS)),
            (self.transform_path, (STYLIZE_WITH_WEIGHTS,)),
        ):
            interpreter = open_interpreter(half, self.name, num_threads, shown_as=half)
            signatures = interpreter.get_signature_list()
            for key in keys:
                if key not in signatures:
                    raise StyleError(
                        f"TFLite model '{half}' has no '{key}' signature (it has: {', '.join(sorted(signatures))}); "
                        "convert the MetaNet with keras_style.export.metanet.convert_metanet_to_tflite"
                    )
                self._runners[key] = interpreter.get_signature_runner(key)
        self._first_run = True

    @classmethod
    def from_spec(cls, spec) -> "MetaNetTFLiteStylizer":
        """Loads the pair a resolved `ModelSpec` names (either file may be named); for a
        shipped model directory or name, the float16 pair is preferred."""
        return cls(pair_spec_path(spec, preferred_pair_file), metadata=spec.metadata, name=spec.source)

    def _image_statistics(self, image):
        return self._run(IMAGE_STATISTICS, {IMAGE_INPUT: image})[STATISTICS_OUTPUT]

    def _statistics_to_weights(self, statistics):
        return self._run(STATISTICS_TO_WEIGHTS, {STATISTICS_OUTPUT: statistics})[WEIGHTS_OUTPUT]

    def _stylize_with_weights(self, images, weights):
        return self._run(STYLIZE_WITH_WEIGHTS, {CONTENT_INPUT: images, WEIGHTS_OUTPUT: weights})[STYLIZED_OUTPUT]

    def _run(self, key, inputs):
        # The first run creates the XNNPACK delegate, which logs a line.
        with native_logs_filtered() if self._first_run else contextlib.nullcontext():
            try:
                outputs = self._runners[key](**{k: np.ascontiguousarray(v, np.float32) for k, v in inputs.items()})
            except (ValueError, RuntimeError) as e:
                raise StyleError(f"TFLite MetaNet '{self.name}' failed in {key}: {one_line(e)}") from None
        self._first_run = False
        return {k: np.array(v, np.float32) for k, v in outputs.items()}


class OutOfMemory(Exception):
    """A backend ran out of memory in one signature; the public method that called it
    turns this into a StyleError that names the image and the flags that bound it."""


def _batch(image) -> np.ndarray:
    image = np.asarray(image, np.float32)
    if image.ndim == 3:
        image = image[None]
    if image.ndim != 4 or image.shape[0] != 1 or image.shape[-1] != 3 or min(image.shape[1:3]) < 1:
        raise StyleError(f"expected one (H, W, 3) RGB image, got shape {image.shape}")
    return np.ascontiguousarray(image)
