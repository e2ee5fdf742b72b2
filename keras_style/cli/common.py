"""What every command shares: error handling, flag parsing, progress display."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from typing import Callable

from absl import app, flags, logging

from keras_style import checks, precision
from keras_style.errors import StyleError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130, as a shell reports Ctrl-C
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143, as a shell reports `kill`

# Flags that bound a command's memory, with what the out-of-memory message suggests;
# only those the running command defines are named.
_MEMORY_HINTS = (
    ("image_size", "a smaller --image_size"),
    ("scales", "smaller --scales"),
    ("max_size", "a smaller --max_size"),
    ("tile", "--tile (e.g. --tile=512)"),
    ("batch_size", "a smaller --batch_size"),
    ("crop_size", "a smaller --crop_size"),
)


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process gets SIGTERM.

    A KeyboardInterrupt, so SIGTERM unwinds like Ctrl-C: `finally` blocks and context
    managers run (a half-written output's temporary file is removed) and code that
    handles Ctrl-C handles it too. Python's default for SIGTERM is to die on the spot.
    """


def _raise_terminated(signum, frame):
    raise Terminated()


def _fail(message: str, code: int = EXIT_USAGE):
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


def _parse_flags(argv):
    # absl's default prints two lines and a "FATAL" prefix; users get one line.
    try:
        return flags.FLAGS(argv)
    except flags.Error as e:
        # absl words a missing flag file "ERROR:: Unable to open flagfile: ..."
        _fail(str(e).splitlines()[0].removeprefix("ERROR:: "))
    except UnicodeDecodeError as e:  # absl reads flag files as UTF-8 text
        given = [arg.split("=", 1)[1] for arg in argv if arg.startswith("--flagfile=")]
        which = f" ({', '.join(given)})" if given else ""
        _fail(f"a --flagfile{which} is not UTF-8 text ({e.reason} at byte {e.start}); flag files hold one "
              f"--name=value a line")


def run(main: Callable[[list[str]], int | None]):
    """Runs an absl `main` so user errors end in one stderr line and a non-zero exit.

    Also: `--help`/`--helpshort` list the command's own flags, absl's testing flags
    are removed, and SIGTERM ends the command like Ctrl-C (temporary files cleaned up,
    one "error: terminated" line, exit status 143).
    """

    def wrapped(argv):
        # TensorFlow's Python-side INFO lines (checkpoint sharding, tracing) would
        # drown the progress bar; --verbosity=0 brings them back.
        if not flags.FLAGS["verbosity"].present:
            logging.set_verbosity(logging.WARNING)
        if len(argv) > 1:
            _fail(f"unexpected arguments: {' '.join(argv[1:])} (flags look like --name=value)")
        try:
            with _sigterm_raises():
                return main(argv)
        except StyleError as e:
            _fail(str(e))
        except Terminated:
            _fail("terminated", EXIT_TERMINATED)
        except KeyboardInterrupt:
            _fail("interrupted", EXIT_INTERRUPTED)
        except MemoryError:
            _fail(memory_message(), 1)

    _adopt_command_flags(main)
    _remove_test_flags()
    app.run(wrapped, flags_parser=_parse_flags)


def memory_message() -> str:
    """The out-of-memory error, naming only the size flags the running command has."""
    hints = [hint for name, hint in _MEMORY_HINTS if name in flags.FLAGS]
    return "out of memory; try " + (" or ".join(hints) if hints else "smaller images")


def _adopt_command_flags(main) -> None:
    """Makes the command's flags key flags of the main module.

    absl's --help and --helpshort list the key flags of the main module only. For an
    installed console script that module is the generated wrapper (`sys.argv[0]`),
    which defines no flags, so help showed none. `flags.adopt_module_key_flags` would
    declare them key for *its caller* (this module), so the flags are registered for
    `sys.argv[0]` directly: those of `main`'s module and those this module's helpers
    (e.g. `define_precision_flag`) defined for the command. The wrapper's missing
    docstring (the top of the help) becomes the command module's.
    """
    target = sys.argv[0]
    for module in dict.fromkeys((main.__module__, __name__)):
        for flag in flags.FLAGS.get_key_flags_for_module(module):
            flags.FLAGS.register_key_flag_for_module(target, flag)
    # absl's help starts with __main__'s docstring; the wrapper has none.
    entry = sys.modules.get("__main__")
    command = sys.modules.get(main.__module__)
    if entry is not None and not entry.__doc__ and command is not None and command.__doc__:
        entry.__doc__ = command.__doc__


def _remove_test_flags() -> None:
    """Removes absl.testing's flags (--test_srcdir, --test_tmpdir, ...).

    `import tensorflow` imports absl.testing.absltest (tensorflow.python.distribute's
    multi_process_runner -> tensorflow.python.eager.test -> platform.googletest), which
    defines them; a command is not a test, so --helpfull should not list them and the
    command should not accept them. Only done for a running command, never on import.
    """
    for flag in flags.FLAGS.get_flags_for_module("absl.testing.absltest"):
        with contextlib.suppress(AttributeError):
            delattr(flags.FLAGS, flag.name)


@contextlib.contextmanager
def _sigterm_raises():
    """Turns SIGTERM into `Terminated` for the block (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def float_list(values, name: str) -> list[float] | None:
    """Parses a DEFINE_list of numbers, with a clear error naming the flag."""
    if not values:
        return None
    try:
        return [float(v) for v in values]
    except ValueError:
        raise StyleError(f"--{name} must be comma-separated numbers, got '{','.join(values)}'") from None


def style_weight_list(values, num_styles: int) -> list[float] | None:
    """Parses --style_weights: one number per --style image, checked by
    `checks.normalised_weights` (the one rule for style weights). None when not given."""
    weights = float_list(values, "style_weights")
    if weights is not None:
        checks.normalised_weights(weights, num_styles, "--style_weights")
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

    def update(self, done: int, message: str = "", force: bool = False, elapsed: float | None = None):
        """Draws `done` of `total`; `elapsed` overrides the bar's own clock (e.g. the caller's,
        which started before the first update)."""
        now = time.perf_counter()
        final = done >= self.total
        if self._finished or not (self.tty or force or final or now - self._last_print >= self.every_seconds):
            return
        self._finished = final
        self._last_print = now
        width = 24
        filled = int(width * min(done, self.total) / max(self.total, 1))
        bar = "#" * filled + "-" * (width - filled)
        if elapsed is None:
            elapsed = now - self.start
        line = f"{self.label} [{bar}] {done}/{self.total} {elapsed:6.1f}s {message}"
        if self.tty:
            self.stream.write("\r" + line[:160].ljust(100) + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def define_precision_flag(help_extra: str = ""):
    """Defines `--precision` (auto, float32, mixed_bfloat16, mixed_float16) for a command."""
    return flags.DEFINE_string(
        "precision", precision.AUTO,
        "Compute precision: auto (mixed_bfloat16 on CPUs with AMX/AVX512 bfloat16 units, mixed_float16 on GPUs "
        "with tensor cores, else float32), float32, mixed_bfloat16 (or bfloat16) or mixed_float16 (or float16)."
        + (" " + help_extra if help_extra else ""),
    )


class PrecisionLine:
    """A `--precision` value, checked now, resolved on first use and printed once on
    stderr by `announce()`.

    Commands announce when the work starts, after their input checks, so that a user
    error stays the only line. Resolving `auto` asks TensorFlow for GPUs, so it waits
    for the first use: a flag or input error answers without TensorFlow.
    """

    def __init__(self, value: str):
        precision.canonical(value)  # an unknown name is refused now
        self._value = value
        self._choice = None
        self._printed = False

    @property
    def choice(self) -> precision.Choice:
        if self._choice is None:
            self._choice = precision.choose(self._value)
        return self._choice

    @property
    def policy(self) -> str:
        return self.choice.policy

    def announce(self) -> str:
        """Prints the choice (the first time only); returns the policy name."""
        if not self._printed:
            self._printed = True
            print(self.choice.describe(), file=sys.stderr, flush=True)
        return self.policy


class _PathListParser(flags.ListParser):
    """A comma-separated list of paths in which an existing path is taken as it is named:
    a value that is itself an existing path is one path (commas and all); otherwise the
    value is split as CSV (so '"a,b.jpg",c.jpg' quotes a comma) and pieces that together
    name an existing file are rejoined (`image_io.join_split_paths`)."""

    def parse(self, argument):
        import os

        from keras_style import image_io

        if isinstance(argument, str) and argument.strip() and os.path.lexists(os.path.expanduser(argument.strip())):
            return [argument.strip()]
        values = super().parse(argument)
        return image_io.join_split_paths(values) if isinstance(values, list) and values else values


def define_path_list(name: str, default, help: str, flag_values=flags.FLAGS):
    """`flags.DEFINE_list` for file paths (--style, --mask, --style_images): a file whose
    name holds a comma can be passed (see `_PathListParser`)."""
    return flags.DEFINE(_PathListParser(), name, default, help, flag_values,
                        serializer=flags.CsvListSerializer(","))
