r"""Rewrites a shipped model's float16 `.tflite` file(s) from its SavedModel's weights.

  python scripts/reexport_tflite.py --model=saved_models/great_wave
  python scripts/reexport_tflite.py --model=saved_models/adain        # the AdaIN pair

The SavedModel keeps the graph it was exported with; a `.tflite` converted from it
would too. This rebuilds the Keras model with the current layers (TransformNet or
AdaINStyleTransfer, as its `keras_style.json` says), loads every weight from the
SavedModel's variables (by name; all must match), exports that to a temporary SavedModel
and converts it the way `style_export --quantize=float16` does, then compares the new
file with the shipped SavedModel on the example photos and writes it only if the largest
difference is within --max_abs_diff (0..255 scale). The shipped SavedModel is not touched.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

from absl import flags

from keras_style.cli import common
from keras_style.native_logs import import_tensorflow

_MODEL = flags.DEFINE_string("model", None, "A shipped model directory (NAME/saved_model inside).")
_MAX_ABS_DIFF = flags.DEFINE_float("max_abs_diff", 2.0, "Largest allowed difference from the SavedModel.")
_CONTENT = flags.DEFINE_string("content", "examples/content", "Parity images: file, folder, glob or list.")
_STYLE = flags.DEFINE_string("style", "examples/styles/gcompris_004_GreatWave.jpg", "AdaIN parity style.")
_QUANTIZE = flags.DEFINE_enum("quantize", "float16", ["none", "float16", "dynamic"],
                              "Weights of the written file(s); the shipped ones are float16.")
_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Where to write the file(s); default: --model itself.")
flags.mark_flags_as_required(["model"])


def _saved_weights(saved_model_dir: str) -> dict:
    import tensorflow as tf

    loaded = tf.saved_model.load(saved_model_dir)
    return {v.name.split(":")[0]: v.numpy() for v in loaded._all_variables}


def _assign(model, weights: dict) -> None:
    from keras_style.errors import StyleError

    paths = [w.path for w in model.weights]
    missing = sorted(set(paths) - set(weights))
    unused = sorted(set(weights) - set(paths))
    if missing or unused:
        raise StyleError(f"weights do not match: missing {missing[:5]}, unused {unused[:5]}")
    for w in model.weights:
        w.assign(weights[w.path])


def main(argv):
    del argv
    import numpy as np

    import_tensorflow()  # with its native start-up lines filtered

    from keras_style import image_io
    from keras_style.inference.model_spec import read_metadata

    model_dir = _MODEL.value.rstrip("/")
    name = os.path.basename(model_dir)
    saved_model_dir = os.path.join(model_dir, "saved_model")
    metadata = read_metadata(saved_model_dir)
    out_dir = _OUTPUT_DIR.value or model_dir
    weights = _saved_weights(saved_model_dir)
    images = [image_io.load_image(p, max_size=256) for p in image_io.list_images(_CONTENT.value)]
    work = tempfile.mkdtemp(prefix="reexport_tflite_")
    try:
        if metadata.get("kind") == "fast_style":
            from keras_style.export import convert_saved_model_to_tflite, export_fast_style_model, parity_check
            from keras_style.models.transform_net import TransformNet

            model = TransformNet(int(metadata["base"]))
            _assign(model, weights)
            rebuilt = export_fast_style_model(model, os.path.join(work, "saved_model"), style_name=metadata.get("style"))
            suffix = {"none": "fp32", "float16": "fp16", "dynamic": "dynamic"}[_QUANTIZE.value]
            staged = convert_saved_model_to_tflite(rebuilt, os.path.join(work, f"{name}_{suffix}.tflite"),
                                                   _QUANTIZE.value)
            result = parity_check(saved_model_dir, staged, images)
            outputs = {staged: os.path.join(out_dir, os.path.basename(staged))}
        elif metadata.get("kind") == "adain":
            from keras_style.export.adain import convert_adain_to_tflite, export_adain_model, parity_check_pair
            from keras_style.models.adain_model import AdaINStyleTransfer

            model = AdaINStyleTransfer(encoder_weights=None, epsilon=float(metadata.get("epsilon", 1e-5)))
            _assign(model, weights)
            rebuilt = export_adain_model(model, os.path.join(work, "saved_model"))
            os.makedirs(os.path.join(work, "pair"))
            staged = convert_adain_to_tflite(rebuilt, os.path.join(work, "pair") + os.sep, _QUANTIZE.value)
            style = image_io.load_image(_STYLE.value, max_size=256)
            result = parity_check_pair(saved_model_dir, staged["style_encode"], staged["stylize"], images,
                                       [style] * len(images))
            outputs = {path: os.path.join(out_dir, os.path.basename(path)) for path in staged.values()}
        else:
            raise SystemExit(f"{saved_model_dir}: kind {metadata.get('kind')!r} is not fast_style or adain")
        print(f"parity vs {saved_model_dir}: max abs diff {result['max_abs_diff']:.4f}, "
              f"mean {result['mean_abs_diff']:.4f} (0..255)", file=sys.stderr)
        if not np.isfinite(result["max_abs_diff"]) or result["max_abs_diff"] > _MAX_ABS_DIFF.value:
            raise SystemExit(f"parity {result['max_abs_diff']:.4f} over --max_abs_diff={_MAX_ABS_DIFF.value}; "
                             "nothing written")
        for source, target in outputs.items():
            shutil.copyfile(source, target + ".tmp")
            os.replace(target + ".tmp", target)
            print(f"wrote {target} ({os.path.getsize(target)} bytes)", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    common.run(main)
