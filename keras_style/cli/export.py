r"""style_export: convert an exported SavedModel to a .tflite file and check it, or write
a copy of it that computes in bfloat16 (TF Serving on CPUs with bfloat16 units).

  style_export --saved_model=exports/starry_night/saved_model \
      --tflite=exports/starry_night/starry_night_fp16.tflite --quantize=float16
  style_export --saved_model=saved_models/adain/saved_model --precision=bfloat16 \
      --export_dir=exports/adain_bf16

After converting, the TFLite model and the SavedModel stylize the same image
(--parity_image, else an example image from the repository, else a synthetic
one) and the largest absolute difference (0..255 scale) is printed. With
--max_abs_diff the command fails, writing nothing, when the difference is larger.
"""

from __future__ import annotations

import glob
import os
import sys

from absl import flags

from keras_style import files, image_io, precision, registry
from keras_style.cli import common
from keras_style.errors import StyleError
from keras_style.export import tflite
from keras_style.export.serving_precision import export_in_precision
from keras_style.inference.model_spec import read_metadata

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
_EXPORT_DIR = flags.DEFINE_string("export_dir", None, "With --precision: the new SavedModel directory.")

flags.mark_flags_as_required(["saved_model"])

# The repository's bundled example photos (absent from an installed wheel).
_EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                         "examples", "content")


def _example_images() -> list[str]:
    return sorted(glob.glob(os.path.join(_EXAMPLES, "*.jpg")))


def _synthetic_image(size: int, seed: int = 0):
    """Smooth colour gradients plus noise and edges: exercises the whole value range."""
    import numpy as np

    rng = np.random.default_rng(seed)
    h, w = max(8, size * 3 // 4), max(8, size)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    image = np.stack([255 * x / w, 255 * y / h, 127.5 + 127.5 * np.sin(x / 7 + y / 11)], axis=-1)
    image[h // 3 : h // 2, w // 4 : w // 2] = 255.0
    return np.clip(image + rng.normal(0, 12, image.shape), 0, 255).astype(np.float32)


def main(argv):
    del argv
    policy = precision.canonical(_PRECISION.value)
    if policy != precision.FLOAT32:
        if policy == precision.AUTO:
            policy = common.PrecisionLine(policy).announce()
        if _TFLITE.value or not _EXPORT_DIR.value:
            raise StyleError(f"--precision={_PRECISION.value} writes a SavedModel: pass --export_dir, not --tflite "
                             "(TFLite has no bfloat16 kernels; use --quantize=float16 for phones)")
        path = export_in_precision(_SAVED_MODEL.value, _EXPORT_DIR.value, policy, overwrite=_OVERWRITE.value)
        print(f"wrote {path} (computes in {policy})", file=sys.stderr)
        return 0
    if not _TFLITE.value:
        raise StyleError("pass --tflite (a .tflite file to write), or --precision and --export_dir")
    if _PARITY_SIZE.value < 8:
        raise StyleError(f"--parity_size must be at least 8, got {_PARITY_SIZE.value}")
    kind_name = read_metadata(_SAVED_MODEL.value).get("kind") if os.path.isdir(_SAVED_MODEL.value) else None
    kind = registry.get(kind_name, _SAVED_MODEL.value) if kind_name else None
    if kind is not None and kind.has("tflite_exporter"):
        # The kind's own TFLite export (AdaIN, MetaNet: a pair of files; --tflite is a directory or prefix).
        kind.part("tflite_exporter")(_SAVED_MODEL.value, _TFLITE.value, _QUANTIZE.value, overwrite=_OVERWRITE.value,
                                     parity_image=_PARITY_IMAGE.value, parity_size=_PARITY_SIZE.value,
                                     max_abs_diff=_MAX_DIFF.value)
        return 0
    # Cheap checks first: the conversion takes seconds.
    tflite.check_tflite_path(_TFLITE.value, overwrite=_OVERWRITE.value)
    if not os.path.isfile(os.path.join(_SAVED_MODEL.value, "saved_model.pb")):
        raise StyleError(f"'{_SAVED_MODEL.value}' is not a SavedModel directory (no saved_model.pb)")
    size = _PARITY_SIZE.value
    if _PARITY_IMAGE.value:
        parity_images, parity_name = [image_io.load_image(_PARITY_IMAGE.value, max_size=size)], _PARITY_IMAGE.value
    elif _example_images():
        path = _example_images()[0]
        parity_images, parity_name = [image_io.load_image(path, max_size=size)], os.path.basename(path)
    else:
        parity_images, parity_name = [_synthetic_image(size)], f"synthetic {size}px image"
    representative = None
    if _QUANTIZE.value == "int8":
        if _REPRESENTATIVE.value:
            paths = image_io.list_images(_REPRESENTATIVE.value)
            representative = [image_io.load_image(p, max_size=size) for p in paths]
        elif _example_images():
            representative = [image_io.load_image(p, max_size=size) for p in _example_images()]
        else:
            representative = [_synthetic_image(size, seed) for seed in range(8)]

    # Converted to a hidden file beside the output and moved into place only
    # once the parity check passed, so a failed check leaves nothing behind.
    with tflite.staged_file(_TFLITE.value) as staging:
        tflite.convert_saved_model_to_tflite(
            _SAVED_MODEL.value, staging, quantize=_QUANTIZE.value, representative_images=representative
        )
        result = tflite.parity_check(_SAVED_MODEL.value, staging, parity_images)
        tflite.check_parity_limit(result["max_abs_diff"], _MAX_DIFF.value, _QUANTIZE.value)
        size_mb = os.path.getsize(staging) / 1e6
        files.publish_file(staging, _TFLITE.value, overwrite=_OVERWRITE.value)
    tflite.report_file(_TFLITE.value, size_mb, _QUANTIZE.value, result, parity_name)
    return 0


def run():
    common.run(main)


if __name__ == "__main__":
    run()
