"""Running an exported AdaIN arbitrary-style model (SavedModel or `.tflite` pair).

    from keras_style.inference import load_stylizer
    stylizer = load_stylizer("saved_models/adain/saved_model")   # or a .tflite of the pair
    style = stylizer.prepare_style([starry, wave], weights=[0.7, 0.3])  # style_encode, once per style
    out = stylizer.stylize(photo, style=style, alpha=0.8)
    big = stylize_tiled(lambda tile: stylizer.stylize(tile, style=style), photo, tile=512)
    masked = stylizer.stylize(photo, style=style, masks=[sky_mask, ground_mask])  # SavedModel only

`prepare_style` runs the `style_encode` signature once per style image and mixes
the statistics with the weights (a convex combination of the 1024-vectors, equal
to mixing the AdaIN outputs, see `keras_style.adain.mix_statistics`); `stylize`
then runs only the `stylize` signature (content encoder + AdaIN + decoder), so a
tiled or multi-image run encodes each style once.

Masks (spatial control) run the SavedModel's `stylize_masked` signature: the
paper's feature-space blending, as `keras_style.adain.stylize(..., masks=...)`
does in Python. The `.tflite` pair has no masked signature; masks need the
SavedModel.

The `.tflite` pair (`keras_style.export.adain.convert_adain_to_tflite`) is two files:
`<prefix>_style_encode_<q>.tflite` (signature `style_encode`: "style" float32
[1, H, W, 3] -> "style_statistics" [1, 1024]) and `<prefix>_stylize_<q>.tflite`
(signature `stylize`: "content", "style_statistics", "alpha" [1] -> "stylized"),
<q> being fp32, fp16 or dynamic. Naming either file loads both; they run on the
LiteRT interpreter alone.

This module imports no TensorFlow until a SavedModel is loaded.
"""

from __future__ import annotations

import abc
import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from keras_style import image_io
from keras_style.checks import as_image, check_finite, check_masks, normalised_weights, one_line
from keras_style.errors import StyleError
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
from keras_style.native_logs import native_logs_filtered

STYLE_ENCODE = "style_encode"
STYLIZE = "stylize"
STYLIZE_MASKED = "stylize_masked"
STATISTICS = "style_statistics"
# Style images larger than this on their long side are scaled down to it (the paper's
# test-time default): only their statistics are used, and those of a 4000-pixel scan
# mostly measure its resolution, not its style.
STYLE_MAX_SIZE = 512
# A style scaled down must keep at least this short side: a 10000x20 strip would be 512x1,
# which relu4_1 sees as one row of padding.
MIN_FITTED_STYLE_SIDE = 16
# What bounds the memory that ran out: a content image's size is bounded by --tile and
# --max_size; a style image's by its own size (style_transfer scales it to STYLE_MAX_SIZE).
CONTENT_MEMORY_HINT = "; use --tile or --max_size"
STYLE_MEMORY_HINT = f"; use a smaller style image (style_transfer scales --style images to {STYLE_MAX_SIZE} px)"
DEFAULT_PREFIX = "adain"
PAIR_ROLES = (STYLE_ENCODE, STYLIZE)


@dataclass(frozen=True)
class AdaINStyle:
    """What `prepare_style` returns: the styles' statistics, computed once.

    Attributes:
      statistics: float32 (1, 2C), the weighted mix of the styles' statistics
        (channel means, then standard deviations).
      per_style: float32 (K, 2C), each style's own statistics (for masks).
      weights: the K weights, normalised to sum to 1.
      palette: the style images' colours (`keras_style.inference.style_palette.StylePalette`), for the
        palette step after stylizing; None if not computed.
    """

    statistics: np.ndarray
    per_style: np.ndarray
    weights: tuple
    palette: StylePalette | None = None

    @property
    def num_styles(self) -> int:
        return int(self.per_style.shape[0])


class AdaINStylizer(Stylizer):
    """The AdaIN runtime, whatever runs the signatures (SavedModel or TFLite).

    Subclasses implement `encode_style` and `stylize_statistics` (and
    `_stylize_masked` where masks are supported).
    """

    takes_style = True
    supports_alpha = True

    @classmethod
    def check_style_shape(cls, shape, metadata: dict | None = None, what: str = "a style image") -> None:
        """A style that `fit_style` would scale to a sliver is refused (`fitted_style_shape`)."""
        del metadata
        fitted_style_shape(shape, what)

    @abc.abstractmethod
    def encode_style(self, style: np.ndarray) -> np.ndarray:
        """One float32 (Hs, Ws, 3) style image in [0, 255] -> float32 (1, 2C) statistics."""

    @abc.abstractmethod
    def stylize_statistics(self, content: np.ndarray, statistics: np.ndarray, alpha: float = 1.0) -> np.ndarray:
        """(H, W, 3) content with given (1, 2C) statistics -> float32 (H, W, 3), not clipped."""

    def prepare_style(self, styles: Sequence[np.ndarray], weights: Sequence[float] | None = None) -> AdaINStyle:
        """Encodes each style image once and mixes the statistics.

        Args:
          styles: float (Hs, Ws, 3) RGB images in [0, 255], any sizes (one array is
            accepted too).
          weights: one weight >= 0 per style, normalised to sum to 1; None: equal.

        Raises:
          StyleError: no styles, bad images or weights.
        """
        if isinstance(styles, np.ndarray) and styles.ndim == 3:
            styles = [styles]
        styles = [as_image(s, f"style image {k + 1}") for k, s in enumerate(styles)]
        if not styles:
            raise StyleError("no style images given")
        weights = normalised_weights(weights, len(styles))
        per_style = np.concatenate([
            check_finite(np.asarray(self.encode_style(s), np.float32).reshape(1, -1),
                         f"the VGG statistics of style image {k + 1}")
            for k, s in enumerate(styles)
        ])
        mixed = (np.asarray(weights, np.float64)[:, None] * per_style.astype(np.float64)).sum(axis=0, keepdims=True)
        return AdaINStyle(mixed.astype(np.float32), per_style, tuple(weights), StylePalette.of(styles, weights))

    def _bind_style(self, image: np.ndarray, style: Any, alpha: float | None) -> tuple[AdaINStyle, float]:
        del image
        if style is None:
            raise StyleError(
                f"model '{self.name}' is an AdaIN (arbitrary-style) model; give style images "
                "(prepare_style, then stylize(image, style=...))"
            )
        if not isinstance(style, AdaINStyle):
            raise StyleError(f"style must come from this model's prepare_style, got {type(style).__name__}")
        return style, self.default_alpha if alpha is None else alpha

    def _stylize_batch(self, images: np.ndarray, style: Any) -> np.ndarray:
        prepared, alpha = style
        return self.stylize_statistics(images[0], prepared.statistics, alpha)[None]


class AdaINSavedModelStylizer(AdaINStylizer):
    """An AdaIN SavedModel (from `keras_style.export.adain.export_adain_model`), run
    through its `style_encode`, `stylize` and `stylize_masked` signatures.

    Raises:
      StyleError: TensorFlow missing, an unloadable SavedModel, or missing signatures.
    """

    backend = "saved_model"
    supports_masks = True

    def __init__(self, path: str | os.PathLike, metadata: dict | None = None, name: str | None = None):
        super().__init__(name or os.fspath(path), metadata)
        self.path = os.fspath(path)
        tf, loaded = load_saved_model(self.path, self.name, "the model's .tflite pair")
        missing = [key for key in (STYLE_ENCODE, STYLIZE, STYLIZE_MASKED) if key not in loaded.signatures]
        if missing:
            raise StyleError(
                f"SavedModel '{self.name}' lacks the AdaIN signature(s) {', '.join(missing)} (it has: "
                f"{', '.join(sorted(loaded.signatures)) or 'none'}); export it with keras_style.export.adain"
            )
        self._loaded = loaded  # the signatures read its variables: keep it alive
        self._encode = loaded.signatures[STYLE_ENCODE]
        self._stylize = loaded.signatures[STYLIZE]
        self._masked = loaded.signatures[STYLIZE_MASKED]
        self._tf = tf

    def encode_style(self, style: np.ndarray) -> np.ndarray:
        style = as_image(style, "style image")
        return self._run(self._encode, style.shape, STATISTICS, hint=STYLE_MEMORY_HINT, style=style[None])

    def stylize_statistics(self, content, statistics, alpha=1.0):
        content = as_image(content, "content image")
        out = self._run(
            self._stylize, content.shape, "stylized", content=content[None],
            style_statistics=statistics_row(statistics), alpha=np.array([alpha], np.float32),
        )
        return out[0]

    def _stylize_masked(self, images, style, masks):
        prepared, alpha = style
        masks = np.stack(check_masks(masks, prepared.num_styles, images.shape[1:3]), axis=-1)
        return self._run(
            self._masked, images.shape[1:], "stylized", content=images, style_statistics=prepared.per_style,
            masks=masks[None], style_weights=np.asarray(prepared.weights, np.float32),
            alpha=np.array([alpha], np.float32),
        )

    def _run(self, signature, shape, output: str, hint: str = CONTENT_MEMORY_HINT, **inputs) -> np.ndarray:
        tf = self._tf
        try:
            result = signature(**{k: tf.constant(np.ascontiguousarray(v, np.float32)) for k, v in inputs.items()})
        except tf.errors.ResourceExhaustedError:
            raise StyleError(
                f"out of memory on a {shape[1]}x{shape[0]} image{hint}"
            ) from None
        return result[output].numpy()


def statistics_row(statistics) -> np.ndarray:
    """Style statistics as one float32 (1, 2C) row; StyleError for any other shape."""
    statistics = np.asarray(statistics, np.float32)
    if statistics.ndim == 1:
        statistics = statistics[None]
    if statistics.ndim != 2 or statistics.shape[0] != 1:
        raise StyleError(f"style statistics must be one (2C,) vector, got shape {statistics.shape}")
    return statistics


def tflite_pair_paths(output: str | os.PathLike, quantize: str = "float16") -> dict[str, str]:
    """The two file names `convert_adain_to_tflite` writes for `output`.

    `output` is a directory (one that exists, or any path ending in a separator):
    `DIR/adain_style_encode_<q>.tflite` and `DIR/adain_stylize_<q>.tflite`; or a
    file name prefix `P` (a trailing `.tflite` is dropped): `P_style_encode_<q>.tflite`
    and `P_stylize_<q>.tflite`.
    """
    return pair_paths(output, quantize, QUANTIZE_SUFFIXES, PAIR_ROLES, DEFAULT_PREFIX, "an AdaIN pair")


def pair_role(path: str | os.PathLike) -> tuple[str, str] | None:
    """(role, partner path) of a file named like one of an AdaIN pair, else None.

    The role is "style_encode" or "stylize", whichever of `_style_encode` /
    `_stylize` occurs last in the file name; the partner has the other one there.
    """
    return pair_file_role(path, PAIR_ROLES)


def fitted_style_shape(shape, what: str = "the style image") -> tuple[int, int]:
    """The (height, width) `fit_style` gives a style image of `shape` (H, W, ...): scaled
    down to `STYLE_MAX_SIZE` on its long side if larger, else as it is. Cheap: commands
    check every style image with it before the model loads.

    Raises:
      StyleError: scaled down, its short side would be under `MIN_FITTED_STYLE_SIDE`
        (`what` names it).
    """
    height, width = int(shape[0]), int(shape[1])
    if max(height, width) <= STYLE_MAX_SIZE:
        return height, width
    scale = STYLE_MAX_SIZE / max(height, width)
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    if min(size) < MIN_FITTED_STYLE_SIDE:
        raise StyleError(
            f"{what} is {width}x{height} (width x height); scaled to {STYLE_MAX_SIZE} px on its long side its "
            f"short side would be {min(size)} px, under {MIN_FITTED_STYLE_SIDE}: crop it to at most "
            f"{STYLE_MAX_SIZE // MIN_FITTED_STYLE_SIDE}:1 (long side to short side)"
        )
    return size


def fit_style(style: np.ndarray, what: str = "the style image") -> np.ndarray:
    """`style` scaled down (Lanczos) to `STYLE_MAX_SIZE` on its long side if larger; the
    same array otherwise (see `fitted_style_shape`, which bounds it)."""
    size = fitted_style_shape(style.shape, what)
    if size == style.shape[:2]:
        return style
    return np.clip(image_io.resize_image(style, size), 0.0, 255.0)


def is_pair_file(path: str | os.PathLike) -> bool:
    """Whether `path` is one file of an AdaIN pair whose partner exists."""
    found = pair_role(path)
    return found is not None and os.path.isfile(found[1])


def preferred_pair_file(directory: str | os.PathLike) -> str | None:
    """The `style_encode` file of the float16 pair in `directory` (else of any pair), or None."""
    return preferred_pair(directory, STYLE_ENCODE, is_pair_file, QUANTIZE_SUFFIXES["float16"])


class AdaINTFLiteStylizer(AdaINStylizer):
    """An AdaIN `.tflite` pair on the LiteRT interpreter (no TensorFlow).

    Args:
      path: either file of the pair (the other is found by name), or the
        `style_encode` file when `stylize_path` is given.
      metadata: the model's `keras_style.json` contents, if any.
      name: how to name the model in messages (defaults to `path`).
      num_threads: interpreter threads; default `os.cpu_count()`.
      stylize_path: the `stylize` file, if not named like `path`'s partner.

    Raises:
      StyleError: ai-edge-litert missing, a missing partner file, or files that
        are not the AdaIN signatures.
    """

    backend = "tflite"

    def __init__(
        self,
        path: str | os.PathLike,
        metadata: dict | None = None,
        name: str | None = None,
        num_threads: int | None = None,
        stylize_path: str | os.PathLike | None = None,
    ):
        super().__init__(name or os.fspath(path), metadata)
        if stylize_path is not None:
            encode_path, stylize_path = os.fspath(path), os.fspath(stylize_path)
        else:
            found = pair_role(path)
            if found is None:
                raise StyleError(
                    f"TFLite model '{self.name}' is not named like an AdaIN pair file "
                    f"(PREFIX_{STYLE_ENCODE}_Q.tflite / PREFIX_{STYLIZE}_Q.tflite)"
                )
            role, partner = found
            path = os.fspath(path)
            encode_path, stylize_path = (path, partner) if role == STYLE_ENCODE else (partner, path)
            if not os.path.isfile(partner):
                raise StyleError(
                    f"AdaIN TFLite model '{self.name}' needs its partner file '{partner}', which is missing"
                )
        self.paths = {STYLE_ENCODE: encode_path, STYLIZE: stylize_path}
        self._num_threads = num_threads
        self._runners = {}
        self._ran = set()
        for key in self.paths:
            self._open(key)

    def _open(self, key: str):
        file = self.paths[key]
        interpreter = open_interpreter(file, self.name, self._num_threads, shown_as=file)
        signatures = interpreter.get_signature_list()
        if key not in signatures:
            raise StyleError(
                f"TFLite model '{file}' has no '{key}' signature (it has: {', '.join(signatures) or 'none'}); "
                "convert the AdaIN SavedModel with style_export"
            )
        self._runners[key] = (interpreter, interpreter.get_signature_runner(key))
        self._ran.discard(key)  # a new interpreter logs its delegate line again
        return self._runners[key]

    def _unsupported_hint(self, option: str) -> str:
        if option == "masks":
            return ": the .tflite pair has no masked signature; use the AdaIN SavedModel"
        return ""

    def prepare_style(self, styles, weights=None):
        """As `AdaINStylizer.prepare_style`; afterwards the style encoder's interpreter is
        closed: it holds its arena and XNNPACK buffers for the style image's size (~0.2 GB
        for a 512² style), which stylizing never uses. Another call opens it again."""
        try:
            return super().prepare_style(styles, weights)
        finally:
            self._runners.pop(STYLE_ENCODE, None)

    @classmethod
    def from_spec(cls, spec) -> "AdaINTFLiteStylizer":
        """Loads the pair a resolved `ModelSpec` names (either file may be named); for a
        shipped model directory or name, the float16 pair is preferred."""
        return cls(pair_spec_path(spec, preferred_pair_file), metadata=spec.metadata, name=spec.source)

    def encode_style(self, style: np.ndarray) -> np.ndarray:
        style = as_image(style, "style image")
        return self._run(STYLE_ENCODE, style.shape, STATISTICS, style=style[None])

    def stylize_statistics(self, content, statistics, alpha=1.0):
        content = as_image(content, "content image")
        out = self._run(
            STYLIZE, content.shape, "stylized", content=content[None],
            style_statistics=statistics_row(statistics), alpha=np.array([alpha], np.float32),
        )
        return out[0]

    def _run(self, key: str, shape, output: str, **inputs) -> np.ndarray:
        _, runner = self._runners.get(key) or self._open(key)
        feed = {k: np.ascontiguousarray(v, np.float32) for k, v in inputs.items()}
        # An interpreter's first run creates the XNNPACK delegate, which logs a line.
        with native_logs_filtered() if key not in self._ran else contextlib.nullcontext():
            try:
                out = runner(**feed)[output]
            except (ValueError, RuntimeError) as e:
                raise StyleError(
                    f"TFLite model '{self.paths[key]}' failed on a {shape[1]}x{shape[0]} image: {one_line(e)}"
                ) from None
        self._ran.add(key)
        return np.asarray(out, dtype=np.float32)  # already a copy of the output tensor
