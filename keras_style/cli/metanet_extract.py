r"""style_metanet_extract: bake one style of a MetaNet into a standalone fast-style model.

  style_metanet_extract --model=saved_models/metanet --style=painting.jpg \
      --export_dir=saved_models/painting
  style_metanet_extract --model=saved_models/metanet --style=starry.jpg,wave.jpg \
      --style_weights=0.7,0.3 --export_dir=exports/mix/saved_model \
      --tflite=exports/mix/mix_int8.tflite --quantize=int8

The MetaNet generates the transform-net filters for the style (several styles: for
the mix of their statistics, weighted by --style_weights) once, and they are baked
into an ordinary TransformNet, exported like a `style_train_fast` model (kind
"fast_style"): it runs with `style_transfer --model=EXPORT_DIR` (no --style), on TF
Serving, and converts to TFLite in every mode, full-integer int8 included (its conv
filters are constants, unlike the MetaNet's). With --tflite the .tflite file is
converted too and checked against the SavedModel (the parity line is printed).
Nothing is written unless everything succeeds.
"""

from __future__ import annotations

import os
import sys

from absl import flags

from keras_style import checks, files, image_io
from keras_style.cli import common
from keras_style.errors import StyleError
from keras_style.export import saved_model, tflite
from keras_style.export.metanet import extract_style_model
from keras_style.inference import model_spec
from keras_style.inference import metanet
from keras_style.native_logs import import_tensorflow

_MODEL = flags.DEFINE_string("model", None, "MetaNet SavedModel directory (or shipped model name).")
_STYLE = common.define_path_list("style", None, "Style image(s): a,b,c.")
_STYLE_WEIGHTS = flags.DEFINE_list("style_weights", None, "One weight per --style image (normalised); default equal.")
_EXPORT_DIR = flags.DEFINE_string("export_dir", None, "The standalone SavedModel directory to write.")
_STYLE_NAME = flags.DEFINE_string("style_name", None, "Style name recorded in the model (default: the style files').")
_STYLE_SIZE = flags.DEFINE_integer(
    "style_size", None, "Short side the style images are resized to (default: the MetaNet's training style size).")
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Replace an existing export / .tflite file.")
_TFLITE = flags.DEFINE_string("tflite", None, "Also write this .tflite file (converted from the standalone model).")
_QUANTIZE = flags.DEFINE_enum(
    "quantize", "float16", ["none", "float16", "dynamic", "int8"],
    "With --tflite: none, float16, dynamic (int8 weights) or int8 (full-integer, calibrated on "
    "--representative_images).")
_REPRESENTATIVE = flags.DEFINE_string(
    "representative_images", None, "int8 only: calibration photos (file, directory, glob or a,b); default: the "
    "repository's example content images.")
_PARITY_SIZE = flags.DEFINE_integer("parity_size", 256, "Long side of the image the .tflite parity check uses.")

flags.mark_flags_as_required(["model", "style", "export_dir"])

_EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                         "examples", "content")


def _example_images(size: int):
    import glob

    return [image_io.load_image(p, max_size=size) for p in sorted(glob.glob(os.path.join(_EXAMPLES, "*.jpg")))]


def main(argv):
    del argv
    import contextlib

    # Cheap checks first: nothing is read or loaded yet.
    weights = common.style_weight_list(_STYLE_WEIGHTS.value, len(_STYLE.value))
    if _STYLE_SIZE.value is not None:
        checks.check_size(_STYLE_SIZE.value, "--style_size", metanet.MIN_STYLE_SIZE, metanet.MAX_STYLE_SIZE)
    checks.check_size(_PARITY_SIZE.value, "--parity_size", 8, checks.MAX_WORK_SIDE)
    saved_model.check_export_dir(_EXPORT_DIR.value, _OVERWRITE.value)
    if _TFLITE.value:
        tflite.check_tflite_path(_TFLITE.value, overwrite=_OVERWRITE.value)
    elif flags.FLAGS["quantize"].present or _REPRESENTATIVE.value:
        raise StyleError("--quantize and --representative_images are for --tflite; add --tflite=FILE.tflite")
    spec = model_spec.resolve_model(_MODEL.value, "saved_model")
    if spec.kind != "metanet":
        raise StyleError(f"model {spec.source} is of kind '{spec.kind}'; style_metanet_extract needs a MetaNet")
    calibration = []
    if _TFLITE.value and _QUANTIZE.value == "int8" and _REPRESENTATIVE.value:
        calibration = image_io.list_images(_REPRESENTATIVE.value)
    # Even with --overwrite: the export would replace the MetaNet it is made from.
    files.check_not_an_input(
        [_EXPORT_DIR.value] + ([_TFLITE.value] if _TFLITE.value else []),
        [("MetaNet --model", spec.path)] + [("--style image", path) for path in _STYLE.value]
        + [("calibration image", path) for path in calibration],
    )
    styles = [image_io.load_image(path) for path in _STYLE.value]
    style_size = checks.check_size(_STYLE_SIZE.value or spec.metadata.get("style_size") or metanet.DEFAULT_STYLE_SIZE,
                                   "--style_size", metanet.MIN_STYLE_SIZE, metanet.MAX_STYLE_SIZE)
    for path, style in zip(_STYLE.value, styles):  # before TensorFlow: a bounded resize, or one line
        metanet.resized_style_shape(style.shape, style_size, f"--style '{path}'")
    representative = None
    if _TFLITE.value and _QUANTIZE.value == "int8":
        if _REPRESENTATIVE.value:
            representative = [image_io.load_image(p, max_size=_PARITY_SIZE.value) for p in calibration]
        else:
            representative = _example_images(_PARITY_SIZE.value)
        if not representative:
            raise StyleError("--quantize=int8 needs --representative_images (typical content photos)")
        # Before the export directory is staged: a set that cannot calibrate would crash LiteRT later.
        representative = tflite.check_representative_images(representative, source=_REPRESENTATIVE.value)

    import_tensorflow()  # checks done: TensorFlow, with its start-up lines filtered
    style_name = _STYLE_NAME.value or "+".join(os.path.splitext(os.path.basename(p))[0] for p in _STYLE.value)
    staging, result = None, None
    with contextlib.ExitStack() as cleanup:
        # The SavedModel moves into place when the block ends; the .tflite after that.
        with saved_model.atomic_export_dir(_EXPORT_DIR.value, _OVERWRITE.value) as tmp:
            extract_style_model(
                spec.path, styles, tmp, weights, overwrite=True, style_name=style_name, style_size=_STYLE_SIZE.value,
                extra_metadata={"styles": [os.path.basename(p) for p in _STYLE.value]},
            )
            if _TFLITE.value:
                staging = cleanup.enter_context(tflite.staged_file(_TFLITE.value))
                tflite.convert_saved_model_to_tflite(
                    tmp, staging, quantize=_QUANTIZE.value, representative_images=representative
                )
                parity_images = _example_images(_PARITY_SIZE.value)[:1] or [styles[0]]
                result = tflite.parity_check(tmp, staging, parity_images)
                size_mb = os.path.getsize(staging) / 1e6
        if staging:
            files.publish_file(staging, _TFLITE.value, overwrite=_OVERWRITE.value)
    print(f"wrote {_EXPORT_DIR.value} (standalone fast-style model for {style_name})", file=sys.stderr)
    if result is not None:
        tflite.report_file(_TFLITE.value, size_mb, _QUANTIZE.value, result)
    return 0


def run():
    common.run(main)


if __name__ == "__main__":
    run()
