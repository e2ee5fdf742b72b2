"""Finding a model from what the user named, without loading it (no TensorFlow import).

A model spec is a SavedModel directory, a `.tflite` file, a shipped model
directory (`NAME/saved_model/` and/or `NAME/NAME_fp16.tflite`), or the NAME of
a shipped model, looked up in `$KERAS_STYLE_MODELS` and then in the
repository's `saved_models/`. Each export writes `keras_style.json` (kind,
base, style name, versions) into the SavedModel directory; it is read here.

Which runtime runs a shipped model that has both files is decided here too
(`choose_runtime`, `--model_format=auto`): LiteRT for the `.tflite` file, or
TensorFlow for the SavedModel, by kind and image size from `TFLITE_MAX_PIXELS`.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import keras_style
from keras_style import files, registry
from keras_style.errors import StyleError

if TYPE_CHECKING:
    from keras_style.inference.stylizer import Stylizer

METADATA_FILENAME = "keras_style.json"
SAVED_MODEL_FILENAME = "saved_model.pb"
# Inside a shipped model directory NAME/: the SavedModel and the float16 TFLite file.
SHIPPED_SAVED_MODEL_DIR = "saved_model"
MODELS_ENV = "KERAS_STYLE_MODELS"

FORMATS = ("auto", "saved_model", "tflite")

# `--model_format=auto` for a model that has both files: the largest image, in pixels of
# the image stylized, for which the whole command (start, imports, load, stylize, write)
# runs faster on LiteRT from the `.tflite` file than on TensorFlow from the SavedModel
# (in `--precision=auto`, its bfloat16 copy on CPUs with bfloat16 units). Above it
# TensorFlow's import cost (seconds, ~0.6 GB) is paid back by faster kernels: MetaNet's pair
# (run-time conv filters, which XNNPACK does not delegate) falls behind first, and needs
# several times the SavedModel's memory there. None: the `.tflite` file at every size. Measured on a
# CPU with AVX-512 bfloat16 units by `benchmarks/runtime_choice_benchmark.py --parts=sweep`
# (BUILD.md, "Runtime choice").
TFLITE_MAX_PIXELS = {"fast_style": None, "adain": 1536 * 1536, "metanet": 512 * 512}
RUNTIME_NAMES = {"tflite": "LiteRT", "saved_model": "TensorFlow"}


def shipped_models_dirs() -> list[Path]:
    """Where model names are looked up, in order: `$KERAS_STYLE_MODELS`, then the
    repository's `saved_models/` (next to the package)."""
    dirs = []
    env = os.environ.get(MODELS_ENV)
    if env:
        dirs.extend(Path(p).expanduser() for p in env.split(os.pathsep) if p)
    dirs.append(Path(keras_style.__file__).resolve().parents[1] / "saved_models")
    return dirs


def shipped_model_names() -> list[str]:
    """Names of the models found in `shipped_models_dirs()`, sorted."""
    names = set()
    for directory in shipped_models_dirs():
        if directory.is_dir():
            for entry in directory.iterdir():
                if entry.is_dir() and _shipped_files(entry) != (None, None):
                    names.add(entry.name)
    return sorted(names)


@dataclass
class ModelSpec:
    """A resolved model: which file or directory to load and how.

    Attributes:
      source: what the user named (path or model name), for messages.
      path: the SavedModel directory or the `.tflite` file.
      format: "saved_model" or "tflite".
      metadata: contents of `keras_style.json` (kind, base, style, ...); for
        a `.tflite` file without one nearby, `{}` (then treated as fast_style).
      choices: {format: path} of a shipped model whose format was left to
        "auto" (both files, when it has both): what `choose_runtime` picks from.
      announcement: the one line saying which runtime `choose_runtime` chose
        (None where nothing was chosen).
    """

    source: str
    path: str
    format: str
    metadata: dict = field(default_factory=dict)
    choices: dict = field(default_factory=dict)
    announcement: str | None = None

    @property
    def kind(self) -> str:
        return self.metadata.get("kind", "fast_style")

    @property
    def takes_style(self) -> bool:
        """Whether the model takes a style image at run time (AdaIN, MetaNet)."""
        return self.kind in registry.names(lambda kind: kind.takes_style)

    @property
    def model_kind(self) -> registry.ModelKind:
        """The registered kind (StyleError, one line, for an unknown one)."""
        return registry.get(self.kind, self.source)

    def load(self) -> Stylizer:
        """Loads the model with its kind's stylizer (imports TensorFlow for a SavedModel)."""
        field = "tflite_stylizer" if self.format == "tflite" else "saved_model_stylizer"
        return self.model_kind.part(field).from_spec(self)


def load_stylizer(spec: str, format: str = "auto") -> Stylizer:
    """Resolves `spec` (see `resolve_model`) and loads it as a `Stylizer`.

    A `.tflite` model runs on the LiteRT interpreter without importing
    TensorFlow; a SavedModel imports TensorFlow.

    Raises:
      StyleError: the model cannot be found or loaded, or is of a kind this
        version cannot run.
    """
    return resolve_model(spec, format).load()


def resolve_model(spec: str, format: str = "auto", pixels: int | None = None) -> ModelSpec:
    """Finds the model named by `spec` without loading it (no TensorFlow import).

    Args:
      spec: a SavedModel directory, a `.tflite` file, a shipped model
        directory (containing `saved_model/` and/or `NAME_fp16.tflite`), or
        the name of a shipped model, looked up in `$KERAS_STYLE_MODELS`
        (os.pathsep-separated directories) and then in the repository's
        `saved_models/`.
      format: for a shipped model, which file to use: "auto", "saved_model"
        or "tflite". "auto" with `pixels`: the faster runtime for images of
        that many pixels (`choose_runtime`); without: the SavedModel when
        TensorFlow is installed (the choice for a caller that stylizes many
        images in one process), else the `.tflite` file. A SavedModel
        directory or `.tflite` file named directly is used as named; asking
        for the other format is an error.
      pixels: the largest image's pixel count, for "auto".

    Raises:
      StyleError: unknown spec (listing the shipped names), bad format, or a
        shipped model lacking the requested format.
    """
    resolved = _resolve(spec, format)
    return resolved if pixels is None else choose_runtime(resolved, pixels)


def _resolve(spec: str, format: str) -> ModelSpec:
    if format not in FORMATS:
        raise StyleError(f"unknown model format '{format}'; use one of {', '.join(FORMATS)}")
    if not spec or not str(spec).strip():
        raise StyleError("no model given; pass a SavedModel directory, a .tflite file or a model name")
    spec = str(spec)
    path = Path(spec).expanduser()
    if path.is_file():
        if path.suffix.lower() != ".tflite":
            raise StyleError(
                f"model '{spec}' is a file but not a .tflite model; pass a .tflite file, a SavedModel "
                "directory or a model name"
            )
        _check_format(spec, "tflite", format)
        return ModelSpec(spec, str(path), "tflite", _tflite_metadata(path))
    if path.is_dir():
        if (path / SAVED_MODEL_FILENAME).is_file():
            _check_format(spec, "saved_model", format)
            return ModelSpec(spec, str(path), "saved_model", read_metadata(path))
        if _shipped_files(path) != (None, None):
            return _from_shipped_dir(spec, path, format)
        raise StyleError(
            f"model directory '{spec}' holds no {SAVED_MODEL_FILENAME} and no .tflite model; "
            "pass a SavedModel directory, a .tflite file or a model name"
        )
    if os.path.lexists(path):  # a symlink loop, a broken symlink, a FIFO, a device...
        problem = files.path_problem(path, "a SavedModel directory or a .tflite file", directory_ok=True)
        raise StyleError(f"model '{spec}' {problem or 'cannot be read'}")
    # A bare name (no separators): a shipped model.
    if os.sep not in spec and (os.altsep is None or os.altsep not in spec) and not path.suffix:
        for directory in shipped_models_dirs():
            candidate = directory / spec
            if candidate.is_dir() and _shipped_files(candidate) != (None, None):
                return _from_shipped_dir(spec, candidate, format)
    names = shipped_model_names()
    listed = ", ".join(names) if names else "none installed"
    raise StyleError(
        f"model '{spec}' not found: not a SavedModel directory, a .tflite file or a shipped model name "
        f"(shipped models: {listed}; set ${MODELS_ENV} to add a models directory)"
    )


def litert_installed() -> bool:
    """Whether the LiteRT interpreter (`ai-edge-litert`, the `tflite` extra) can be imported."""
    return importlib.util.find_spec("ai_edge_litert") is not None


def tensorflow_installed() -> bool:
    """Whether TensorFlow (needed for a SavedModel) can be imported."""
    return importlib.util.find_spec("tensorflow") is not None


def faster_runtime(kind: str, pixels: int) -> str:
    """"tflite" or "saved_model": the faster runtime for a `kind` model on images of up
    to `pixels` pixels (`TFLITE_MAX_PIXELS`; a kind it does not list: the SavedModel)."""
    if kind not in TFLITE_MAX_PIXELS:
        return "saved_model"
    limit = TFLITE_MAX_PIXELS[kind]
    return "tflite" if limit is None or pixels <= limit else "saved_model"


def choose_runtime(spec: ModelSpec, pixels: int, needs_saved_model: str | None = None) -> ModelSpec:
    """The runtime `--model_format=auto` runs `spec` on, for images of up to `pixels` pixels.

    Only a shipped model resolved with format "auto" that has both files is chosen
    for (`spec.choices`); anything else is returned as it is. The choice is
    `faster_runtime`, except that `needs_saved_model` (what needs it, e.g. "--mask")
    asks for the SavedModel, and a runtime that is not installed (ai-edge-litert,
    TensorFlow) gives way to the other. The result's `announcement` names the
    choice and the flag that overrides it, in one line.
    """
    if len(spec.choices) < 2:
        return spec
    note = ""
    if needs_saved_model:
        chosen, note = "saved_model", f"{needs_saved_model} needs it"
    else:
        chosen = faster_runtime(spec.kind, pixels)
        if chosen == "tflite" and not litert_installed():
            chosen, note = "saved_model", "ai-edge-litert is not installed: pip install 'keras-style[tflite]'"
        elif chosen == "saved_model" and not tensorflow_installed():
            chosen, note = "tflite", "TensorFlow is not installed"
    path = spec.choices[chosen]
    other = "tflite" if chosen == "saved_model" else "saved_model"
    shown = os.path.relpath(path) if not os.path.relpath(path).startswith("..") else path
    line = (f"runtime: {RUNTIME_NAMES[chosen]} ({shown}{'; ' + note if note else ''}); "
            f"--model_format={other} for {RUNTIME_NAMES[other]}")
    return dataclasses.replace(spec, path=path, format=chosen, announcement=line)


def read_metadata(directory: str | os.PathLike) -> dict:
    """Reads `keras_style.json` from a directory; `{}` if there is none.

    Raises:
      StyleError: the file exists but is not a JSON object.
    """
    path = Path(directory) / METADATA_FILENAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise StyleError(f"cannot read '{path}': {e.strerror or e}") from None
    try:
        data = json.loads(text)
    except ValueError as e:
        raise StyleError(f"model metadata '{path}' is not valid JSON ({e}); re-export the model") from None
    if not isinstance(data, dict):
        raise StyleError(f"model metadata '{path}' is not a JSON object; re-export the model")
    return data


def _check_format(spec: str, actual: str, wanted: str) -> None:
    if wanted not in ("auto", actual):
        names = {"tflite": "a .tflite file", "saved_model": "a SavedModel"}
        raise StyleError(f"model '{spec}' is {names[actual]}; {names[wanted]} is needed here "
                         f"(style_transfer: drop --model_format=...; style_batch runs SavedModels only)")


def _shipped_files(directory: Path) -> tuple[Path | None, Path | None]:
    """(SavedModel dir, .tflite file) of a shipped model directory; None where absent."""
    saved_model = directory / SHIPPED_SAVED_MODEL_DIR
    saved_model = saved_model if (saved_model / SAVED_MODEL_FILENAME).is_file() else None
    try:
        tflites = sorted(p for p in directory.glob("*.tflite") if p.is_file())
    except OSError:
        tflites = []
    # NAME_fp16.tflite is what ships (for a pair, PREFIX_<role>_fp16.tflite: either file
    # loads the pair); any other .tflite (e.g. NAME_int8) comes after.
    preferred = ([p for p in tflites if p.name == f"{directory.name}_fp16.tflite"]
                 or [p for p in tflites if p.name.endswith("_fp16.tflite")])
    tflite = (preferred or tflites or [None])[0]
    return saved_model, tflite


def _from_shipped_dir(spec: str, directory: Path, format: str) -> ModelSpec:
    saved_model, tflite = _shipped_files(directory)
    metadata = read_metadata(directory) or (read_metadata(saved_model) if saved_model else {})
    choices = {}
    if format == "auto":
        choices = {fmt: str(path) for fmt, path in (("saved_model", saved_model), ("tflite", tflite)) if path}
        # TensorFlow is optional at run time (the LiteRT runtime is enough).
        format = "saved_model" if saved_model and (tensorflow_installed() or not tflite) else "tflite"
    if format == "saved_model":
        if saved_model is None:
            raise StyleError(f"model '{spec}' has no SavedModel ('{directory / SHIPPED_SAVED_MODEL_DIR}')")
        return ModelSpec(spec, str(saved_model), "saved_model", metadata, choices)
    if tflite is None:
        raise StyleError(f"model '{spec}' has no .tflite file in '{directory}'")
    return ModelSpec(spec, str(tflite), "tflite", metadata, choices)


def _tflite_metadata(path: Path) -> dict:
    """Metadata for a `.tflite` file: `keras_style.json` beside it or in a sibling `saved_model/`."""
    metadata = read_metadata(path.parent) or read_metadata(path.parent / SHIPPED_SAVED_MODEL_DIR)
    if not metadata:
        # One file of a kind's .tflite pair (e.g. PREFIX_style_encode_Q / PREFIX_stylize_Q), moved
        # without its metadata: the kinds that name their files recognisably, in registration order.
        for kind in registry.kinds():
            if kind.has("tflite_pair_file") and kind.part("tflite_pair_file")(path):
                return {"kind": kind.name}
    return metadata
