r"""style_evaluate: compare style-transfer methods on content × style images (E, C, palette, losses, time).

  style_evaluate --content=photos/ --style=styles/ \
      --methods=gatys,saved_models/starry_night,saved_models/adain \
      --image_size=256 --iterations=300 --output_dir=eval

Writes eval/results.csv (one row per pair; a rerun resumes, skipping pairs
already there), summary.csv, ec_scatter.png, loss_time.png and one contact
sheet per method (sheet_<method>.jpg), and prints the summary table.
`--methods=folder:DIR` scores images another tool made for the same pairs
(DIR/<content stem>__<style stem>.png, at --image_size; seconds and peak memory
from DIR/timings.csv when it is there). Figures
need matplotlib: pip install 'keras-style[eval]'. Metric definitions:
keras_style/evaluation/metrics.py.
"""

from __future__ import annotations

import sys

from absl import flags

from keras_style.cli import common
# None of these imports TensorFlow: --help and input errors answer without it.
from keras_style.evaluation import evaluate
from keras_style.evaluation.evaluate import PALETTE_MODES, EvaluationConfig
from keras_style.gatys import GatysConfig

_D = EvaluationConfig(content="", style="")  # flag defaults come from the library config
_G = GatysConfig()

_CONTENT = flags.DEFINE_string("content", None, "Content images: a directory, a glob, a file or a,b,c.")
_STYLE = flags.DEFINE_string("style", None, "Style images: a directory, a glob, a file or a,b,c.")
_METHODS = flags.DEFINE_list(
    "methods", list(_D.methods),
    "Methods to compare: 'gatys', models (SavedModel directory, .tflite file or shipped name) and/or "
    "'folder:DIR' (another tool's outputs, DIR/<content>__<style>.png; DIR/timings.csv optional).",
)
_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Where results, figures and contact sheets go (created).")
_SIZE = flags.DEFINE_integer("image_size", _D.image_size, "Long side of every image given to the methods.")
_ITERATIONS = flags.DEFINE_integer("iterations", _D.iterations, "Gatys budget: loss-and-gradient evaluations.")
_STYLE_WEIGHT = flags.DEFINE_float("style_weight", _G.style_weight, "Gatys style weight.")
_CONTENT_WEIGHT = flags.DEFINE_float("content_weight", _G.content_weight, "Gatys content weight.")
_SEED = flags.DEFINE_integer("seed", _D.seed, "Gatys random seed.")
_CELL = flags.DEFINE_integer("cell_size", _D.cell_size, "Contact sheet cell size in pixels.")
_MAX_PAIRS = flags.DEFINE_integer("max_pairs", None, "Evaluate only the first N pairs of the grid "
                                  "(content, then style, then method order).")
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Replace an existing summary.csv, figures, contact sheets and output "
                               "images.")
_WEIGHTS = flags.DEFINE_string("weights", "auto", "VGG19 weights for the metrics and Gatys: auto (cached, else "
                               "fetched once), imagenet, or a Keras .h5 file.")
_PRECISION = common.define_precision_flag("Applies to Gatys; the metrics always score in float32.")
_ALPHAS = flags.DEFINE_list(
    "alphas", [f"{a:g}" for a in _D.alphas],
    "Style strengths in [0, 1] for the any-style models (AdaIN, MetaNet), each scored as a method of its "
    "own (<model>_alpha<a>), e.g. 1,0.8,0.6 for the E-versus-C trade-off; other methods run once.",
)
_STYLE_PALETTE = flags.DEFINE_enum(
    "style_palette", _D.style_palette, list(PALETTE_MODES),
    "The any-style models' palette step (the style's colour mean and covariance given to the output, as "
    "style_transfer does by default): on, off, or both (the raw outputs scored as <model>_nopalette).",
)
_MAX_PIXELS = flags.DEFINE_integer("max_image_pixels", None, "Refuse input images with more pixels than this "
                                   "(decompression-bomb guard); default: the library's limit.")

flags.mark_flags_as_required(["content", "style", "output_dir"])


def _config() -> EvaluationConfig:
    extra = {} if _MAX_PIXELS.value is None else {"max_pixels": _MAX_PIXELS.value}
    return EvaluationConfig(
        content=_CONTENT.value,
        style=_STYLE.value,
        methods=_METHODS.value,
        output_dir=_OUTPUT_DIR.value,
        image_size=_SIZE.value,
        iterations=_ITERATIONS.value,
        seed=_SEED.value,
        cell_size=_CELL.value,
        max_pairs=_MAX_PAIRS.value,
        overwrite=_OVERWRITE.value,
        gatys=GatysConfig(style_weight=_STYLE_WEIGHT.value, content_weight=_CONTENT_WEIGHT.value),
        weights=_WEIGHTS.value,
        precision=_PRECISION.value,
        alphas=common.float_list(_ALPHAS.value, "alphas") or [],
        style_palette=_STYLE_PALETTE.value,
        **extra,
    )


def main(argv):
    del argv
    bar = {}

    def on_progress(done, total, message):
        precision_line.announce()  # after every check, when the work has started
        if "bar" not in bar:
            bar["bar"] = common.ProgressBar(total, label="evaluate")
        # Every finished pair gets a line; reports from inside a long Gatys pair are
        # drawn in place on a terminal and thinned to one every few seconds in a log.
        bar["bar"].update(done, message, force=done != bar.get("done"))
        bar["done"] = done

    config = _config()
    # Resolved (for `auto`, by TensorFlow) at the first progress report, after every input
    # check; `evaluate` resolves `config.precision` the same way for Gatys.
    precision_line = common.PrecisionLine(config.precision)
    result = evaluate(config, on_progress=on_progress)
    print(result["table"])
    print(
        f"{result['new_pairs']} new pair(s), {result['skipped_pairs']} already done; results in "
        f"{result['results_csv']}, summary in {result['summary_csv']}",
        file=sys.stderr,
    )
    return 0


def run():
    common.run(main)


if __name__ == "__main__":
    run()
