"""absl command-line programs: thin wrappers that parse flags, build a config and
call the library.

TF_CPP_MIN_LOG_LEVEL is set before anything imports TensorFlow, and the native log
lines TensorFlow 2.21 prints regardless are filtered (`keras_style.native_logs`), so
a user's error is the only line they see. TensorFlow itself is imported only by the
commands that need it: a `.tflite` run of `style_transfer` never loads it.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_style import native_logs  # noqa: E402  (after the variable it reads)

# Whatever module imports TensorFlow first (Keras, an exporter, Beam), its start-up
# lines are filtered.
native_logs.filter_tensorflow_start_up()
