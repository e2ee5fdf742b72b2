r"""AdaIN arbitrary style transfer speed: SavedModel vs the TFLite pair (fp16, dynamic).

  python benchmarks/adain_benchmark.py [--sizes=512,1024] [--style_size=512] [--repeats=10]
  python benchmarks/adain_benchmark.py --model=saved_models/adain/saved_model   # a trained one
  # smoke run: --sizes=64 --style_size=64 --repeats=1 --train_steps=1

An `AdaINStyleTransfer` (VGG19 encoder with the cached weights, random decoder: the speed
does not depend on the decoder's weights) is exported as a SavedModel and converted to
the TFLite pair (style_encode + stylize files) in float16 and dynamic-range int8. Then,
per (format, size), in a fresh child process (`python -c` importing numpy and
keras_style.inference only; the .tflite pair runs on LiteRT and must not import
TensorFlow, checked: column "TF"):

  * whole s: parent's clock just before the child starts -> first output ready: imports,
    model load, one style encode (a --style_size² style image), one stylize call;
  * warm ms: median `stylize` (content encoder + AdaIN + decoder, style statistics
    precomputed) over --repeats calls after 2 warm-up calls; ms/MP per megapixel;
    vs SM: warm latency / the SavedModel's at the same size (same run);
  * encode ms: median `prepare_style` (VGG19 to relu4_1 on the style image, statistics);
  * peak RSS: ru_maxrss of that child (MiB).

Also training throughput: images/s of the real AdaINTask + Trainer at crop 128, batch 8
(short side 128-256, as flags/adain.cfg), median over --train_steps steps after 2
warm-up steps.
"""

from __future__ import annotations

import os
import shutil
import sys

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _bench  # noqa: E402

FLAGS = flags.FLAGS

# Format label -> convert_adain_to_tflite's `quantize` (None: the SavedModel itself).
FORMATS = {"saved_model": None, "fp32": "none", "fp16": "float16", "dynamic": "dynamic"}


def define_flags():
    flags.DEFINE_list("sizes", ["512", "1024"], "Square content sizes.")
    flags.DEFINE_list("formats", ["saved_model", "fp16", "dynamic"], f"Formats to run, from {', '.join(FORMATS)}.")
    flags.DEFINE_integer("style_size", 512, "Side of the square style image encoded.")
    flags.DEFINE_integer("repeats", 10, "Timed calls per measurement (after 2 warm-up calls).")
    flags.DEFINE_string("model", None, "An AdaIN SavedModel (or shipped model) to measure instead of a "
                        "random-decoder export.")
    flags.DEFINE_integer("train_steps", 5, "Timed training steps (after 2 warm-up steps); 0 skips training.")
    flags.DEFINE_integer("train_crop", 128, "Training crop size (a multiple of 8).")
    flags.DEFINE_integer("train_batch", 8, "Training batch size.")
    flags.DEFINE_string("content_data", _bench.EXAMPLE_CONTENT_DIR, "Training content images (folder/glob/tfds:).")
    flags.DEFINE_string("style_data", _bench.EXAMPLE_STYLES_DIR, "Training style images (folder/glob).")
    flags.DEFINE_string("vgg_weights", "auto", "VGG19 weights of the encoder.")
    flags.DEFINE_string("work_dir", None, "Where exports go (kept); default a temporary folder, deleted after.")
    flags.DEFINE_integer("child_timeout", 1800, "Seconds before a child process is killed.")


# --- Children ------------------------------------------------------------------------------------


def prepare(args: dict) -> dict:
    """(child) Exports the AdaIN SavedModel and converts the TFLite pairs.

    args: work_dir, formats, model (or None), vgg_weights.
    Returns {"files": {format: path to run}, "bytes": {format: int}}; a pair's "path to
    run" is its stylize file (the style_encode file is found by name), its bytes both files'.
    """
    import json

    import keras

    from keras_style.export.adain import convert_adain_to_tflite, export_adain_model
    from keras_style.inference import resolve_model
    from keras_style.models.adain_model import AdaINStyleTransfer

    folder = os.path.join(args["work_dir"], "adain")
    if args.get("model"):
        spec = resolve_model(args["model"], "saved_model")
        if spec.kind != "adain":
            raise SystemExit(f"--model {args['model']} is of kind '{spec.kind}', not adain")
        saved = os.path.abspath(spec.path)
        os.makedirs(folder, exist_ok=True)
        # Metadata beside the .tflite files, so the runtime reads the model's settings.
        with open(os.path.join(folder, "keras_style.json"), "w") as f:
            json.dump(spec.metadata, f)
    else:
        keras.utils.set_random_seed(0)
        model = AdaINStyleTransfer(encoder_weights=args["vgg_weights"])
        saved = export_adain_model(model, os.path.join(folder, "saved_model"), overwrite=True)
    files, sizes = {}, {}
    for fmt in args["formats"]:
        quantize = FORMATS[fmt]
        if quantize is None:
            files[fmt], sizes[fmt] = saved, _bench.dir_bytes(saved)
            continue
        pair = convert_adain_to_tflite(saved, folder + os.sep, quantize=quantize, overwrite=True)
        files[fmt] = pair["stylize"]
        sizes[fmt] = sum(_bench.dir_bytes(p) for p in pair.values())
    return {"files": files, "bytes": sizes}


def train(args: dict) -> dict:
    """(child) Training images/s of AdaINTask through the Trainer."""
    from keras_style.tasks.adain import AdaINConfig, AdaINTask

    crop = args["crop"]
    config = AdaINConfig(
        content_data=args["content_data"], style_data=args["style_data"], crop_size=crop,
        short_side_range=(crop, 2 * crop), batch_size=args["batch"], weights=args["vgg_weights"], seed=0,
    )
    return _bench.time_training(AdaINTask(config), args["steps"])


# --- Parent --------------------------------------------------------------------------------------


def prepare_models(work_dir, formats, model=None, vgg_weights="auto", timeout_s=None) -> dict:
    """Runs `prepare` in a child (so this process never imports TensorFlow)."""
    args = {"work_dir": work_dir, "formats": formats, "model": model, "vgg_weights": vgg_weights}
    return _bench.run_function("adain_benchmark", "prepare", args, timeout_s).data


def measure(prepared: dict, fmt: str, size: int, style_size: int, repeats: int, timeout_s=None) -> dict:
    """One (format, size) in a fresh child: style encode once, then stylize."""
    return _bench.run_stylizer(prepared["files"][fmt], size, repeats, style_size=style_size,
                               forbid_tensorflow=fmt != "saved_model", timeout_s=timeout_s)


def measure_training(content_data, style_data, crop, batch, steps, vgg_weights="auto", timeout_s=None) -> dict:
    args = {"content_data": content_data, "style_data": style_data, "crop": crop, "batch": batch,
            "steps": steps, "vgg_weights": vgg_weights}
    result = _bench.run_function("adain_benchmark", "train", args, timeout_s)
    return {**result.data, "peak_rss_mb": result.peak_rss_mb}


def main(argv):
    del argv
    sizes = _bench.int_list(FLAGS.sizes, "sizes")
    formats = list(FLAGS.formats)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise SystemExit(f"unknown --formats {unknown}; choose from {', '.join(FORMATS)}")
    model = os.path.abspath(FLAGS.model) if FLAGS.model and os.path.exists(FLAGS.model) else FLAGS.model
    work, cleanup = _bench.work_dir(FLAGS.work_dir, "adain_bench_")
    timeout = FLAGS.child_timeout
    try:
        print("exporting and converting ...", file=sys.stderr, flush=True)
        prepared = prepare_models(work, formats, model, FLAGS.vgg_weights, timeout)
        rows = []
        for size in sizes:
            for fmt in formats:
                print(f"  {fmt} {size}^2 ...", file=sys.stderr, flush=True)
                rows.append({"fmt": fmt, "size": size,
                             **measure(prepared, fmt, size, FLAGS.style_size, FLAGS.repeats, timeout)})
        training = None
        if FLAGS.train_steps > 0:
            print("training ...", file=sys.stderr, flush=True)
            training = measure_training(FLAGS.content_data, FLAGS.style_data, FLAGS.train_crop, FLAGS.train_batch,
                                        FLAGS.train_steps, FLAGS.vgg_weights, timeout)
    finally:
        if cleanup:
            shutil.rmtree(work, ignore_errors=True)

    print(_bench.machine_line())
    print(f"AdaIN, one content image per call, style {FLAGS.style_size}x{FLAGS.style_size} encoded once; warm = median "
          f"of {FLAGS.repeats} after {_bench.WARMUPS} warm-ups; whole = process start -> first output ready "
          "(includes one style encode)")
    baseline = {r["size"]: r["warm_s"] for r in rows if r["fmt"] == "saved_model"}
    table = []
    for r in rows:
        base_warm = baseline.get(r["size"])
        table.append([
            r["fmt"], str(r["size"]), _bench.fmt(r["whole_s"], ".2f"), _bench.fmt(r["warm_s"] * 1e3, ".1f"),
            _bench.fmt(r["warm_s"] * 1e3 / _bench.megapixels(r["size"]), ".0f"),
            _bench.fmt(r["warm_s"] / base_warm if base_warm else None, ".2f"),
            _bench.fmt(r["style_warm_s"] * 1e3, ".1f"), _bench.fmt(r["style_cold_s"] * 1e3, ".0f"),
            _bench.fmt(r["peak_rss_mb"], ".0f"), _bench.fmt(prepared["bytes"][r["fmt"]] / 1e6, ".1f"),
            "yes" if r["tf_imported"] else "no",
        ])
    _bench.print_table(["format", "size", "whole s", "warm ms", "ms/MP", "vs SM", "encode ms", "encode cold ms",
                        "peak RSS MB", "model MB", "TF"], table)
    if training:
        print(f"training (AdaINTask + Trainer, crop {FLAGS.train_crop}, batch {FLAGS.train_batch}): "
              f"{training['images_per_s']:.2f} images/s ({training['step_s']:.2f} s/step, median of "
              f"{training['timed_steps']} steps after {_bench.WARMUPS} warm-up; first step "
              f"{training['first_step_s']:.1f} s), peak RSS {training['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    define_flags()
    app.run(main)
