"""Loading a SavedModel for a stylizer: the TensorFlow half every model kind shares.

TensorFlow is imported only when a SavedModel is loaded, so importing this module
(and the stylizer modules that use it) keeps the `.tflite` path TensorFlow-free.
"""

from __future__ import annotations

from keras_style.checks import one_line
from keras_style.errors import StyleError
from keras_style.native_logs import native_logs_filtered


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
