"""The runtime interface: a `Stylizer` turns one image into its stylized version.

`keras_style.inference.load_stylizer(spec)` returns one, backed by TensorFlow
(a SavedModel) or by the LiteRT interpreter (a `.tflite` file); each model kind
registers its two stylizer classes in `keras_style.registry`. This module
imports neither runtime, so a `.tflite` model runs without TensorFlow.

Images everywhere are float32 numpy arrays of shape (H, W, 3), RGB, in
[0, 255], as `keras_style.image_io` reads them.

Arbitrary-style models (AdaIN, MetaNet; later) take style inputs. Their
stylizers implement `prepare_style(styles, weights)`, which does the expensive
per-style work once (style features, generated filters) and returns an opaque
object; `stylize(image, style=that_object)` then reuses it for every image and
every tile. Fixed-style models (Johnson's fast style transfer) reject style
inputs.
"""

from __future__ import annotations

import abc
from typing import Any

import numpy as np

from keras_style.errors import StyleError


class Stylizer(abc.ABC):
    """Stylizes images with one loaded model.

    Subclasses implement `_stylize_batch`. Fixed-style models need nothing
    else; arbitrary-style models also override `takes_style` and
    `prepare_style`.

    Attributes:
      name: what the model was loaded from (path or shipped name).
      metadata: the model's `keras_style.json` contents (may be empty).
      backend: "saved_model" or "tflite".
    """

    backend: str = ""

    def __init__(self, name: str, metadata: dict | None = None):
        self.name = name
        self.metadata = dict(metadata or {})

    @classmethod
    def from_spec(cls, spec) -> "Stylizer":
        """Loads a resolved `keras_style.inference.ModelSpec` (path, metadata, name)."""
        return cls(spec.path, metadata=spec.metadata, name=spec.source)

    @property
    def kind(self) -> str:
        """Model kind: "fast_style" (fixed style) or, later, "adain" / "metanet"."""
        return self.metadata.get("kind", "fast_style")

    @property
    def takes_style(self) -> bool:
        """True for arbitrary-style models, which need `prepare_style` results."""
        return False

    def prepare_style(self, styles: list[np.ndarray], weights: list[float] | None = None) -> Any:
        """Precomputes what the model needs from style images, once.

        The result is passed as `style=` to every `stylize` call (every image,
        every tile), so style features are not recomputed per tile.

        Raises:
          StyleError: the model has a fixed style.
        """
        del styles, weights
        raise self._fixed_style_error()

    def stylize(self, image: np.ndarray, style: Any = None) -> np.ndarray:
        """Stylizes one float32 (H, W, 3) image in [0, 255]; returns the same shape.

        The output is float32, not clipped (it may stray slightly outside
        [0, 255] for quantized models); `image_io.save_image` clips.
        """
        if style is not None and not self.takes_style:
            raise self._fixed_style_error()
        image = np.asarray(image, dtype=np.float32)
        if image.ndim != 3 or image.shape[-1] != 3 or min(image.shape[:2]) < 1:
            raise ValueError(f"expected an (H, W, 3) image, got shape {image.shape}")
        out = self._stylize_batch(np.ascontiguousarray(image[None]), style)
        out = np.asarray(out, dtype=np.float32)
        if out.shape != (1, *image.shape):
            raise StyleError(
                f"model '{self.name}' returned shape {out.shape[1:]} for a {image.shape} image"
            )
        return out[0]

    def _fixed_style_error(self) -> StyleError:
        return StyleError(
            f"model '{self.name}' is a fixed-style model; style images need an arbitrary-style "
            "model (adain, metanet)"
        )

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Same as `stylize(image)`, so a stylizer can be passed to `stylize_tiled`."""
        return self.stylize(image)

    @abc.abstractmethod
    def _stylize_batch(self, images: np.ndarray, style: Any) -> np.ndarray:
        """Runs the model on float32 (1, H, W, 3) images; returns (1, H, W, 3)."""

    def __repr__(self):
        return f"{type(self).__name__}({self.name!r}, kind={self.kind!r})"
