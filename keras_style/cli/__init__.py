"""absl command-line programs: thin wrappers that parse flags, build a config and
call the library.

TensorFlow's start-up chatter is kept off the terminal so that a user's error is the
only line they see: TF_CPP_MIN_LOG_LEVEL hides most of it, and the oneDNN notice that
TensorFlow 2.21 prints through absl's C++ logger during import (it ignores that
variable) is dropped by importing TensorFlow with stderr briefly pointed at /dev/null.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _import_tensorflow_quietly():
    if "tensorflow" in sys.modules or os.environ.get("KERAS_STYLE_VERBOSE_TF"):
        return
    try:
        import importlib.util

        if importlib.util.find_spec("tensorflow") is None:
            return
    except (ImportError, ValueError):
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow  # noqa: F401
    except Exception:
        pass  # the real import, later, raises with stderr restored
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


_import_tensorflow_quietly()
