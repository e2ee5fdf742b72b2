r"""style_batch: stylize many images with an exported model on an Apache Beam pipeline.

  style_batch --input=photos/ --model=saved_models/starry_night/saved_model --output_dir=styled/
  style_batch --input=list.txt --model=saved_models/adain/saved_model --style=wave.jpg --alpha=0.8 \
      --output_dir=styled/ --output_format=jpg
  style_batch --input='gs://bucket/photos/*.jpg' --model=gs://bucket/models/starry/saved_model \
      --output_dir=gs://bucket/styled --runner=DataflowRunner --project=P --region=R \
      --temp_location=gs://bucket/tmp

Needs Apache Beam: pip install 'keras-style[beam]'. Runs on the DirectRunner
unless --runner says otherwise; any flag not listed by --helpfull as a
style_batch flag is passed to Beam's PipelineOptions (on the command line, not
in a --flagfile). Unreadable or corrupt images are skipped, counted and listed
at the end (and in style_batch_failures.txt); the exit status is 1 only if no
image was stylized. Runner examples: keras_style/batch/beam_pipeline.py.

Progress (images done, images per second, time left) goes to stderr: one redrawn
line on a terminal, a line every --progress_every seconds otherwise. Ctrl-C or
SIGTERM stops the run with one line and exit status 130 or 143: worker
processes are killed and temporary files removed; the outputs already written
stay (an output is only ever written whole), and --resume skips them:

  style_batch --input=photos/ --model=starry_night --output_dir=styled/ --resume
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time

from absl import app, flags

from keras_style import native_logs, precision
from keras_style.cli import common

_INPUT = flags.DEFINE_string("input", None, "Images: a directory, a glob, a file, a,b,c, a .txt list of paths "
                             "(one a line), or a gs://... pattern.")
_MODEL = flags.DEFINE_string("model", None, "Exported SavedModel directory (fast_style, adain or metanet) or "
                             "shipped model name.")
_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Where outputs go, named after the inputs (created if missing).")
_STYLE = flags.DEFINE_string("style", None, "Style image, for arbitrary-style models (adain, metanet).")
_ALPHA = flags.DEFINE_float(
    "alpha", None, "Style strength 0..1, for arbitrary-style models; default: the model's recorded default "
    "alpha (the shipped adain: 0.6), else 1.")
_STYLE_PALETTE = flags.DEFINE_bool(
    "style_palette", True, "Arbitrary-style models: give each output the --style image's colour mean and "
    "covariance (in full at any --alpha), as style_transfer does; --nostyle_palette: the network's own colours.")
_OUTPUT_FORMAT = flags.DEFINE_string("output_format", "png", "png, jpg, webp, bmp or tiff.")
_QUALITY = flags.DEFINE_integer("quality", 95, "JPEG / WebP quality, 1 to 100.")
_MAX_SIZE = flags.DEFINE_integer("max_size", None, "Resize each input so its long side is this many pixels.")
_MAX_PIXELS = flags.DEFINE_integer("max_image_pixels", None, "Refuse input images with more pixels than this "
                                   "(decompression-bomb guard); default: the library's limit.")
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Replace existing output files.")
_PRECISION = common.define_precision_flag(
    "A local fast-style, AdaIN or MetaNet SavedModel runs from a copy computing in it, made once and kept in "
    "$KERAS_STYLE_CACHE (default ~/.cache/keras_style).")
_FAILURES_FILE = flags.DEFINE_string("failures_file", None, "Where to list failed inputs (path<TAB>reason); "
                                     "default OUTPUT_DIR/style_batch_failures.txt, replaced each run. An "
                                     "existing file given here needs --overwrite (or --resume).")
_RESUME = flags.DEFINE_bool(
    "resume", False, "Skip the inputs whose output exists (an interrupted run's: outputs are only ever written "
    "whole) and stylize the rest; not with --overwrite.")
_PROGRESS_EVERY = flags.DEFINE_float(
    "progress_every", 5.0, "Seconds between progress lines (images done, images per second, time left) when "
    "stderr is not a terminal; a terminal gets one line, redrawn.", lower_bound=0.0)

flags.mark_flags_as_required(["input", "model", "output_dir"])

# absl handles these itself; they are not registered flags.
_ABSL_SPECIAL = ("flagfile", "undefok")
_SHOWN_FAILURES = 20
_pipeline_args: list[str] = []


def split_pipeline_args(argv: list[str]) -> tuple[list[str], list[str]]:
    """Splits argv into (this command's, Beam's): a `--name[=value]` that is not an absl
    flag of this command is Beam's, with the next argument as its value when it has
    no `=` and the next one is not a flag."""
    ours, beam = argv[:1], []
    i = 1
    while i < len(argv):
        arg = argv[i]
        name = arg[2:].split("=", 1)[0] if arg.startswith("--") and len(arg) > 2 else None
        known = name is None or name in _ABSL_SPECIAL or name in flags.FLAGS or (
            name.startswith("no") and name[2:] in flags.FLAGS)
        if known:
            ours.append(arg)
        else:
            beam.append(arg)
            if "=" not in arg and i + 1 < len(argv) and not argv[i + 1].startswith("-"):
                i += 1
                beam.append(argv[i])
        i += 1
    return ours, beam


def _config():
    from keras_style.batch.beam_pipeline import BatchConfig

    extra = {} if _MAX_PIXELS.value is None else {"max_pixels": _MAX_PIXELS.value}
    return BatchConfig(
        input=_INPUT.value,
        model=_MODEL.value,
        output_dir=_OUTPUT_DIR.value,
        style=_STYLE.value,
        alpha=_ALPHA.value,
        style_palette=_STYLE_PALETTE.value,
        output_format=_OUTPUT_FORMAT.value,
        quality=_QUALITY.value,
        max_size=_MAX_SIZE.value,
        overwrite=_OVERWRITE.value,
        resume=_RESUME.value,
        failures_file=_FAILURES_FILE.value,
        precision=precision.canonical(_PRECISION.value),  # resolved by run_batch, after its input checks
        **extra,
    )


class _BeamWarningFilter(logging.Filter):
    """Drops Beam's records below ERROR, whatever logger they use (some go to the root)."""

    _marker = f"{os.sep}apache_beam{os.sep}"

    def filter(self, record):
        return record.levelno >= logging.ERROR or self._marker not in (record.pathname or "")


def _quiet_beam_warnings():
    # Beam's Python-side warnings (optional GCP clients missing, no resource module)
    # would bury the summary and a user error's one line; --verbosity=0 shows them.
    root = logging.getLogger()
    for target in [root, *root.handlers]:
        target.addFilter(_BeamWarningFilter())


# Lines that Beam's worker processes (--direct_running_mode=multi_processing) print
# straight to the stderr they inherit, in Python's default logging format.
_WORKER_LOG_LINE = re.compile(r"^(DEBUG|INFO|WARNING):[\w.<>-]+:")


def _is_chatter(line: str) -> bool:
    return bool(_WORKER_LOG_LINE.match(line)) or native_logs.is_native_chatter(line)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class _RunOutput:
    """What the terminal shows while the pipeline runs: a progress bar (images done, images
    per second, time left) and status lines, on a copy of stderr, while stderr itself (file
    descriptor 2, which worker processes inherit) is held.

    On leaving, what was held is written out without Beam's and TensorFlow's chatter, or
    dropped when the run was interrupted (its one line then says so). `hold=False`
    (--verbosity given) holds nothing.
    """

    def __init__(self, hold: bool, every_seconds: float):
        self._hold = hold
        self._every_seconds = every_seconds
        self._bar = None
        self._rate_from = None  # (time, done) when the first output appeared
        self._open_line = False
        self._held = None
        try:
            self.stream = os.fdopen(os.dup(sys.stderr.fileno()), "w", encoding=sys.stderr.encoding or "utf-8",
                                    errors="replace")
        except (AttributeError, OSError, ValueError):  # no real stderr (embedded, notebooks)
            self.stream, self._hold = sys.stderr, False

    def __enter__(self):
        if self._hold:
            self._held = native_logs.captured_stderr()
            self._held_text = self._held.__enter__()
        return self

    def __exit__(self, kind, error, tb):
        self._end_line()
        if self._held is not None:
            self._held.__exit__(kind, error, tb)
            if not (kind is not None and issubclass(kind, KeyboardInterrupt)):
                kept = [line for line in "".join(self._held_text).splitlines(True) if not _is_chatter(line)]
                if kept:
                    sys.stderr.write("".join(kept))
                    sys.stderr.flush()
        if self.stream is not sys.stderr:
            self.stream.close()
        return False

    def log(self, line: str) -> None:
        self._end_line()
        self.stream.write(line + "\n")
        self.stream.flush()

    def progress(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if self._bar is None:
            self._bar = common.ProgressBar(total, label="stylizing", stream=self.stream,
                                           every_seconds=self._every_seconds)
        if self._rate_from is None and done > 0:
            self._rate_from = (now, done)
        rate = None
        if self._rate_from is not None and done > self._rate_from[1] and now > self._rate_from[0]:
            rate = (done - self._rate_from[1]) / (now - self._rate_from[0])
        if done >= total:
            message = ""
        elif rate:
            message = f"{rate:.2f} images/s, {_duration((total - done) / rate)} left"
        else:
            message = "-- images/s"
        self._bar.update(done, message)
        self._open_line = self._bar.tty and done < total

    def _end_line(self) -> None:
        # A terminal's bar has no newline until it is full; a line printed after it
        # (an error, a status line) starts on a line of its own.
        if self._open_line:
            self.stream.write("\n")
            self.stream.flush()
            self._open_line = False


def main(argv):
    del argv
    verbose = flags.FLAGS["verbosity"].present
    if not verbose:
        _quiet_beam_warnings()
    # Beam and TensorFlow load inside, once the inputs are checked (`keras_style.cli`
    # filters TensorFlow's start-up lines whoever imports it first).
    from keras_style.batch.beam_pipeline import run_batch

    config = _config()
    with _RunOutput(hold=not verbose, every_seconds=_PROGRESS_EVERY.value) as output:
        result = run_batch(config, _pipeline_args, on_progress=output.progress, log=output.log)
    failures = result["failures"]
    skipped = f" ({result['skipped']} skipped: their outputs exist)" if config.resume else ""
    print(
        f"stylized {result['stylized']} of {result['inputs']} image(s) into {_OUTPUT_DIR.value}{skipped}; "
        f"{result['bad_images']} bad image(s), {result['failed_images']} failed; computed in {result['precision']}",
        file=sys.stderr,
    )
    for path, reason in failures[:_SHOWN_FAILURES]:
        print(f"  {path}: {reason}", file=sys.stderr)
    if len(failures) > _SHOWN_FAILURES:
        print(f"  ... and {len(failures) - _SHOWN_FAILURES} more, listed in {result['failures_file']}", file=sys.stderr)
    return 1 if failures and not result["stylized"] else 0


def run():
    app.define_help_flags()  # so --help is recognised as ours below
    ours, beam = split_pipeline_args(sys.argv)
    sys.argv[:] = ours
    _pipeline_args[:] = beam
    common.run(main)


if __name__ == "__main__":
    run()
