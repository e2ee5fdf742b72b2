"""What every command shares: error handling, flag parsing, progress display."""

from __future__ import annotations

import sys
import time
from typing import Callable

from absl import app, flags, logging

from keras_style.errors import StyleError

EXIT_USAGE = 2


def _fail(message: str, code: int = EXIT_USAGE):
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


def _parse_flags(argv):
    # absl's default prints two lines and a "FATAL" prefix; users get one line.
    try:
        return flags.FLAGS(argv)
    except flags.Error as e:
        _fail(str(e).splitlines()[0])


def run(main: Callable[[list[str]], int | None]):
    """Runs an absl `main` so user errors end in one stderr line and a non-zero exit."""

    def wrapped(argv):
        # TensorFlow's Python-side INFO lines (checkpoint sharding, tracing) would
        # drown the progress bar; --verbosity=0 brings them back.
        if not flags.FLAGS["verbosity"].present:
            logging.set_verbosity(logging.WARNING)
        if len(argv) > 1:
            _fail(f"unexpected arguments: {' '.join(argv[1:])} (flags look like --name=value)")
        try:
            return main(argv)
        except StyleError as e:
            _fail(str(e))
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except MemoryError:
            _fail("out of memory; try a smaller --image_size or --max_size", 1)

    app.run(wrapped, flags_parser=_parse_flags)


def import_tensorflow():
    """Imports TensorFlow with its native start-up log lines filtered; returns it."""
    from keras_style.native_logs import native_logs_filtered

    with native_logs_filtered():
        import tensorflow as tf

        # Listing devices now, inside the filter, keeps the CUDA probe of a GPU build on
        # a CPU-only machine ("failed call to cuInit") from printing later at app start.
        tf.config.list_physical_devices("GPU")
    return tf


def float_list(values, name: str) -> list[float] | None:
    """Parses a DEFINE_list of numbers, with a clear error naming the flag."""
    if not values:
        return None
    try:
        return [float(v) for v in values]
    except ValueError:
        raise StyleError(f"--{name} must be comma-separated numbers, got '{','.join(values)}'") from None


def style_weight_list(values, num_styles: int, check: Callable[[list[float], int], object]) -> list[float] | None:
    """Parses --style_weights: one number per --style image, then `check(weights, num_styles)`
    (the model's own validation, which raises StyleError). None when not given."""
    weights = float_list(values, "style_weights")
    if weights is not None:
        if len(weights) != num_styles:
            raise StyleError(
                f"--style_weights has {len(weights)} value(s) for {num_styles} --style image(s); "
                "give one weight per style"
            )
        check(weights, num_styles)
    return weights


def int_list(values, name: str) -> list[int]:
    """Parses a DEFINE_list of integers, with a clear error naming the flag."""
    try:
        return [int(v) for v in values or []]
    except ValueError:
        raise StyleError(f"--{name} must be comma-separated integers, got '{','.join(values)}'") from None


class ProgressBar:
    """A one-line progress bar on a terminal; plain periodic lines otherwise (logs, CI)."""

    def __init__(self, total: int, label: str = "", stream=None, every_seconds: float = 5.0):
        self.total = total
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.every_seconds = every_seconds
        self.start = time.perf_counter()
        self._last_print = 0.0
        self._finished = False

    def update(self, done: int, message: str = "", force: bool = False):
        now = time.perf_counter()
        final = done >= self.total
        if self._finished or not (self.tty or force or final or now - self._last_print >= self.every_seconds):
            return
        self._finished = final
        self._last_print = now
        width = 24
        filled = int(width * min(done, self.total) / max(self.total, 1))
        bar = "#" * filled + "-" * (width - filled)
        elapsed = now - self.start
        line = f"{self.label} [{bar}] {done}/{self.total} {elapsed:6.1f}s {message}"
        if self.tty:
            self.stream.write("\r" + line[:160].ljust(100) + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
