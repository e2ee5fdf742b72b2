r"""style_export: convert an exported SavedModel to a .tflite file and check it, or write
a copy of it that computes in bfloat16 (TF Serving on CPUs with bfloat16 units) or
stores its weights in float16 (half the bytes on disk).

  style_export --saved_model=exports/starry_night/saved_model \
      --tflite=exports/starry_night/starry_night_fp16.tflite --quantize=float16
  style_export --saved_model=saved_models/adain/saved_model --precision=bfloat16 \
      --export_dir=exports/adain_bf16
  style_export --saved_model=exports/metanet/saved_model --weights_dtype=float16 \
      --export_dir=saved_models/metanet/saved_model
  style_export --saved_model=exports/adain/saved_model --default_alpha=0.6 \
      --export_dir=exports/adain_alpha06/saved_model

After converting, the TFLite model and the SavedModel stylize the same image
(--parity_image, else an example image from the repository, else a synthetic
one) and the largest absolute difference (0..255 scale) is printed. With
--max_abs_diff the command fails, writing nothing, when the difference is larger.
"""

from __future__ import annotations

import os
import sys

from absl import flags

from keras_style import checks, files, precision, registry
from keras_style.cli import common
from keras_style.errors import StyleError
from keras_style.export.serving_precision import export_in_precision
from keras_style.inference.model_spec import read_metadata
from keras_style.inference.stylizer import DEFAULT_ALPHA_KEY
from keras_style.native_logs import import_tensorflow

_SAVED_MODEL = flags.DEFINE_string("saved_model", None, "SavedModel directory written by keras_style.export.")
_TFLITE = flags.DEFINE_string(
    "tflite", None, "Output .tflite file. AdaIN: a directory or file name prefix; writes the pair "
    "PREFIX_style_encode_Q.tflite + PREFIX_stylize_Q.tflite (Q: fp32, fp16, dynamic). MetaNet: likewise, "
    "PREFIX_style_to_weights_Q.tflite + PREFIX_stylize_with_weights_Q.tflite.")
_QUANTIZE = flags.DEFINE_enum(
    "quantize", "float16", ["none", "float16", "dynamic", "int8"],
    "none: float32. float16: half-size weights (phones' GPUs). dynamic: int8 weights, float activations. "
    "int8: full-integer, calibrated on --representative_images.",
)
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Replace an existing .tflite file.")
_PARITY_IMAGE = flags.DEFINE_string(
    "parity_image", None, "Image for the parity check; default: an example image from the repository, "
    "else a synthetic one.")
_PARITY_SIZE = flags.DEFINE_integer("parity_size", 256, "Long side the parity image is resized to.")
_REPRESENTATIVE = flags.DEFINE_string(
    "representative_images", None, "int8 only: calibration images (file, directory, glob or a,b); default: the "
    "repository's example content images, else synthetic ones.")
_MAX_DIFF = flags.DEFINE_float(
    "max_abs_diff", None, "Fail (exit status 2, nothing written) if the parity max abs difference exceeds this.")
_PRECISION = flags.DEFINE_string(
    "precision", "float32", "float32 (convert to --tflite), or mixed_bfloat16 / bfloat16 (CPUs with bfloat16 "
    "units) or mixed_float16 / float16 (GPUs): write a SavedModel with the same signatures and dtypes to "
    "--export_dir whose graph computes in that precision. TFLite has no bfloat16 CPU kernels.")
_WEIGHTS_DTYPE = flags.DEFINE_enum(
    "weights_dtype", None, ["float32", "float16"],
    "Write a SavedModel copy to --export_dir that stores its weights in this dtype (float16: half the bytes, "
    "read back as float32; default: the original's). Combines with --precision.")
_DEFAULT_ALPHA = flags.DEFINE_float(
    "default_alpha", None, "Arbitrary-style models: write a SavedModel copy to --export_dir that runs at this "
    "style strength (0..1) when style_transfer, style_batch or a Stylizer is given no alpha (recorded in its "
    "keras_style.json; TF Serving clients still pass alpha). Combines with --precision and --weights_dtype.")
_MAX_PIXELS = flags.DEFINE_integer(
    "max_image_pixels", None, "Write a SavedModel copy to --export_dir whose stylize_bytes signature refuses "
    "images of more pixels than this (decompression bombs; default: the original's limit, else the commands' "
    "89478485). Combines with --precision, --weights_dtype and --default_alpha.")
_EXPORT_DIR = flags.DEFINE_string(
    "export_dir", None, "With --precision, --weights_dtype, --default_alpha or --max_image_pixels: the new "
    "SavedModel directory.")

flags.mark_flags_as_required(["saved_model"])

def main(argv):
    del argv
    policy = precision.canonical(_PRECISION.value)
    if (policy != precision.FLOAT32 or _WEIGHTS_DTYPE.value or _DEFAULT_ALPHA.value is not None
            or _MAX_PIXELS.value is not None):
        if policy == precision.AUTO:
            policy = common.PrecisionLine(policy).announce()
        asked = (f"--precision={_PRECISION.value}" if policy != precision.FLOAT32
                 else "--weights_dtype" if _WEIGHTS_DTYPE.value
                 else "--default_alpha" if _DEFAULT_ALPHA.value is not None else "--max_image_pixels")
        if _TFLITE.value or not _EXPORT_DIR.value:
            why = " (TFLite has no bfloat16 kernels; use --quantize=float16 for phones)" if asked.startswith(
                "--precision") else ""
            instead = ", not --tflite" if _TFLITE.value else ""
            raise StyleError(f"{asked} writes a SavedModel: pass --export_dir{instead}{why}")
        # The library checks it too (export_in_precision); here it fails before TensorFlow loads.
        files.check_not_an_input([_EXPORT_DIR.value], [("SavedModel it copies", _SAVED_MODEL.value)])
        import_tensorflow()  # with its start-up lines filtered
        path = export_in_precision(_SAVED_MODEL.value, _EXPORT_DIR.value, policy, overwrite=_OVERWRITE.value,
                                   weights_dtype=_WEIGHTS_DTYPE.value, default_alpha=_DEFAULT_ALPHA.value,
                                   max_image_pixels=_MAX_PIXELS.value)
        written = read_metadata(path)
        alpha = f", default alpha {written[DEFAULT_ALPHA_KEY]:g}" if DEFAULT_ALPHA_KEY in written else ""
        print(f"wrote {path} (computes in {policy}, weights stored in {written.get('weights_dtype', 'float32')}"
              f"{alpha})", file=sys.stderr)
        return 0
    if not _TFLITE.value:
        raise StyleError("pass --tflite (a .tflite file to write), or --export_dir with --precision or "
                         "--weights_dtype")
    checks.check_size(_PARITY_SIZE.value, "--parity_size", 8, checks.MAX_WORK_SIDE)
    # A SavedModel without keras_style.json predates the kinds: a fast-style model.
    kind_name = read_metadata(_SAVED_MODEL.value).get("kind") if os.path.isdir(_SAVED_MODEL.value) else None
    exporter = registry.get(kind_name or "fast_style", _SAVED_MODEL.value).part("exporter")()
    result = exporter.export_tflite(
        _SAVED_MODEL.value, _TFLITE.value, _QUANTIZE.value, overwrite=_OVERWRITE.value,
        parity_image=_PARITY_IMAGE.value, parity_size=_PARITY_SIZE.value, max_abs_diff=_MAX_DIFF.value,
        representative_images=_REPRESENTATIVE.value,
    )
    result.report()
    return 0


def run():
    common.run(main)


if __name__ == "__main__":
    run()
