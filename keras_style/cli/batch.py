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
"""

from __future__ import annotations

import logging
import os
import sys

from absl import app, flags

from keras_style import precision
from keras_style.cli import common
from keras_style.native_logs import import_tensorflow
from keras_style.errors import StyleError

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
                                     "existing file given here needs --overwrite.")

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
        failures_file=_FAILURES_FILE.value,
        precision=precision.resolve(_PRECISION.value),
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


def _import_beam():
    try:
        import apache_beam  # noqa: F401
    except ImportError as e:
        if e.name == "apache_beam":
            raise StyleError("style_batch needs Apache Beam; install it with: pip install 'keras-style[beam]'") from None
        raise StyleError(f"Apache Beam is installed but cannot be imported ({e}); reinstall 'keras-style[beam]'") from None


def main(argv):
    del argv
    if not flags.FLAGS["verbosity"].present:
        _quiet_beam_warnings()
    _import_beam()
    import_tensorflow()  # before Beam pulls it in, so its native start-up lines are filtered
    from keras_style.batch.beam_pipeline import run_batch

    result = run_batch(_config(), _pipeline_args)
    failures = result["failures"]
    print(
        f"stylized {result['stylized']} of {result['inputs']} image(s) into {_OUTPUT_DIR.value}; "
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
