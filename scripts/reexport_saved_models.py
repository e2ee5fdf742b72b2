r"""Re-exports shipped SavedModels with the current exporters, from their own weights.

  python scripts/reexport_saved_models.py --models=saved_models/starry_night,saved_models/adain

Each `NAME/saved_model` is rewritten by `serving_precision.export_in_precision(..., "float32")`
(the Keras model rebuilt from its `keras_style.json`, every weight read back by name, the
kind's own exporter writing the copy), so it gets the current signatures (their request
checks, TF Hub's `__call__`) and keeps its weights dtype, default alpha, pixel limit and
training record. Before the copy replaces the original, the script checks that every
stored variable is bit-identical (names, dtypes, values) and that both stylize the example
photos alike (--max_abs_diff, 0..255 scale, printed per model); otherwise nothing is
replaced. The `.tflite` files beside it are not touched.
"""

from __future__ import annotations

import os
import shutil
import sys

from absl import flags

from keras_style.cli import common
from keras_style.native_logs import import_tensorflow

_MODELS = flags.DEFINE_list("models", None, "Shipped model directories (NAME/saved_model inside).")
_CONTENT = flags.DEFINE_string("content", "examples/content", "Comparison photos: file, folder, glob or list.")
_STYLE = flags.DEFINE_string("style", "examples/styles/opencv_000_starry_night.jpg",
                             "Style image for the arbitrary-style models.")
_SIZE = flags.DEFINE_integer("size", 128, "Long side the comparison photos are resized to.")
_MAX_ABS_DIFF = flags.DEFINE_float("max_abs_diff", 0.5, "Largest allowed output difference (0..255).")
flags.mark_flags_as_required(["models"])


def _stored_variables(saved_model_dir: str) -> dict:
    """{checkpoint key: numpy value} of everything the SavedModel's checkpoint stores."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(os.path.join(saved_model_dir, "variables", "variables"))
    return {key: reader.get_tensor(key) for key in reader.get_variable_to_shape_map()
            if key != "_CHECKPOINTABLE_OBJECT_GRAPH"}


def _same_weights(old: str, new: str) -> str | None:
    """None if both SavedModels store the same variables bit for bit, else what differs."""
    from keras_style.export.saved_model import saved_model_weights

    before, after = saved_model_weights(old), saved_model_weights(new)
    if sorted(before) != sorted(after):
        return f"variable names differ: {sorted(set(before) ^ set(after))[:5]}"
    for name, value in before.items():
        other = after[name]
        if value.dtype != other.dtype or value.shape != other.shape or value.tobytes() != other.tobytes():
            return f"variable {name} differs ({value.dtype} {value.shape} vs {other.dtype} {other.shape})"
    stored_before = sum(v.nbytes for v in _stored_variables(old).values())
    stored_after = sum(v.nbytes for v in _stored_variables(new).values())
    if stored_before != stored_after:
        return f"the checkpoints store {stored_before} vs {stored_after} bytes"
    return None


def _outputs(saved_model_dir: str, images, style) -> list:
    from keras_style.inference import load_stylizer

    stylizer = load_stylizer(saved_model_dir, format="saved_model")
    prepared = stylizer.prepare_style([style]) if stylizer.takes_style else None
    return [stylizer.stylize(image, style=prepared) for image in images]


def _max_output_diff(old: str, new: str, images, style) -> float:
    import numpy as np

    pairs = zip(_outputs(old, images, style), _outputs(new, images, style))
    return max(float(np.abs(a.astype(np.float64) - b).max()) for a, b in pairs)


def main(argv):
    del argv
    import_tensorflow()  # with its native start-up lines filtered

    from keras_style import image_io
    from keras_style.errors import StyleError
    from keras_style.export.serving_precision import export_in_precision

    images = [image_io.load_image(p, max_size=_SIZE.value) for p in image_io.list_images(_CONTENT.value)][:3]
    style = image_io.load_image(_STYLE.value, max_size=256)
    for model_dir in _MODELS.value:
        saved_model_dir = os.path.join(model_dir.rstrip("/"), "saved_model")
        staged = os.path.join(os.path.dirname(saved_model_dir), ".saved_model.reexport")
        aside = os.path.join(os.path.dirname(saved_model_dir), ".saved_model.old")
        shutil.rmtree(staged, ignore_errors=True)
        try:
            export_in_precision(saved_model_dir, staged, "float32")
            problem = _same_weights(saved_model_dir, staged)
            if problem:
                raise StyleError(f"{saved_model_dir}: {problem}; nothing replaced")
            diff = _max_output_diff(saved_model_dir, staged, images, style)
            print(f"{saved_model_dir}: weights bit-identical; outputs max abs diff {diff:.4g} (0..255) on "
                  f"{len(images)} photos at {_SIZE.value} px", file=sys.stderr)
            if not diff <= _MAX_ABS_DIFF.value:
                raise StyleError(f"{saved_model_dir}: outputs differ by {diff:.4g} > --max_abs_diff; nothing replaced")
            os.rename(saved_model_dir, aside)
            os.rename(staged, saved_model_dir)
            shutil.rmtree(aside)
        finally:
            shutil.rmtree(staged, ignore_errors=True)


if __name__ == "__main__":
    common.run(main)
