"""Runs a fast-style SavedModel (as written by `export_fast_style_model`) with TensorFlow."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from keras_style.checks import one_line
from keras_style.errors import StyleError
from keras_style.inference.stylizer import Stylizer
from keras_style.native_logs import native_logs_filtered

FLOAT_SIGNATURE = "stylize_float"


def load_saved_model(path: str, name: str, alternative: str):
    """(tensorflow module, loaded SavedModel), with TensorFlow's start-up logs filtered.

    Raises:
      StyleError: TensorFlow is not installed (the message suggests `alternative`,
        e.g. "the model's .tflite file"), or the directory cannot be loaded.
    """
    with native_logs_filtered():
        try:
            import tensorflow as tf
        except ImportError:
            raise StyleError(
                f"model '{name}' is a SavedModel, which needs TensorFlow; install tensorflow or use {alternative}"
            ) from None
        try:
            return tf, tf.saved_model.load(path)
        except (OSError, ValueError, tf.errors.OpError) as e:
            raise StyleError(f"cannot load SavedModel '{name}': {one_line(e)}") from None


class SavedModelStylizer(Stylizer):
    """A `Stylizer` over a SavedModel's `stylize_float` signature.

    The signature takes `images` float32 (N, H, W, 3) in [0, 255] and returns
    `stylized`, the same shape. Loading imports TensorFlow.

    Args:
      path: the SavedModel directory.
      metadata: the model's `keras_style.json` contents, if any.
      name: how to name the model in messages (defaults to `path`).

    Raises:
      StyleError: TensorFlow is not installed, the directory is not a
        loadable SavedModel, or it lacks the `stylize_float` signature.
    """

    backend = "saved_model"

    def __init__(self, path: str | os.PathLike, metadata: dict | None = None, name: str | None = None):
        super().__init__(name or os.fspath(path), metadata)
        self.path = os.fspath(path)
        tf, self._loaded = load_saved_model(self.path, self.name, "the model's .tflite file")
        signatures = self._loaded.signatures
        if FLOAT_SIGNATURE not in signatures:
            raise StyleError(
                f"SavedModel '{self.name}' has no '{FLOAT_SIGNATURE}' signature (it has: "
                f"{', '.join(sorted(signatures)) or 'none'}); export it with keras_style.export"
            )
        self._signature = signatures[FLOAT_SIGNATURE]
        self._tf = tf

    def _stylize_batch(self, images: np.ndarray, style: Any) -> np.ndarray:
        del style
        try:
            outputs = self._signature(images=self._tf.constant(images))
        except self._tf.errors.ResourceExhaustedError:
            raise StyleError(
                f"out of memory stylizing a {images.shape[2]}x{images.shape[1]} image; use --tile or --max_size"
            ) from None
        return outputs["stylized"].numpy()
