"""Keeping TensorFlow's and LiteRT's native start-up chatter off the terminal.

Commands set TF_CPP_MIN_LOG_LEVEL=2, but TensorFlow 2.21 and LiteRT print some C++
log lines straight to file descriptor 2 regardless; `native_logs_filtered` applies
the variable to them, so a user error stays the only line a command prints.
"""

from __future__ import annotations

import contextlib
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
    if _CUINIT_FAILED.match(line):
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
