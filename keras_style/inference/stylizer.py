"""The runtime interface: a `Stylizer` turns one image into its stylized version.

`keras_style.inference.load_stylizer(spec)` returns one, backed by TensorFlow
(a SavedModel) or by the LiteRT interpreter (a `.tflite` file); each model kind
registers its two stylizer classes in `keras_style.registry`. This module
imports neither runtime, so a `.tflite` model runs without TensorFlow.

Images everywhere are float32 numpy arrays of shape (H, W, 3), RGB, in
[0, 255], as `keras_style.image_io` reads them.

Arbitrary-style models (AdaIN, MetaNet) take style inputs. Their stylizers
implement `prepare_style(styles, weights)`, which does the expensive per-style
work once (style features, generated filters) and returns an opaque object;
`stylize(image, style=that_object, alpha=..., masks=...)` then reuses it for
every image and every tile. Fixed-style models (Johnson's fast style transfer)
reject style inputs. What else a model can do is declared once per class, by
the flags `takes_style`, `supports_alpha` and `supports_masks`; `stylize`
refuses the rest with one `StyleError` line.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

import numpy as np

from keras_style.checks import as_image, check_alpha, check_finite
from keras_style.errors import StyleError

# The `keras_style.json` key of the style strength an arbitrary-style model runs at when
# none is given (written by `style_export --default_alpha`; absent: 1, full strength).
DEFAULT_ALPHA_KEY = "default_alpha"


class Stylizer(abc.ABC):
    """Stylizes images with one loaded model.

    Subclasses implement `_stylize_batch`. Fixed-style models need nothing
    else; arbitrary-style models also set `takes_style` and implement
    `prepare_style` and `_bind_style`; models that take an alpha or masks set
    `supports_alpha` / `supports_masks` (and implement `_stylize_masked`).

    Attributes:
      name: what the model was loaded from (path or shipped name).
      metadata: the model's `keras_style.json` contents (may be empty).
      backend: "saved_model" or "tflite".
      takes_style: whether the model needs a prepared style (arbitrary style).
      supports_alpha: whether `stylize` takes a style strength below 1.
      supports_masks: whether `stylize` takes one mask per style (spatial control).
    """

    backend: str = ""
    takes_style: bool = False
    supports_alpha: bool = False
    supports_masks: bool = False

    def __init__(self, name: str, metadata: dict | None = None):
        self.name = name
        self.metadata = dict(metadata or {})

    @classmethod
    def from_spec(cls, spec) -> "Stylizer":
        """Loads a resolved `keras_style.inference.ModelSpec` (path, metadata, name)."""
        return cls(spec.path, metadata=spec.metadata, name=spec.source)

    @classmethod
    def check_style_shape(cls, shape, metadata: dict | None = None, what: str = "a style image") -> None:
        """Refuses, before the model loads, a style image of `shape` (H, W, 3) whose size
        this kind of model cannot work at within bounded memory (`what` names it; a command
        passes its flag and file). A model's own rules override this; by default any.

        Raises:
          StyleError: the style image's size is out of the model's bounds.
        """
        del shape, metadata, what

    @property
    def kind(self) -> str:
        """Model kind, as `keras_style.json` names it ("fast_style", "adain", "metanet")."""
        return self.metadata.get("kind", "fast_style")

    @property
    def default_alpha(self) -> float:
        """The style strength `stylize` uses when given none: the `default_alpha` recorded in
        the model's `keras_style.json` (`style_export --default_alpha`), else 1; always 1 for
        models without an alpha.

        Raises:
          StyleError: the recorded value is not a number in [0, 1].
        """
        if not self.supports_alpha:
            return 1.0
        return check_alpha(self.metadata.get(DEFAULT_ALPHA_KEY, 1.0))

    def prepare_style(self, styles: Sequence[np.ndarray], weights: Sequence[float] | None = None) -> Any:
        """Precomputes what the model needs from style images, once.

        The result is passed as `style=` to every `stylize` call (every image,
        every tile), so style features are not recomputed per tile.

        Args:
          styles: float (Hs, Ws, 3) RGB images in [0, 255] (one array is accepted too).
          weights: one weight >= 0 per style, normalised to sum to 1; None: equal.

        Raises:
          StyleError: the model has a fixed style.
        """
        del styles, weights
        raise self._fixed_style_error()

    def stylize(
        self,
        image: np.ndarray,
        style: Any = None,
        alpha: float | None = None,
        masks: Sequence[np.ndarray] | None = None,
    ) -> np.ndarray:
        """Stylizes one float32 (H, W, 3) image in [0, 255]; returns the same shape.

        Args:
          image: the content image.
          style: `prepare_style`'s result (arbitrary-style models; reused for every
            image and tile); None for fixed-style models.
          alpha: style strength in [0, 1]; None: the model's `default_alpha` (or what
            `style` was prepared with). Below 1 only where `supports_alpha`.
          masks: None, or one (H, W) map in [0, 1] per style, the image's size
            (spatial control; only where `supports_masks`).

        The output is float32, not clipped (it may stray slightly outside
        [0, 255] for quantized models); `image_io.save_image` clips.

        Raises:
          StyleError: a bad image, style, alpha or masks, an option the model
            cannot do, or an output with a NaN or infinite value (a broken model or
            input: such a picture would come out black, so none is returned).
        """
        image = as_image(image, "image")
        if style is not None and not self.takes_style:
            raise self._fixed_style_error()
        if alpha is not None:
            alpha = check_alpha(alpha)
        if alpha not in (None, 1.0) and not self.supports_alpha:
            raise self._unsupported_error("an alpha below 1")
        if masks is not None and not self.supports_masks:
            raise self._unsupported_error("masks")
        bound = self._bind_style(image, style, alpha)
        batch = np.ascontiguousarray(image[None])
        out = self._stylize_batch(batch, bound) if masks is None else self._stylize_masked(batch, bound, masks)
        out = np.asarray(out, dtype=np.float32)
        if out.shape != (1, *image.shape):
            raise StyleError(
                f"model '{self.name}' returned shape {out.shape[1:]} for a {image.shape} image"
            )
        return check_finite(out[0], f"the output of model '{self.name}'")

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Same as `stylize(image)`, so a stylizer can be passed to `stylize_tiled`."""
        return self.stylize(image)

    def _bind_style(self, image: np.ndarray, style: Any, alpha: float | None) -> Any:
        """What `_stylize_batch` gets for `image`: `style` (checked) at strength `alpha`.

        Fixed-style models get None through; arbitrary-style ones check that `style`
        came from their `prepare_style` and fold `alpha` in.
        """
        del image, alpha
        return style

    @abc.abstractmethod
    def _stylize_batch(self, images: np.ndarray, style: Any) -> np.ndarray:
        """Runs the model on float32 (1, H, W, 3) images with `_bind_style`'s result;
        returns (1, H, W, 3)."""

    def _stylize_masked(self, images: np.ndarray, style: Any, masks: Sequence[np.ndarray]) -> np.ndarray:
        """As `_stylize_batch`, each style applied where its mask is (`supports_masks` only)."""
        raise NotImplementedError

    def _unsupported_hint(self, option: str) -> str:
        """What to use instead of `option`, appended to the refusal (a kind may say more)."""
        del option
        return ""

    def _unsupported_error(self, option: str) -> StyleError:
        return StyleError(f"model '{self.name}' cannot apply {option}{self._unsupported_hint(option)}")

    def _fixed_style_error(self) -> StyleError:
        return StyleError(
            f"model '{self.name}' is a fixed-style model; style images need an arbitrary-style "
            "model (adain, metanet)"
        )

    def __repr__(self):
        return f"{type(self).__name__}({self.name!r}, kind={self.kind!r})"
