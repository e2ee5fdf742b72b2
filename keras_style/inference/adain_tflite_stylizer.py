"""Running an AdaIN `.tflite` pair with the LiteRT interpreter, without TensorFlow.

`keras_style.export.adain.convert_adain_to_tflite` writes two files:
`<prefix>_style_encode_<q>.tflite` (signature `style_encode`: "style" float32
[1, H, W, 3] -> "style_statistics" [1, 1024]) and `<prefix>_stylize_<q>.tflite`
(signature `stylize`: "content", "style_statistics", "alpha" [1] -> "stylized"),
<q> being fp32, fp16 or dynamic. Naming either file loads both. Only
`ai_edge_litert` and numpy are imported.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np

from keras_style.errors import StyleError
from keras_style.checks import as_image, one_line
from keras_style.inference.adain_stylizer import STATISTICS, STYLE_ENCODE, STYLIZE, AdaINStylizer, statistics_row
from keras_style.inference.tflite_stylizer import (
    open_interpreter,
    pair_file_role,
    pair_paths,
    pair_spec_path,
    preferred_pair,
)
from keras_style.native_logs import native_logs_filtered

# File name suffix per quantization mode.
QUANTIZE_SUFFIXES = {"none": "fp32", "float16": "fp16", "dynamic": "dynamic"}
DEFAULT_PREFIX = "adain"
_ROLES = (STYLE_ENCODE, STYLIZE)


def tflite_pair_paths(output: str | os.PathLike, quantize: str = "float16") -> dict[str, str]:
    """The two file names `convert_adain_to_tflite` writes for `output`.

    `output` is a directory (one that exists, or any path ending in a separator):
    `DIR/adain_style_encode_<q>.tflite` and `DIR/adain_stylize_<q>.tflite`; or a
    file name prefix `P` (a trailing `.tflite` is dropped): `P_style_encode_<q>.tflite`
    and `P_stylize_<q>.tflite`.
    """
    return pair_paths(output, quantize, QUANTIZE_SUFFIXES, _ROLES, DEFAULT_PREFIX, "an AdaIN pair")


def pair_role(path: str | os.PathLike) -> tuple[str, str] | None:
    """(role, partner path) of a file named like one of an AdaIN pair, else None.

    The role is "style_encode" or "stylize", whichever of `_style_encode` /
    `_stylize` occurs last in the file name; the partner has the other one there.
    """
    return pair_file_role(path, _ROLES)


def is_pair_file(path: str | os.PathLike) -> bool:
    """Whether `path` is one file of an AdaIN pair whose partner exists."""
    found = pair_role(path)
    return found is not None and os.path.isfile(found[1])


def preferred_pair_file(directory: str | os.PathLike) -> str | None:
    """The `style_encode` file of the float16 pair in `directory` (else of any pair), or None."""
    return preferred_pair(directory, STYLE_ENCODE, is_pair_file, QUANTIZE_SUFFIXES["float16"])


class AdaINTFLiteStylizer(AdaINStylizer):
    """An AdaIN `.tflite` pair on the LiteRT interpreter (no TensorFlow).

    Args:
      path: either file of the pair (the other is found by name), or the
        `style_encode` file when `stylize_path` is given.
      metadata: the model's `keras_style.json` contents, if any.
      name: how to name the model in messages (defaults to `path`).
      num_threads: interpreter threads; default `os.cpu_count()`.
      stylize_path: the `stylize` file, if not named like `path`'s partner.

    Raises:
      StyleError: ai-edge-litert missing, a missing partner file, or files that
        are not the AdaIN signatures.
    """

    backend = "tflite"
    supports_masks = False

    def __init__(
        self,
        path: str | os.PathLike,
        metadata: dict | None = None,
        name: str | None = None,
        num_threads: int | None = None,
        stylize_path: str | os.PathLike | None = None,
    ):
        super().__init__(name or os.fspath(path), metadata)
        if stylize_path is not None:
            encode_path, stylize_path = os.fspath(path), os.fspath(stylize_path)
        else:
            found = pair_role(path)
            if found is None:
                raise StyleError(
                    f"TFLite model '{self.name}' is not named like an AdaIN pair file "
                    f"(PREFIX_{STYLE_ENCODE}_Q.tflite / PREFIX_{STYLIZE}_Q.tflite)"
                )
            role, partner = found
            path = os.fspath(path)
            encode_path, stylize_path = (path, partner) if role == STYLE_ENCODE else (partner, path)
            if not os.path.isfile(partner):
                raise StyleError(
                    f"AdaIN TFLite model '{self.name}' needs its partner file '{partner}', which is missing"
                )
        self.paths = {STYLE_ENCODE: encode_path, STYLIZE: stylize_path}
        self._num_threads = num_threads
        self._runners = {}
        self._ran = set()
        for key in self.paths:
            self._open(key)

    def _open(self, key: str):
        file = self.paths[key]
        interpreter = open_interpreter(file, self.name, self._num_threads, shown_as=file)
        signatures = interpreter.get_signature_list()
        if key not in signatures:
            raise StyleError(
                f"TFLite model '{file}' has no '{key}' signature (it has: {', '.join(signatures) or 'none'}); "
                "convert the AdaIN SavedModel with style_export"
            )
        self._runners[key] = (interpreter, interpreter.get_signature_runner(key))
        self._ran.discard(key)  # a new interpreter logs its delegate line again
        return self._runners[key]

    def prepare_style(self, styles, weights=None, alpha=1.0):
        """As `AdaINStylizer.prepare_style`; afterwards the style encoder's interpreter is
        closed: it holds its arena and XNNPACK buffers for the style image's size (~0.2 GB
        for a 512² style), which stylizing never uses. Another call opens it again."""
        try:
            return super().prepare_style(styles, weights, alpha)
        finally:
            self._runners.pop(STYLE_ENCODE, None)

    @classmethod
    def from_spec(cls, spec) -> "AdaINTFLiteStylizer":
        """Loads the pair a resolved `ModelSpec` names (either file may be named); for a
        shipped model directory or name, the float16 pair is preferred."""
        return cls(pair_spec_path(spec, preferred_pair_file), metadata=spec.metadata, name=spec.source)

    def encode_style(self, style: np.ndarray) -> np.ndarray:
        style = as_image(style, "style image")
        return self._run(STYLE_ENCODE, style.shape, STATISTICS, style=style[None])

    def stylize_statistics(self, content, statistics, alpha=1.0):
        content = as_image(content, "content image")
        out = self._run(
            STYLIZE, content.shape, "stylized", content=content[None],
            style_statistics=statistics_row(statistics), alpha=np.array([alpha], np.float32),
        )
        return out[0]

    def _run(self, key: str, shape, output: str, **inputs) -> np.ndarray:
        _, runner = self._runners.get(key) or self._open(key)
        feed = {k: np.ascontiguousarray(v, np.float32) for k, v in inputs.items()}
        # An interpreter's first run creates the XNNPACK delegate, which logs a line.
        with native_logs_filtered() if key not in self._ran else contextlib.nullcontext():
            try:
                out = runner(**feed)[output]
            except (ValueError, RuntimeError) as e:
                raise StyleError(
                    f"TFLite model '{self.paths[key]}' failed on a {shape[1]}x{shape[0]} image: {one_line(e)}"
                ) from None
        self._ran.add(key)
        return np.asarray(out, dtype=np.float32)  # already a copy of the output tensor
