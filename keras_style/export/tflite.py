"""Converting an exported SavedModel to TFLite, and checking the result against it.

Only tensor signatures convert (`stylize_float`); the bytes signature needs
`tf.map_fn` over string tensors, which TFLite builtins lack. Conversion
always starts from the SavedModel on disk: converting a live Keras 3 model
with `from_concrete_functions` silently writes a model without weights.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import tempfile
import warnings
from collections.abc import Iterable, Sequence

import numpy as np

from keras_style import files, image_io
from keras_style.checks import one_line
from keras_style.errors import StyleError
from keras_style.export.saved_model import quiet_tf_logging
from keras_style.inference.model_spec import SAVED_MODEL_FILENAME, read_metadata
from keras_style.inference.fast_style import FastStyleSavedModelStylizer as SavedModelStylizer
from keras_style.inference.fast_style import FastStyleTFLiteStylizer as TFLiteStylizer
from keras_style.inference.saved_model import load_or_raise
from keras_style.native_logs import captured_stderr, native_logs_filtered

QUANTIZE_MODES = ("none", "float16", "dynamic", "int8")

_DEFAULT_SIGNATURES = ("stylize_float",)
# Model classes (the `model_class` of `keras_style.json`) whose graphs pad every image to
# a multiple of 4 first (`PadToMultiple`), so each full-resolution tensor has an even
# height and width: their large convs can run in 2x2 blocks (`tflite_rewrite`).
EVEN_SIZED_MODEL_CLASSES = ("TransformNet",)
# Sizes the converted model is test-run at (H, W): odd and even, two aspect ratios.
_CHECK_SIZES = ((20, 28), (35, 13))


def convert_saved_model_to_tflite(
    saved_model_dir: str | os.PathLike,
    tflite_path: str | os.PathLike,
    quantize: str = "none",
    signature_keys: Sequence[str] = _DEFAULT_SIGNATURES,
    representative_images: Iterable[np.ndarray] | None = None,
    overwrite: bool = False,
    even_sizes: bool | None = None,
) -> str:
    """Converts SavedModel signatures to a `.tflite` file of TFLite builtin ops only.

    Each converted signature keeps its name and tensor names, with the batch
    dimension fixed to 1 and free height and width (`[1, None, None, 3]`):
    resize the input (`Interpreter.resize_tensor_input`, or a signature
    runner) to each image's size. After converting, the model is run at two
    sizes; a model that does not run is not written.

    Args:
      saved_model_dir: a SavedModel from `keras_style.export`.
      tflite_path: output `.tflite` file; written atomically.
      quantize:
        "none": float32 weights and compute.
        "float16": float16 weights (half the size), float32 compute on CPU;
          what phones' GPU delegates run natively.
        "dynamic": int8 weights, activations quantized on the fly (dynamic
          range); about a quarter of the size.
        "int8": full-integer quantization (int8 weights and activations,
          calibrated on `representative_images`), float32 input and output.
          Fails for models whose conv filters are computed at run time
          (MetaNet); raises StyleError saying why.
      signature_keys: tensor signatures to convert.
      representative_images: float32 (H, W, 3) images in [0, 255], typical
        content photos; required for "int8" (a few dozen at the size you
        will run is typical; sizes may differ).
      overwrite: replace an existing `tflite_path`.
      even_sizes: whether the inputs of the model's large (7x7 and up) stride-1 convs
        always have an even height and width. Then those float convs are rewritten to run on
        2x2 pixel blocks (`keras_style.export.tflite_rewrite`: the same sums up to float
        rounding; XNNPACK's per-conv indirection buffers shrink 13× for a 9x9, 1.4 GB less
        memory for a 1024² TransformNet). None: True for the model classes in
        `EVEN_SIZED_MODEL_CLASSES` (from the SavedModel's `keras_style.json`).

    Returns:
      `tflite_path` as a str.

    Raises:
      StyleError: bad arguments (e.g. representative images that cannot calibrate,
        `check_representative_images`), unreadable SavedModel, conversion failure
        (e.g. ops that need TensorFlow's Flex delegate), or a converted model
        that fails to run.
    """
    with native_logs_filtered():  # the first TensorFlow import prints native start-up lines
        import tensorflow as tf

    if quantize not in QUANTIZE_MODES:
        raise StyleError(f"unknown quantization '{quantize}'; use one of {', '.join(QUANTIZE_MODES)}")
    saved_model_dir = check_saved_model(saved_model_dir)
    tflite_path = check_tflite_path(tflite_path, overwrite)
    keys = list(signature_keys)
    if not keys:
        raise StyleError("no signature to convert; pass signature_keys such as ('stylize_float',)")
    representative = None
    if quantize == "int8":
        representative = check_representative_images(representative_images or [])

    with native_logs_filtered():
        loaded = load_saved_model(saved_model_dir)
        for key in keys:
            _check_signature(loaded, key, saved_model_dir)
        with tempfile.TemporaryDirectory(prefix="keras_style_tflite_") as tmp:
            batch_one_dir = _save_batch_one(tf, loaded, keys, os.path.join(tmp, "saved_model"))
            converter = tf.lite.TFLiteConverter.from_saved_model(batch_one_dir, signature_keys=keys)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
            if quantize in ("float16", "dynamic", "int8"):
                converter.optimizations = [tf.lite.Optimize.DEFAULT]
            if quantize == "float16":
                converter.target_spec.supported_types = [tf.float16]
            if quantize == "int8":
                # Builtin int8 kernels only: an op that cannot be quantized
                # fails the conversion instead of silently staying float.
                converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
                converter.representative_dataset = _representative_dataset(loaded, keys, representative)
            try:
                with _captured_native_stderr(), warnings.catch_warnings():
                    # int8 calibration runs TF's own (deprecated) tf.lite.Interpreter.
                    warnings.filterwarnings("ignore", message=r"(?s).*tf\.lite\.Interpreter is deprecated")
                    model = converter.convert()
            except Exception as e:  # the converter raises many types, all with MLIR text
                raise StyleError(f"TFLite conversion ({quantize}) failed: {_conversion_reason(e)}") from None

    if even_sizes is None:
        even_sizes = read_metadata(saved_model_dir).get("model_class") in EVEN_SIZED_MODEL_CLASSES
    if even_sizes:
        from keras_style.export.tflite_rewrite import space_to_depth_large_convs

        model, _ = space_to_depth_large_convs(model)
    _check_runs(model, keys, quantize)
    files.write_atomically(model, tflite_path, overwrite)
    return tflite_path


def parity_check(
    saved_model_dir: str | os.PathLike,
    tflite_path: str | os.PathLike,
    images: Iterable[np.ndarray],
    signature_key: str = "stylize_float",
) -> dict:
    """Compares a `.tflite` model with the SavedModel it came from.

    Runs each float32 (H, W, 3) image (in [0, 255]) through the SavedModel's
    `signature_key` signature and through the TFLite model (the same
    signature if it has it, else its only one), and measures the absolute
    difference of the outputs on the 0..255 scale.

    Returns:
      {"max_abs_diff": float, "mean_abs_diff": float, "per_image_max": [float],
       "num_images": int, "signature": str}

    Raises:
      StyleError: either model cannot be loaded or run, or no images given.
    """
    images = [check_rgb_image(image) for image in images]
    if not images:
        raise StyleError("parity_check needs at least one image")
    if signature_key != "stylize_float":
        raise StyleError(f"parity_check compares the float signature 'stylize_float', not '{signature_key}'")
    reference = SavedModelStylizer(check_saved_model(saved_model_dir))
    candidate = TFLiteStylizer(os.fspath(tflite_path))
    per_image_max, total, count = [], 0.0, 0
    for image in images:
        diff = np.abs(reference.stylize(image).astype(np.float64) - candidate.stylize(image))
        per_image_max.append(float(diff.max()))
        total += float(diff.sum())
        count += diff.size
    return {
        "max_abs_diff": max(per_image_max),
        "mean_abs_diff": total / count,
        "per_image_max": per_image_max,
        "num_images": len(images),
        "signature": signature_key,
    }


def check_tflite_path(path: str | os.PathLike, overwrite: bool = False) -> str:
    """Checks that a `.tflite` file can be written at `path`; returns it as a str.

    Raises:
      StyleError: wrong extension, a directory, a missing or unwritable
        parent directory, or an existing file without `overwrite`.
    """
    path = os.fspath(path)
    if not path.lower().endswith(".tflite"):
        raise StyleError(f"cannot write '{path}': a TFLite model file name must end in .tflite")
    if os.path.isdir(path):
        raise StyleError(f"cannot write '{path}': it is a directory; pass a file path ending in .tflite")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise StyleError(f"cannot write '{path}': directory '{directory}' does not exist; create it first")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise StyleError(f"cannot write '{path}': directory '{directory}' is not writable")
    if not overwrite and os.path.lexists(path):
        raise StyleError(f"output '{path}' exists; pass --overwrite to replace it")
    return path


def check_saved_model(saved_model_dir) -> str:
    """`saved_model_dir` as a str; StyleError unless it holds a saved_model.pb."""
    path = os.fspath(saved_model_dir)
    if not os.path.isfile(os.path.join(path, SAVED_MODEL_FILENAME)):
        raise StyleError(f"'{path}' is not a SavedModel directory (no {SAVED_MODEL_FILENAME}); export one first")
    return path


def load_saved_model(saved_model_dir: str):
    """`tf.saved_model.load(saved_model_dir)`; StyleError on failure (imports TensorFlow)."""
    import tensorflow as tf

    return load_or_raise(tf, saved_model_dir)


def _check_signature(loaded, key: str, saved_model_dir: str) -> None:
    import tensorflow as tf

    if key not in loaded.signatures:
        raise StyleError(
            f"SavedModel '{saved_model_dir}' has no signature '{key}' (it has: {', '.join(sorted(loaded.signatures))})"
        )
    _, specs = loaded.signatures[key].structured_input_signature
    if any(spec.dtype == tf.string for spec in specs.values()):
        raise StyleError(
            f"signature '{key}' takes strings, which TFLite builtins cannot decode; convert a tensor "
            "signature such as 'stylize_float'"
        )


def _save_batch_one(tf, loaded, keys: list[str], directory: str) -> str:
    """Re-saves the signatures with batch dimension 1 (phones run one image at a time).

    The wrappers call the loaded SavedModel's own functions, so the weights
    come from the SavedModel on disk.
    """
    module = tf.Module()
    module.loaded = loaded  # tracked: its variables are saved again
    signatures = {}
    for key in keys:
        signature = loaded.signatures[key]
        _, specs = signature.structured_input_signature
        names = sorted(specs)
        input_signature = [
            tf.TensorSpec(
                [1, *specs[n].shape[1:]] if specs[n].shape.rank and specs[n].shape[0] is None else specs[n].shape,
                specs[n].dtype,
                name=n,
            )
            for n in names
        ]

        call = _positional(signature, names)
        signatures[key] = tf.function(call, input_signature=input_signature).get_concrete_function()
    with quiet_tf_logging():
        tf.saved_model.save(module, directory, signatures=signatures)
    return directory


def _positional(signature, names):
    """`signature` (which takes keyword tensors) as a function of positional ones."""

    def call(*args):
        return signature(**dict(zip(names, args)))

    return call


def _representative_dataset(loaded, keys: list[str], images: list[np.ndarray]):
    _, specs = loaded.signatures[keys[0]].structured_input_signature
    if len(keys) != 1 or list(specs) != ["images"]:
        raise StyleError("int8 calibration supports one signature with a single 'images' input")

    def generate():
        for image in images:
            yield {"images": image[None]}

    return generate


def _check_runs(model: bytes, keys: list[str], quantize: str) -> None:
    """Runs the converted model at two sizes; raises StyleError if it cannot."""
    from ai_edge_litert.interpreter import Interpreter

    with native_logs_filtered():
        try:
            interpreter = Interpreter(model_content=model)
        except (ValueError, RuntimeError) as e:
            raise StyleError(f"the converted {quantize} TFLite model does not load: {one_line(e)}") from None
    flex = sorted({op["op_name"] for op in interpreter._get_ops_details() if op["op_name"].startswith("Flex")})
    if flex:
        raise StyleError(f"the converted model needs TensorFlow (Flex) ops {', '.join(flex)}")
    rng = np.random.default_rng(0)
    for key in keys:
        runner = interpreter.get_signature_runner(key)
        inputs = runner.get_input_details()
        for height, width in _CHECK_SIZES:
            feed = {}
            for name, detail in inputs.items():
                shape = list(detail["shape_signature"])
                if len(shape) == 4:
                    shape = [1, height, width, shape[3]]
                shape = [1 if s < 0 else s for s in shape]
                feed[name] = rng.uniform(0.0, 255.0, size=shape).astype(detail["dtype"])
            try:
                with native_logs_filtered():
                    outputs = runner(**feed)
            except (ValueError, RuntimeError) as e:
                hint = ""
                if quantize == "int8" and "zero_point" in str(e):
                    hint = (
                        "; full-integer int8 needs constant conv filters, and this model computes some at run "
                        "time (e.g. MetaNet): use --quantize=float16 or dynamic"
                    )
                raise StyleError(
                    f"the converted {quantize} TFLite model fails at run time ({width}x{height} input): "
                    f"{one_line(e)[:200]}{hint}"
                ) from None
            for name, value in outputs.items():
                # Images keep the input's size; other outputs (e.g. style statistics) need only be finite.
                wrong_size = value.ndim == 4 and value.shape[1:3] != (height, width)
                if wrong_size or not np.all(np.isfinite(value)):
                    raise StyleError(
                        f"the converted {quantize} TFLite model returned a bad '{name}' for a {width}x{height} "
                        f"input (shape {value.shape}, finite: {bool(np.all(np.isfinite(value)))})"
                    )


def staging_path(path: str | os.PathLike) -> str:
    """A fresh hidden `.tflite` name beside `path`, to convert to before `files.publish_file`."""
    directory, base = os.path.split(os.path.abspath(path))
    return os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tflite")


@contextlib.contextmanager
def staged_file(path: str | os.PathLike):
    """Yields `staging_path(path)`; removes that file on exit (it is gone once published)."""
    staging = staging_path(path)
    try:
        yield staging
    finally:
        with contextlib.suppress(OSError):
            os.unlink(staging)


def report_file(path: str, size_mb: float, quantize: str, result: dict, image_name: str | None = None) -> None:
    """Prints the "wrote" line (stderr) and the `parity_check` line (stdout) of a one-file export."""
    report_written({"model": path}, {"model": size_mb}, quantize)
    print(parity_line(quantize, result["max_abs_diff"], result["mean_abs_diff"], image_name))


def report_written(paths: dict[str, str], sizes: dict[str, float], quantize: str, roles: bool = False) -> None:
    """Prints a "wrote PATH (SIZE MB, QUANTIZE[, ROLE])" line per file to stderr."""
    import sys

    for role, path in paths.items():
        role_text = f", {role}" if roles else ""
        print(f"wrote {path} ({sizes[role]:.2f} MB, {quantize}{role_text})", file=sys.stderr)


def parity_line(quantize: str, max_abs_diff: float, mean_abs_diff: float, inputs: str | None = None,
                scope: str = "", details: str = "") -> str:
    """The one-line parity report every export prints: "parity (Q) vs SavedModel on INPUTS:
    [SCOPE ]max abs diff X, mean abs diff Y (0..255 scale)[; DETAILS]"."""
    on = f" on {inputs}" if inputs else ""
    more = f"; {details}" if details else ""
    return (f"parity ({quantize}) vs SavedModel{on}: {scope}max abs diff {max_abs_diff:.4g}, "
            f"mean abs diff {mean_abs_diff:.4g} (0..255 scale){more}")


def check_parity_limit(max_diff: float, max_abs_diff: float | None, quantize: str) -> None:
    """Raises StyleError if `max_diff` exceeds `max_abs_diff` (None: no limit)."""
    if max_abs_diff is not None and max_diff > max_abs_diff:
        raise StyleError(
            f"parity check failed for --quantize={quantize}: max abs diff {max_diff:.4g} > "
            f"--max_abs_diff={max_abs_diff:g}; nothing written"
        )


def _example_images(examples: str) -> list:
    """The repository's examples/<examples>/*.jpg (none in an installed wheel)."""
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "examples" / examples
    return sorted(folder.glob("*.jpg")) if folder.is_dir() else []


def _synthetic_image(size: int, seed: int) -> np.ndarray:
    """Smooth colour gradients plus noise and edges: exercises the whole value range."""
    rng = np.random.default_rng(seed)
    h, w = max(16, size * 3 // 4), max(16, size)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    image = np.stack([255 * x / w, 255 * y / h, 127.5 + 127.5 * np.sin(x / (5 + seed) + y / 11)], axis=-1)
    image[h // 3 : h // 2, w // 4 : w // 2] = 255.0
    return np.clip(image + rng.normal(0, 12, image.shape), 0, 255).astype(np.float32)


def parity_input(path: str | None, examples: str, size: int, seed: int):
    """(image, name): `path` at long side `size`, else the repository's first
    examples/<examples> image, else a synthetic one."""
    if path:
        return image_io.load_image(path, max_size=size), path
    found = _example_images(examples)
    if found:
        return image_io.load_image(found[0], max_size=size), found[0].name
    return _synthetic_image(size, seed), f"synthetic {size}px image"


def representative_inputs(spec: str | None, size: int) -> list[np.ndarray]:
    """int8 calibration images at long side `size`: `spec` (file, directory, glob or a,b),
    else the repository's example content photos, else eight synthetic images."""
    paths = image_io.list_images(spec) if spec else _example_images("content")
    if paths:
        images = [image_io.load_image(p, max_size=size) for p in paths]
        return check_representative_images(images, source=spec)
    return [_synthetic_image(size, seed) for seed in range(8)]


# Images at most this many pixels high and wide cannot calibrate int8 (see below).
_TINY_CALIBRATION_SIDE = 2


def check_representative_images(images: Iterable[np.ndarray], source: str | None = None) -> list[np.ndarray]:
    """`images` as float32 (H, W, 3) arrays, if they can calibrate full-integer int8.

    Raises:
      StyleError: no images, or every one is a single plain colour or at most 2x2 pixels
        (`source`, e.g. the flag value, names them in the message).
    """
    images = [check_rgb_image(image) for image in images]
    if not images:
        raise StyleError("int8 quantization needs representative images (typical content photos)")
    # Measured (TF 2.21 converter, ai-edge-litert 2.3, TransformNet): when EVERY calibration image
    # is one plain colour (white, black; grey alone happened to pass, grey with white did
    # not) or 2x2 pixels, the instance norms' variances calibrate to a range of ~0, and the
    # int8 model then aborts the process (SIGABRT, no message) when LiteRT first runs it.
    # One ordinary image among them is enough, so only an all-degenerate set is refused.
    # (`representative_inputs` scales small files up to the parity size, so for the
    # commands only the plain-colour case remains.)
    def degenerate(image):
        height, width = image.shape[:2]
        tiny = height <= _TINY_CALIBRATION_SIDE and width <= _TINY_CALIBRATION_SIDE
        return tiny or bool(np.all(image == image[:1, :1]))

    if all(degenerate(image) for image in images):
        named = f" '{source}'" if source else ""
        raise StyleError(
            f"representative images{named} cannot calibrate int8: each is one plain colour or at most "
            f"{_TINY_CALIBRATION_SIDE}x{_TINY_CALIBRATION_SIDE} pixels; use typical content photos"
        )
    return images


@contextlib.contextmanager
def _captured_native_stderr():
    """Hides what the converter prints on fd 2 (pages of MLIR on failure);
    the exception it raises carries the same text."""
    with captured_stderr():
        yield


def _conversion_reason(error: BaseException) -> str:
    """A one-line reason from a converter exception's (very long) message."""
    text = str(error)
    select = re.search(r"TF Select ops: ([^\n]+)", text)
    if select:
        return f"needs TensorFlow ops that TFLite builtins lack (Flex: {select.group(1).strip()})"
    for pattern in (r"error: ([^\n]+)", r"([^\n]*(?:not supported|Quantization|quantiz)[^\n]*)"):
        match = re.search(pattern, text)
        if match:
            return one_line(match.group(1))[:300]
    return one_line(text)[:300]


def check_rgb_image(image) -> np.ndarray:
    """`image` as a float32 (H, W, 3) array (a representative or parity image)."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise StyleError(f"expected (H, W, 3) RGB images, got shape {image.shape}")
    return image


