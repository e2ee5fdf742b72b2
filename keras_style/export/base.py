"""One export flow for every model kind: SavedModel with metadata, TFLite file(s), parity.

The pattern of TF Model Garden's `official/vision/serving/export_base.py`: a base class
owns the flow and each kind's small subclass says only what is its own.

* SavedModel (`Exporter.export`): the export directory is checked before tracing,
  the kind's `signatures()` are traced, and they are written with `keras_style.json`
  (`saved_model.base_metadata` plus the kind's `metadata()`) beside the target and
  renamed into place.
  Every signature checks its request first (`serving_checks`), and a kind may make the
  loaded SavedModel itself callable (`call_function`: TF Hub's `hub.load(path)(...)`).
* TFLite (`Exporter.export_tflite`): the kind's `tflite_files()` (one file for fast
  style, a pair for AdaIN and MetaNet, each a role, a path and the signatures it
  holds) are all checked before converting, converted into one hidden folder beside
  them, compared with the SavedModel by the kind's `parity()` check, and published
  together only if that passed: a failure writes nothing. The `ExportResult` is
  reported the same way for every kind.

`keras_style.registry` names each kind's exporter class; `style_export` looks it up.
TensorFlow is imported when a conversion or export runs, not on import.
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from keras_style import files, image_io
from keras_style.errors import StyleError
from keras_style.export import saved_model, serving_checks, tflite
from keras_style.inference.model_spec import read_metadata

# The key under which `export` passes `call_function()` through `stored_as` beside the
# signatures; no signature has this name.
CALL = "__call__"

# The parity inputs a kind can ask for, and the examples/ folder each defaults to.
PARITY_EXAMPLE_FOLDERS = {"content": "content", "style": "styles"}


@dataclasses.dataclass(frozen=True)
class TFLiteFile:
    """One `.tflite` output of an export: its role (the key in results), its path and
    the SavedModel signatures converted into it."""

    role: str
    path: str
    signatures: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Parity:
    """A TFLite export compared with its SavedModel (images on the 0..255 scale).

    Attributes:
      max_abs_diff, mean_abs_diff: the whole TFLite path against the SavedModel's (end
        to end for a pair); `--max_abs_diff` limits the first.
      figures: the kind's parity check result, every figure it measured.
      details: the kind's further figures as text, for the report line.
    """

    max_abs_diff: float
    mean_abs_diff: float
    figures: dict
    details: str = ""


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """What `Exporter.export_tflite` wrote: {role: path}, {role: size in MB}, the
    quantization, the parity figures and the images they were measured on."""

    paths: dict[str, str]
    sizes_mb: dict[str, float]
    quantize: str
    parity: Parity
    parity_inputs: str

    def report(self, print_fn=print) -> None:
        """Prints a "wrote" line per file (stderr) and one parity line (`print_fn`)."""
        pair = len(self.paths) > 1
        tflite.report_written(self.paths, self.sizes_mb, self.quantize, roles=pair)
        print_fn(tflite.parity_line(
            self.quantize, self.parity.max_abs_diff, self.parity.mean_abs_diff, self.parity_inputs,
            scope="end to end " if pair else "", details=self.parity.details,
        ))


class Exporter(abc.ABC):
    """Exports one model kind: its SavedModel, and TFLite file(s) from a SavedModel.

    A subclass sets `kind` and `title` and supplies `signatures()`, `metadata()` and
    `parity()`; a kind with more than one TFLite file overrides `tflite_files()`.

    Attributes:
      kind: the kind `keras_style.json` records (and that `export_tflite` requires).
      title: the kind in messages ("an AdaIN").
      refused_quantize: {quantize mode: why this kind cannot be converted so}.
      parity_inputs: the images `parity()` takes after the staged files, in order
        ("content", "style").
      accepts_unlabelled: whether a SavedModel with no `keras_style.json` counts as this
        kind (fast style: exported before the metadata existed).
    """

    kind: ClassVar[str]
    title: ClassVar[str]
    refused_quantize: ClassVar[Mapping[str, str]] = {}
    parity_inputs: ClassVar[tuple[str, ...]] = ("content",)
    accepts_unlabelled: ClassVar[bool] = False

    def __init__(self, model: Any = None):
        """`model`: the Keras model to export; None to convert an existing SavedModel only."""
        self.model = model
        # The limit the bytes signatures enforce; `export` sets it.
        self.max_image_pixels = serving_checks.DEFAULT_MAX_PIXELS

    # --- SavedModel ---------------------------------------------------------------------------

    @abc.abstractmethod
    def signatures(self) -> dict[str, saved_model.Signature]:
        """The serving signatures: name -> (function, input `tf.TensorSpec`s)."""

    def metadata(self) -> dict[str, Any]:
        """The kind's `keras_style.json` fields (beyond `saved_model.base_metadata`'s)."""
        return {}

    def variable_collections(self) -> dict[str, Sequence[Any]]:
        """Named variable collections saved besides the signatures."""
        return {}

    def serving_weights(self) -> list[Any]:
        """The Keras variables the signatures read (the ones `weights_dtype` stores);
        by default the weights of `model`, or of each model of a tuple."""
        models = self.model if isinstance(self.model, (tuple, list)) else (self.model,)
        return [weight for model in models for weight in model.weights]

    def call_function(self, metadata: Mapping[str, Any]) -> saved_model.Signature | None:
        """The function the loaded SavedModel itself answers (its `__call__`, e.g. TF Hub's
        `hub.load(path)(content, style)`), given the export's `keras_style.json`; None: not
        callable."""
        return None

    def export(self, export_dir: str | os.PathLike, overwrite: bool = False,
               extra_metadata: Mapping[str, Any] | None = None, weights_dtype: str = "float32",
               max_image_pixels: int = serving_checks.DEFAULT_MAX_PIXELS) -> str:
        """Writes the model as a SavedModel with `keras_style.json`; returns its absolute path.

        `weights_dtype` "float16" stores the weights in half the bytes, read back as
        float32 (`saved_model.stored_as`); `keras_style.json` records it. The bytes
        signatures refuse images of more than `max_image_pixels` pixels (the commands'
        decompression-bomb limit by default); `keras_style.json` records it too.

        Raises:
          StyleError: no model, an unknown `weights_dtype`, a bad `max_image_pixels`, or
            `export_dir` unusable or existing (without `overwrite`).
        """
        if self.model is None:
            raise StyleError(f"{type(self).__name__} has no model to export")
        saved_model.check_weights_dtype(weights_dtype)
        self.max_image_pixels = serving_checks.check_max_image_pixels(max_image_pixels)
        saved_model.check_export_dir(export_dir, overwrite)  # before tracing, which takes seconds
        metadata = saved_model.base_metadata(
            self.kind, **{**self.metadata(), **(extra_metadata or {}), saved_model.WEIGHTS_DTYPE_KEY: weights_dtype,
                          serving_checks.MAX_PIXELS_KEY: self.max_image_pixels})
        functions = dict(self.signatures())
        call = self.call_function(metadata)
        if call is not None:
            functions[CALL] = call
        # One float16 store for the signatures and `__call__` alike.
        functions = saved_model.stored_as(functions, self.serving_weights(), weights_dtype)
        call = functions.pop(CALL, None)
        return saved_model.write_saved_model(export_dir, functions, metadata, overwrite,
                                             self.variable_collections(), call=call)

    def read_saved_model(self, saved_model_dir: str | os.PathLike) -> dict:
        """The `keras_style.json` of a SavedModel of this kind.

        Raises:
          StyleError: not a SavedModel, or one of another kind.
        """
        directory = tflite.check_saved_model(saved_model_dir)
        metadata = read_metadata(directory)
        kind = metadata.get("kind")
        if kind != self.kind and not (kind is None and self.accepts_unlabelled):
            raise StyleError(
                f"'{directory}' is not {self.title} SavedModel (its keras_style.json says kind '{kind or 'none'}')"
            )
        return metadata

    # --- TFLite -------------------------------------------------------------------------------

    def tflite_files(self, output: str | os.PathLike, quantize: str) -> list[TFLiteFile]:
        """The `.tflite` files written for `output`: by default one, the `stylize_float` signature."""
        return [TFLiteFile("model", os.fspath(output), (saved_model.STYLIZE_FLOAT,))]

    @abc.abstractmethod
    def parity(self, saved_model_dir: str, staged: Mapping[str, str], *images: np.ndarray) -> Parity:
        """Compares the converted files ({role: path}) with the SavedModel on `images`
        (one per `parity_inputs` name, float32 (H, W, 3) in [0, 255])."""

    def check_tflite(self, saved_model_dir, output, quantize: str, overwrite: bool = False) -> list[TFLiteFile]:
        """The cheap checks before converting: quantization, SavedModel kind, every output path.

        Raises:
          StyleError: naming the problem.
        """
        if quantize in self.refused_quantize:
            raise StyleError(self.refused_quantize[quantize])
        if quantize not in tflite.QUANTIZE_MODES:
            modes = [m for m in tflite.QUANTIZE_MODES if m not in self.refused_quantize]
            raise StyleError(f"unknown quantization '{quantize}'; use one of {', '.join(modes)}")
        self.read_saved_model(saved_model_dir)
        outputs = self.tflite_files(output, quantize)
        for output_file in outputs:
            tflite.check_tflite_path(output_file.path, overwrite)
        files.check_not_an_input([f.path for f in outputs], [("SavedModel", saved_model_dir)])
        return outputs

    def convert_tflite(self, saved_model_dir, output, quantize: str = "float16", overwrite: bool = False,
                       representative_images: Sequence[np.ndarray] | None = None) -> dict[str, str]:
        """Converts a SavedModel of this kind to its `.tflite` file(s), without a parity check.

        Every file is converted and test-run before any is written. Returns {role: path}.
        """
        outputs = self.check_tflite(saved_model_dir, output, quantize, overwrite)
        paths = {output_file.role: output_file.path for output_file in outputs}
        with self._staged(saved_model_dir, outputs, quantize, representative_images) as staged:
            files.publish_files(staged, paths, overwrite)
        return paths

    def export_tflite(
        self,
        saved_model_dir,
        output,
        quantize: str = "float16",
        overwrite: bool = False,
        *,
        parity_image: str | None = None,
        parity_style: str | None = None,
        parity_size: int = 256,
        max_abs_diff: float | None = None,
        representative_images: str | None = None,
    ) -> ExportResult:
        """`style_export --tflite`: converts, checks parity, and writes all files or none.

        Parity images: `parity_image` / `parity_style`, else the repository's first
        example content / style photo, else a synthetic image, at long side
        `parity_size`. int8 calibrates on `representative_images` (file, directory,
        glob or a,b), else the example content photos, else synthetic ones.

        Raises:
          StyleError: a failed check or conversion, or an end-to-end max abs difference
            over `max_abs_diff` (then nothing is written).
        """
        outputs = self.check_tflite(saved_model_dir, output, quantize, overwrite)
        paths = {output_file.role: output_file.path for output_file in outputs}
        given = {"content": parity_image, "style": parity_style}
        calibration = image_io.list_images(representative_images) if quantize == "int8" and representative_images else []
        files.check_not_an_input(
            paths.values(), [(f"parity {name} image", path) for name, path in given.items() if path]
            + [("calibration image", path) for path in calibration])
        images, names = [], []
        for seed, name in enumerate(self.parity_inputs):
            image, image_name = tflite.parity_input(given[name], PARITY_EXAMPLE_FOLDERS[name], parity_size, seed)
            images.append(image)
            names.append(image_name)
        inputs = names[0] if len(names) == 1 else ", ".join(f"{n} {v}" for n, v in zip(self.parity_inputs, names))
        representative = None
        if quantize == "int8":
            representative = tflite.representative_inputs(representative_images, parity_size)
        with self._staged(saved_model_dir, outputs, quantize, representative) as staged:
            parity = self.parity(os.fspath(saved_model_dir), staged, *images)
            tflite.check_parity_limit(parity.max_abs_diff, max_abs_diff, quantize)
            sizes = {role: os.path.getsize(path) / 1e6 for role, path in staged.items()}
            files.publish_files(staged, paths, overwrite)
        return ExportResult(paths, sizes, quantize, parity, inputs)

    @contextlib.contextmanager
    def _staged(self, saved_model_dir, outputs: list[TFLiteFile], quantize: str,
                representative: Sequence[np.ndarray] | None) -> Iterator[dict[str, str]]:
        """Converts every file into one hidden folder beside the outputs (under their own
        names, so a staged pair is still recognised as a pair); yields {role: staged
        path}; removes the folder, whatever happened (published files have left it)."""
        directory = os.path.dirname(os.path.abspath(outputs[0].path))
        tmp = tempfile.mkdtemp(prefix=f".{self.kind}_tflite_", dir=directory)
        try:
            staged = {}
            for output_file in outputs:
                staged[output_file.role] = os.path.join(tmp, os.path.basename(output_file.path))
                tflite.convert_saved_model_to_tflite(
                    saved_model_dir, staged[output_file.role], quantize=quantize,
                    signature_keys=output_file.signatures, representative_images=representative,
                )
            yield staged
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
