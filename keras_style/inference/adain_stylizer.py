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

This module imports no TensorFlow until a SavedModel is loaded.
"""

from __future__ import annotations

import abc
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from keras_style.checks import as_image, check_alpha, check_masks, normalised_weights
from keras_style.errors import StyleError
from keras_style.inference.stylizer import Stylizer
from keras_style.inference.saved_model_stylizer import load_saved_model

STYLE_ENCODE = "style_encode"
STYLIZE = "stylize"
STYLIZE_MASKED = "stylize_masked"
STATISTICS = "style_statistics"


@dataclass(frozen=True)
class AdaINStyle:
    """What `prepare_style` returns: the styles' statistics, computed once.

    Attributes:
      statistics: float32 (1, 2C), the weighted mix of the styles' statistics
        (channel means, then standard deviations).
      per_style: float32 (K, 2C), each style's own statistics (for masks).
      weights: the K weights, normalised to sum to 1.
      alpha: the default style strength for `stylize`.
    """

    statistics: np.ndarray
    per_style: np.ndarray
    weights: tuple
    alpha: float = 1.0

    @property
    def num_styles(self) -> int:
        return int(self.per_style.shape[0])


class AdaINStylizer(Stylizer):
    """The AdaIN runtime, whatever runs the signatures (SavedModel or TFLite).

    Subclasses implement `encode_style` and `stylize_statistics` (and
    `_stylize_masked` where masks are supported).
    """

    supports_masks = False

    @property
    def takes_style(self) -> bool:
        return True

    @abc.abstractmethod
    def encode_style(self, style: np.ndarray) -> np.ndarray:
        """One float32 (Hs, Ws, 3) style image in [0, 255] -> float32 (1, 2C) statistics."""

    @abc.abstractmethod
    def stylize_statistics(self, content: np.ndarray, statistics: np.ndarray, alpha: float = 1.0) -> np.ndarray:
        """(H, W, 3) content with given (1, 2C) statistics -> float32 (H, W, 3), not clipped."""

    def prepare_style(
        self, styles: Sequence[np.ndarray], weights: Sequence[float] | None = None, alpha: float = 1.0
    ) -> AdaINStyle:
        """Encodes each style image once and mixes the statistics.

        Args:
          styles: float (Hs, Ws, 3) RGB images in [0, 255], any sizes (one array is
            accepted too).
          weights: one weight >= 0 per style, normalised to sum to 1; None: equal.
          alpha: the default style strength in [0, 1] for `stylize`.

        Raises:
          StyleError: no styles, bad images, weights or alpha.
        """
        if isinstance(styles, np.ndarray) and styles.ndim == 3:
            styles = [styles]
        styles = [as_image(s, f"style image {k + 1}") for k, s in enumerate(styles)]
        if not styles:
            raise StyleError("no style images given")
        weights = normalised_weights(weights, len(styles))
        alpha = check_alpha(alpha)
        per_style = np.concatenate([np.asarray(self.encode_style(s), np.float32).reshape(1, -1) for s in styles])
        mixed = (np.asarray(weights, np.float64)[:, None] * per_style.astype(np.float64)).sum(axis=0, keepdims=True)
        return AdaINStyle(mixed.astype(np.float32), per_style, tuple(weights), alpha)

    def stylize(
        self,
        image: np.ndarray,
        style: AdaINStyle | None = None,
        alpha: float | None = None,
        masks: Sequence[np.ndarray] | None = None,
    ) -> np.ndarray:
        """Stylizes one float32 (H, W, 3) image in [0, 255] with a prepared style.

        Args:
          image: the content image.
          style: `prepare_style`'s result (reused for every image and tile).
          alpha: style strength in [0, 1]; None: the one given to `prepare_style`.
          masks: None, or one (H, W) map in [0, 1] per style, the image's size
            (spatial control; SavedModel only).

        Returns:
          float32 (H, W, 3), not clipped.
        """
        if style is None:
            raise StyleError(
                f"model '{self.name}' is an AdaIN (arbitrary-style) model; give style images "
                "(prepare_style, then stylize(image, style=...))"
            )
        if not isinstance(style, AdaINStyle):
            raise StyleError(f"style must come from this model's prepare_style, got {type(style).__name__}")
        alpha = style.alpha if alpha is None else check_alpha(alpha)
        if masks is None:
            return super().stylize(image, (style.statistics, alpha))
        if not self.supports_masks:
            raise StyleError(
                f"model '{self.name}' cannot apply masks: the .tflite pair has no masked signature; "
                "use the AdaIN SavedModel"
            )
        image = np.asarray(image, dtype=np.float32)
        if image.ndim != 3 or image.shape[-1] != 3 or min(image.shape[:2]) < 1:
            raise ValueError(f"expected an (H, W, 3) image, got shape {image.shape}")
        masks = check_masks(masks, style.num_styles, image.shape[:2])
        out = np.asarray(self._stylize_masked(image, style, np.stack(masks, axis=-1), alpha), np.float32)
        if out.shape != image.shape:
            raise StyleError(f"model '{self.name}' returned shape {out.shape} for a {image.shape} image")
        return out

    def _stylize_batch(self, images: np.ndarray, style: Any) -> np.ndarray:
        statistics, alpha = style
        return self.stylize_statistics(images[0], statistics, alpha)[None]

    def _stylize_masked(self, image, style: AdaINStyle, masks: np.ndarray, alpha: float) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, image: np.ndarray) -> np.ndarray:
        return self.stylize(image)  # raises: a style is needed


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
        self._loaded = loaded
        self._encode = loaded.signatures[STYLE_ENCODE]
        self._stylize = loaded.signatures[STYLIZE]
        self._masked = loaded.signatures[STYLIZE_MASKED]
        self._tf = tf

    def encode_style(self, style: np.ndarray) -> np.ndarray:
        style = as_image(style, "style image")
        return self._run(self._encode, style.shape, STATISTICS, style=style[None])

    def stylize_statistics(self, content, statistics, alpha=1.0):
        content = as_image(content, "content image")
        out = self._run(
            self._stylize, content.shape, "stylized", content=content[None],
            style_statistics=statistics_row(statistics), alpha=np.array([alpha], np.float32),
        )
        return out[0]

    def _stylize_masked(self, image, style, masks, alpha):
        out = self._run(
            self._masked, image.shape, "stylized", content=image[None], style_statistics=style.per_style,
            masks=masks[None].astype(np.float32), style_weights=np.asarray(style.weights, np.float32),
            alpha=np.array([alpha], np.float32),
        )
        return out[0]

    def _run(self, signature, shape, output: str, **inputs) -> np.ndarray:
        tf = self._tf
        try:
            result = signature(**{k: tf.constant(np.ascontiguousarray(v, np.float32)) for k, v in inputs.items()})
        except tf.errors.ResourceExhaustedError:
            raise StyleError(
                f"out of memory on a {shape[1]}x{shape[0]} image; use --tile or --max_size"
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
