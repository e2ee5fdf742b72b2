"""Running an exported fast-style (Johnson) model: a SavedModel (TensorFlow) or a
`.tflite` file (LiteRT, without TensorFlow).

Both run the `stylize_float` signature that `keras_style.export.fast_style` writes:
`images` float32 (N, H, W, 3) in [0, 255] -> `stylized`, the same shape. The style
is fixed (trained in), so neither takes style images nor an alpha. This module
imports no TensorFlow until a SavedModel is loaded.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

import numpy as np

from keras_style.checks import one_line
from keras_style.errors import StyleError
from keras_style.inference.saved_model import load_saved_model
from keras_style.inference.stylizer import Stylizer
from keras_style.inference.tflite import open_interpreter
from keras_style.native_logs import native_logs_filtered

# The float signature, which `convert_saved_model_to_tflite` converts by default.
FLOAT_SIGNATURE = "stylize_float"
# The uint8 signature every export also has (TF Serving's default).
UINT8_SIGNATURE = "serving_default"


class FastStyleSavedModelStylizer(Stylizer):
    """A `Stylizer` over a SavedModel's `stylize_float` signature.

    The signature takes `images` float32 (N, H, W, 3) in [0, 255] and returns
    `stylized`, the same shape. Loading imports TensorFlow.

    Args:
      path: the SavedModel directory.
      metadata: the model's `keras_style.json` contents, if any.
      name: how to name the model in messages (defaults to `path`).
      signature: `FLOAT_SIGNATURE` (the default) or `UINT8_SIGNATURE` (images are
        rounded to uint8 on the way in and out, as a TF Serving client sends them).

    Raises:
      StyleError: TensorFlow is not installed, the directory is not a
        loadable SavedModel, or it lacks the signature.
    """

    backend = "saved_model"

    def __init__(self, path: str | os.PathLike, metadata: dict | None = None, name: str | None = None,
                 signature: str = FLOAT_SIGNATURE):
        super().__init__(name or os.fspath(path), metadata)
        self.path = os.fspath(path)
        if signature not in (FLOAT_SIGNATURE, UINT8_SIGNATURE):
            raise StyleError(f"unknown signature '{signature}'; use {FLOAT_SIGNATURE} or {UINT8_SIGNATURE}")
        # Held: the signature reads the loaded object's variables.
        tf, self._loaded = load_saved_model(self.path, self.name, "the model's .tflite file")
        signatures = self._loaded.signatures
        if signature not in signatures:
            raise StyleError(
                f"SavedModel '{self.name}' has no '{signature}' signature (it has: "
                f"{', '.join(sorted(signatures)) or 'none'}); export it with keras_style.export"
            )
        self._signature = signatures[signature]
        self._as_uint8 = signature == UINT8_SIGNATURE
        self._tf = tf

    def _stylize_batch(self, images: np.ndarray, style: Any) -> np.ndarray:
        del style
        if self._as_uint8:
            images = np.rint(np.clip(images, 0.0, 255.0)).astype(np.uint8)
        try:
            outputs = self._signature(images=self._tf.constant(images))
        except self._tf.errors.ResourceExhaustedError:
            raise StyleError(
                f"out of memory stylizing a {images.shape[2]}x{images.shape[1]} image; use --tile or --max_size"
            ) from None
        return outputs["stylized"].numpy()


class FastStyleTFLiteStylizer(Stylizer):
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
