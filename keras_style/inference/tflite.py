"""The LiteRT half every model kind shares: opening a `.tflite` file, and naming the
two files of a pair (AdaIN, MetaNet).

Only `ai_edge_litert` (pip install ai-edge-litert, the `tflite` extra) and numpy are
imported, never TensorFlow, so a one-image command on a `.tflite` model starts fast.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from keras_style.checks import one_line
from keras_style.errors import StyleError
from keras_style.native_logs import native_logs_filtered

# File name suffix of a pair's files per quantization mode (PREFIX_<role>_<q>.tflite).
QUANTIZE_SUFFIXES = {"none": "fp32", "float16": "fp16", "dynamic": "dynamic"}


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
