"""Runs a fast-style `.tflite` model with the LiteRT interpreter, without TensorFlow.

Only `ai_edge_litert` (pip install ai-edge-litert, the `tflite` extra) and
numpy are imported, so a one-image command starts fast.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

import numpy as np

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
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise StyleError(
                f"model '{self.name}' is a .tflite model, which needs LiteRT; pip install ai-edge-litert"
            ) from None
        with native_logs_filtered():
            try:
                self._interpreter = Interpreter(model_path=self.path, num_threads=num_threads or os.cpu_count())
            except (ValueError, RuntimeError, OSError) as e:
                raise StyleError(f"cannot load TFLite model '{self.name}': {_one_line(e)}") from None
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
                raise StyleError(f"TFLite model '{self.name}' failed on a {w}x{h} image: {_one_line(e)}") from None
        self._first_run = False
        return np.array(out, dtype=np.float32)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())[:300] or type(error).__name__
