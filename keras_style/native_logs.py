"""Keeping TensorFlow's and LiteRT's native start-up chatter off the terminal.

Commands set TF_CPP_MIN_LOG_LEVEL=2, but TensorFlow 2.21 and LiteRT print some C++
log lines straight to file descriptor 2 regardless; `native_logs_filtered` applies
the variable to them, so a user error stays the only line a command prints.
`filter_tensorflow_start_up` (installed by `keras_style.cli`) does so for the first
TensorFlow import, whichever module makes it.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile
from typing import Iterator

# Native (C++) log lines that TensorFlow and LiteRT print straight to file
# descriptor 2, ignoring TF_CPP_MIN_LOG_LEVEL since TF moved to absl logging
# (tensorflow/tensorflow#100442): "WARNING: All log messages before
# absl::InitializeLog() ...", then glog-style "I0000 00:00:... file.cc:12] ..."
# lines, and LiteRT's "INFO: Created TensorFlow Lite XNNPACK delegate".
_ABSL_PREAMBLE = re.compile(r"^WARNING: All log messages before absl::InitializeLog\(\) is called")
_GLOG_LINE = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [^\]]+\] ")
_LITERT_INFO = re.compile(r"^INFO: ")
# The full (CUDA-enabled) `tensorflow` wheel, which `pip install keras-style` pulls in, logs
# this E-level line at its first op on a machine without an NVIDIA driver, then runs on the
# CPU as it should. Hidden from level 2 on (the commands' default); TF_CPP_MIN_LOG_LEVEL=0
# or 1 shows it, e.g. when diagnosing a GPU setup.
_CUINIT_FAILED = re.compile(r"^E\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [^\]]+\] failed call to cuInit: ")
# Loading a SavedModel whose weights are stored as float16 (`weights_dtype="float16"`, as
# the shipped models are) has oneDNN's graph pass log this E-level line once per process,
# on any CPU without AVX512-FP16 (whatever it says about AVX-512), for the casts of those
# weights to float32; the casts then run in Eigen, as they should. Hidden like cuInit's.
_ONEDNN_NO_HALF = re.compile(
    r"^E\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [^\]]+\] oneDNN supports DT_HALF only on platforms with AVX-512\."
)
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}


def _min_log_level() -> int:
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        return 0


def _is_native_chatter(line: str, level: int) -> bool:
    if _ABSL_PREAMBLE.match(line):
        return True
    if _LITERT_INFO.match(line):
        return level >= 1
    if _CUINIT_FAILED.match(line) or _ONEDNN_NO_HALF.match(line):
        return level >= 2
    match = _GLOG_LINE.match(line)
    return bool(match) and _SEVERITY[match.group(1)] < level


@contextlib.contextmanager
def captured_stderr() -> Iterator[object]:
    """Points file descriptor 2 at a temporary file during the block; yields a list
    that holds, once the block ends and fd 2 is restored, the captured text (it
    stays empty where there is no real fd 2: embedded interpreters, some
    notebooks). Native code writes to fd 2 directly, so redirecting `sys.stderr`
    alone would not catch it."""
    captured: list[str] = []
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield captured
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield captured
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            captured.append(capture.read().decode("utf-8", errors="replace"))


@contextlib.contextmanager
def native_logs_filtered() -> Iterator[None]:
    """Applies TF_CPP_MIN_LOG_LEVEL to native log lines written during the block.

    TensorFlow 2.21 and LiteRT write some C++ log lines to stderr whatever
    TF_CPP_MIN_LOG_LEVEL says. With the variable set to 1 or more (the
    commands set 2), stderr (fd 2) is captured during the block and replayed
    without the lines below that level, so a user error stays the only line a
    command prints. With it unset or 0, nothing is captured.
    """
    level = _min_log_level()
    if level < 1:
        yield
        return
    captured = []
    try:
        with captured_stderr() as captured:
            yield
    finally:
        text = "".join(captured)
        kept = [line for line in text.splitlines(True) if not _is_native_chatter(line, level)]
        if kept:
            os.write(2, "".join(kept).encode("utf-8", errors="replace"))


def import_tensorflow():
    """Imports TensorFlow with its native start-up log lines filtered; returns it.

    Whichever module imports TensorFlow first should do it through this, or the
    start-up lines print unfiltered once.
    """
    with native_logs_filtered():
        import tensorflow as tf

        # Listing devices now, inside the filter, keeps the CUDA probe of a GPU build on
        # a CPU-only machine ("failed call to cuInit") from printing later.
        tf.config.list_physical_devices("GPU")
    return tf


class _FilteredTensorFlowImport(importlib.abc.MetaPathFinder):
    """Runs the first `import tensorflow` of the process (from any module: Keras, the
    exporters, Beam) as `import_tensorflow` does, inside `native_logs_filtered`."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)  # once; the other finders locate TensorFlow
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec  # not installed (ImportError as usual) or an unusual loader: left alone
        spec.loader = _FilteredLoader(spec.loader)
        return spec


class _FilteredLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        # TensorFlow's own code sees its ordinary loader (resources, source lookups).
        module.__loader__ = module.__spec__.loader = self._loader
        with native_logs_filtered():
            self._loader.exec_module(module)
            if hasattr(module, "config"):
                module.config.list_physical_devices("GPU")  # as in import_tensorflow

    def __getattr__(self, name):
        return getattr(self._loader, name)


def filter_tensorflow_start_up() -> None:
    """Makes the process's first `import tensorflow`, wherever it happens, filter
    TensorFlow's native start-up lines as `import_tensorflow` does (TensorFlow prints
    them twice: its profiler plugin library repeats them). For commands: installed by
    `keras_style.cli`, never on `import keras_style`, so a library user's own
    `import tensorflow` is left as TensorFlow makes it. Does nothing once TensorFlow
    is imported."""
    if "tensorflow" in sys.modules:
        return
    if not any(isinstance(finder, _FilteredTensorFlowImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _FilteredTensorFlowImport())


def is_native_chatter(line: str) -> bool:
    """Whether `line` is one that `native_logs_filtered` would hide (TF_CPP_MIN_LOG_LEVEL
    applied), for output captured some other way, e.g. from worker processes."""
    return _is_native_chatter(line, _min_log_level())
