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
        return tf, load_or_raise(tf, path, name)


def load_errors(tf) -> tuple[type[BaseException], ...]:
    """The exceptions `tf.saved_model.load` raises for a damaged or unreadable SavedModel."""
    # Deleted variables: FileNotFoundError (an OSError); variables data cut short:
    # IndexError ("Read less bytes than requested") from the checkpoint reader;
    # a corrupt graph or index: ValueError, KeyError or an OpError (DataLossError).
    return (OSError, ValueError, IndexError, KeyError, tf.errors.OpError)


# TensorFlow appends this advice to every variables-restore error, even when the
# files are simply missing or damaged; it misleads, so the one-line reason drops it.
_DEVICE_HINT = " You may be trying to load on a different device"


def load_or_raise(tf, path: str, name: str | None = None):
    """`tf.saved_model.load(path)`.

    Raises:
      StyleError: "cannot load SavedModel 'NAME': REASON" (NAME defaults to `path`)
        for any of `load_errors`, e.g. deleted or truncated variables.
    """
    try:
        # A model with float16-stored weights makes oneDNN log an E-level line on load.
        with native_logs_filtered():
            return tf.saved_model.load(path)
    except load_errors(tf) as e:
        reason = one_line(e).split(_DEVICE_HINT)[0]
        raise StyleError(f"cannot load SavedModel '{name or path}': {reason}") from None
