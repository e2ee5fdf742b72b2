"""Runs a fast-style `.tflite` model with the LiteRT interpreter, without TensorFlow.

Only `ai_edge_litert` (pip install ai-edge-litert, the `tflite` extra) and
numpy are imported, so a one-image command starts fast.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from keras_style.checks import one_line
from keras_style.errors import StyleError
from keras_style.inference.stylizer import Stylizer
from keras_style.native_logs import native_logs_filtered

# The signature `convert_saved_model_to_tflite` converts by default.
FLOAT_SIGNATURE = "stylize_float"


class TFLiteStylizer(Stylizer):
    """A `Stylizer` over a `.tflite` model with one float32 image input.

    The model's input is resized to each image's size before it runs
    (`[1, None, None, 3]` models accept any size), and the interpreter uses
    one thread per CPU core. Uses the `stylize_float` signature if the model
    has it, else its only signature, else its first input and output.

    Args:
      path: the `.tflite` file.
      metadata: the model's `keras_style.json` contents, if any.
      name: how to name the model in messages (defaults to `path`).
      num_threads: interpreter threads; default `os.cpu_count()`.

    Raises:
      StyleError: ai-edge-litert is not installed, or the file is not a
        loadable TFLite model with one float32 (1, H, W, 3) image input.
    """

    backend = "tflite"

    def __init__(
        self,
        path: str | os.PathLike,
        metadata: dict | None = None,
        name: str | None = None,
        num_threads: int | None = None,
    ):
        super().__init__(name or os.fspath(path), metadata)
        self.path = os.fspath(path)
        self._interpreter = open_interpreter(self.path, self.name, num_threads)
        signatures = self._interpreter.get_signature_list()
        key = FLOAT_SIGNATURE if FLOAT_SIGNATURE in signatures else None
        if key is None and len(signatures) == 1:
            key = next(iter(signatures))
        if key is not None:
            self._runner = self._interpreter.get_signature_runner(key)
            inputs = self._runner.get_input_details()
            outputs = self._runner.get_output_details()
            if len(inputs) != 1 or len(outputs) != 1:
                raise StyleError(
                    f"TFLite model '{self.name}' signature '{key}' has {len(inputs)} inputs and "
                    f"{len(outputs)} outputs; a fast-style model has one image input and output"
                )
            (self._input_name, input_detail), = inputs.items()
            (self._output_name, _), = outputs.items()
        else:
            self._runner = None
            input_detail = self._interpreter.get_input_details()[0]
            self._input_index = input_detail["index"]
            self._output_index = self._interpreter.get_output_details()[0]["index"]
        shape = list(input_detail.get("shape_signature", input_detail["shape"]))
        if input_detail["dtype"] != np.float32 or len(shape) != 4 or shape[-1] != 3:
            raise StyleError(
                f"TFLite model '{self.name}' takes {np.dtype(input_detail['dtype']).name} {shape} input; "
                "expected float32 images [1, H, W, 3] (convert the stylize_float signature)"
            )
        self.signature_key = key
        self._first_run = True

    def _stylize_batch(self, images: np.ndarray, style: Any) -> np.ndarray:
        del style
        # The first run creates the XNNPACK delegate, which logs a line.
        with native_logs_filtered() if self._first_run else contextlib.nullcontext():
            try:
                if self._runner is not None:
                    # The runner resizes its input to `images.shape` and reallocates.
                    out = self._runner(**{self._input_name: images})[self._output_name]
                else:
                    self._interpreter.resize_tensor_input(self._input_index, list(images.shape), strict=False)
                    self._interpreter.allocate_tensors()
                    self._interpreter.set_tensor(self._input_index, images)
                    self._interpreter.invoke()
                    out = self._interpreter.get_tensor(self._output_index)
            except (ValueError, RuntimeError) as e:
                h, w = images.shape[1:3]
                raise StyleError(f"TFLite model '{self.name}' failed on a {w}x{h} image: {one_line(e)}") from None
        self._first_run = False
        return np.asarray(out, dtype=np.float32)  # already a copy of the output tensor


def open_interpreter(path: str, model_name: str, num_threads: int | None = None, shown_as: str | None = None):
    """Loads the `.tflite` file `path` into a LiteRT `Interpreter`.

    Args:
      path: the file.
      model_name: the model, as the missing-LiteRT message names it.
      num_threads: interpreter threads; default `os.cpu_count()`.
      shown_as: the file, as a load error names it (default `model_name`).

    Raises:
      StyleError: ai-edge-litert is not installed, or the file does not load.
    """
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise StyleError(
            f"model '{model_name}' is a .tflite model, which needs LiteRT; pip install ai-edge-litert"
        ) from None
    with native_logs_filtered():
        try:
            return Interpreter(model_path=path, num_threads=num_threads or os.cpu_count())
        except (ValueError, RuntimeError, OSError) as e:
            raise StyleError(f"cannot load TFLite model '{shown_as or model_name}': {one_line(e)}") from None


# Two-file models (AdaIN, MetaNet): PREFIX_<role>_<q>.tflite, <q> per quantization mode.


def pair_paths(output, quantize: str, suffixes: dict, roles: Sequence[str], default_prefix: str, what: str):
    """{role: path} of a pair for `output`: a directory (existing, or ending in a separator;
    the files get `default_prefix`) or a file name prefix (a trailing `.tflite` is dropped).

    Raises:
      StyleError: `quantize` not in `suffixes` (naming the pair as `what`), or no `output`.
    """
    if quantize not in suffixes:
        raise StyleError(f"unknown quantization '{quantize}' for {what}; use one of {', '.join(suffixes)}")
    output = os.fspath(output)
    if not output:
        raise StyleError("no TFLite output given; pass a directory or a file name prefix")
    if os.path.isdir(output) or output.endswith(("/", os.sep)):
        prefix = os.path.join(output, default_prefix)
    else:
        prefix = output[: -len(".tflite")] if output.lower().endswith(".tflite") else output
    return {role: f"{prefix}_{role}_{suffixes[quantize]}.tflite" for role in roles}


def preferred_pair(directory, first_role: str, is_pair_file, preferred_suffix: str) -> str | None:
    """The `first_role` file of the pair in `directory` whose name ends in `_<preferred_suffix>`
    (else of any pair whose partner exists, by `is_pair_file`), or None."""
    candidates = sorted(p for p in Path(directory).glob(f"*_{first_role}_*.tflite") if is_pair_file(p))
    preferred = [p for p in candidates if p.name.endswith(f"_{preferred_suffix}.tflite")]
    chosen = (preferred or candidates or [None])[0]
    return None if chosen is None else str(chosen)


def pair_spec_path(spec, preferred_pair_file) -> str:
    """The file of a pair to load for a resolved `ModelSpec`: the one named, when a file was
    named; for a shipped model directory or name, `preferred_pair_file(directory)` (the
    float16 pair) if it finds one."""
    if Path(spec.source).expanduser().is_file():
        return spec.path
    return preferred_pair_file(Path(spec.path).parent) or spec.path


def pair_file_role(path, roles: Sequence[str]) -> tuple[str, str] | None:
    """(role, partner path) of a `.tflite` file named like one of a pair of `roles` (two),
    else None. The role is the one whose `_<role>` occurs last in the file name; the
    partner has the other one there."""
    directory, name = os.path.split(os.fspath(path))
    if not name.lower().endswith(".tflite"):
        return None
    positions = {role: name.rfind(f"_{role}") for role in roles}
    role = max(roles, key=positions.get)
    if positions[role] < 0:
        return None
    other = roles[1] if role == roles[0] else roles[0]
    i = positions[role]
    return role, os.path.join(directory, name[:i] + f"_{other}" + name[i + len(role) + 1 :])
