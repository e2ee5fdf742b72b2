r"""MetaNet (Shen et al. 2018) speed and size: weight generation and stylize_with_weights.

  python benchmarks/metanet_benchmark.py [--sizes=512,1024] [--style_size=256] [--repeats=10]
  python benchmarks/metanet_benchmark.py --model=saved_models/metanet/saved_model   # a trained one
  # smoke run: --sizes=64 --style_size=64 --repeats=1

A MetaNet (base 8, 128 hidden units per generated conv: MetaNetConfig's defaults) with
random weights and its GeneratedTransformNet are exported as MetaNetTask does
(`export_metanet_model`, statistics from VGG19 with the cached weights) and converted to
the TFLite pair (style_to_weights + stylize_with_weights files) in float16. Then, per
(format, size), in a fresh child process (`python -c` importing numpy and
keras_style.inference only; the .tflite pair runs on LiteRT and must not import
TensorFlow, checked: column "TF"):

  * whole s: parent's clock just before the child starts -> first output ready: imports,
    model load, weights generated once from a --style_size² style image, one stylize;
  * styles/s: 1 / median `prepare_style` (VGG19 statistics of the style image, resized to
    the model's style size if it differs, + the MetaNet), --repeats calls after 2 warm-ups;
  * images/s, warm ms: median `stylize` with the generated weights (the
    stylize_with_weights signature); ms/MP per megapixel; vs SM: warm latency / the
    SavedModel's at the same size (same run);
  * peak RSS: ru_maxrss of that child (MiB).

Also the MetaNet's size: the SavedModel directory's bytes (VGG19 to block4_conv3 + the
MetaNet + the transform net's shared weights), the TFLite files' bytes, the MetaNet's
parameter count and P, the number of conv weights it generates per style.
"""

from __future__ import annotations

import os
import shutil
import sys

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _bench  # noqa: E402

FLAGS = flags.FLAGS

# Format label -> convert_metanet_to_tflite's `quantize` (None: the SavedModel itself).
FORMATS = {"saved_model": None, "fp32": "none", "fp16": "float16", "dynamic": "dynamic"}


def define_flags():
    flags.DEFINE_list("sizes", ["512", "1024"], "Square content sizes.")
    flags.DEFINE_list("formats", ["saved_model", "fp16"], f"Formats to run, from {', '.join(FORMATS)}.")
    flags.DEFINE_integer("style_size", 256, "Side of the square style image the weights are generated from "
                         "(also the exported model's training style size).")
    flags.DEFINE_integer("repeats", 10, "Timed calls per measurement (after 2 warm-up calls).")
    flags.DEFINE_integer("base", 8, "Width of the generated TransformNet.")
    flags.DEFINE_integer("hidden_per_layer", 128, "MetaNet hidden units per generated conv.")
    flags.DEFINE_string("model", None, "A MetaNet SavedModel (or shipped model) to measure instead of a "
                        "random export; --base and --hidden_per_layer are then read from it.")
    flags.DEFINE_string("vgg_weights", "auto", "VGG19 weights of the statistics network.")
    flags.DEFINE_string("work_dir", None, "Where exports go (kept); default a temporary folder, deleted after.")
    flags.DEFINE_integer("child_timeout", 1800, "Seconds before a child process is killed.")


# --- Children ------------------------------------------------------------------------------------


def prepare(args: dict) -> dict:
    """(child) Exports the MetaNet SavedModel (as MetaNetTask would) and converts TFLite pairs.

    args: work_dir, formats, model (or None), base, hidden_per_layer, style_size, vgg_weights.
    Returns {"files": {format: path to run}, "bytes": {format: {part: int}}, "base",
             "hidden_per_layer", "metanet_params", "generated_params"}.
    """
    import json

    import keras

    from keras_style.export.metanet import convert_metanet_to_tflite, export_metanet_model
    from keras_style.inference import resolve_model
    from keras_style.models.metanet_model import MetaNetStyleTransfer

    folder = os.path.join(args["work_dir"], "metanet")
    if args.get("model"):
        spec = resolve_model(args["model"], "saved_model")
        if spec.kind != "metanet":
            raise SystemExit(f"--model {args['model']} is of kind '{spec.kind}', not metanet")
        saved = os.path.abspath(spec.path)
        base, hidden = int(spec.metadata["base"]), int(spec.metadata["hidden_per_layer"])
        metanet = MetaNetStyleTransfer(base=base, hidden_per_layer=hidden).metanet  # only to count its parameters
        os.makedirs(folder, exist_ok=True)
        # Metadata beside the .tflite files, so the runtime reads the model's style size.
        with open(os.path.join(folder, "keras_style.json"), "w") as f:
            json.dump(spec.metadata, f)
    else:
        base, hidden = args["base"], args["hidden_per_layer"]
        keras.utils.set_random_seed(0)
        model = MetaNetStyleTransfer(base=base, hidden_per_layer=hidden)  # what MetaNetTask trains
        metanet = model.metanet
        saved = export_metanet_model(model, os.path.join(folder, "saved_model"), overwrite=True,
                                     vgg_weights=args["vgg_weights"], style_size=args["style_size"])
    files, sizes = {}, {}
    for fmt in args["formats"]:
        quantize = FORMATS[fmt]
        if quantize is None:
            files[fmt], sizes[fmt] = saved, {"saved_model": _bench.dir_bytes(saved)}
            continue
        pair = convert_metanet_to_tflite(saved, folder + os.sep, quantize=quantize, overwrite=True)
        files[fmt] = pair["style_to_weights"]
        sizes[fmt] = {role: _bench.dir_bytes(p) for role, p in pair.items()}
    return {"files": files, "bytes": sizes, "base": base, "hidden_per_layer": hidden,
            "metanet_params": int(metanet.count_params()), "generated_params": int(metanet.num_generated_params)}


# --- Parent --------------------------------------------------------------------------------------


def prepare_models(work_dir, formats, model=None, base=8, hidden_per_layer=128, style_size=256,
                   vgg_weights="auto", timeout_s=None) -> dict:
    """Runs `prepare` in a child (so this process never imports TensorFlow)."""
    args = {"work_dir": work_dir, "formats": formats, "model": model, "base": base,
            "hidden_per_layer": hidden_per_layer, "style_size": style_size, "vgg_weights": vgg_weights}
    return _bench.run_function("metanet_benchmark", "prepare", args, timeout_s).data


def measure(prepared: dict, fmt: str, size: int, style_size: int, repeats: int, timeout_s=None) -> dict:
    """One (format, size) in a fresh child: weights generated once, then stylize_with_weights."""
    return _bench.run_stylizer(prepared["files"][fmt], size, repeats, style_size=style_size,
                               forbid_tensorflow=fmt != "saved_model", timeout_s=timeout_s)


def main(argv):
    del argv
    sizes = _bench.int_list(FLAGS.sizes, "sizes")
    formats = list(FLAGS.formats)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise SystemExit(f"unknown --formats {unknown}; choose from {', '.join(FORMATS)}")
    model = os.path.abspath(FLAGS.model) if FLAGS.model and os.path.exists(FLAGS.model) else FLAGS.model
    work, cleanup = _bench.work_dir(FLAGS.work_dir, "metanet_bench_")
    timeout = FLAGS.child_timeout
    try:
        print("exporting and converting ...", file=sys.stderr, flush=True)
        prepared = prepare_models(work, formats, model, FLAGS.base, FLAGS.hidden_per_layer, FLAGS.style_size,
                                  FLAGS.vgg_weights, timeout)
        rows = []
        for size in sizes:
            for fmt in formats:
                print(f"  {fmt} {size}^2 ...", file=sys.stderr, flush=True)
                rows.append({"fmt": fmt, "size": size,
                             **measure(prepared, fmt, size, FLAGS.style_size, FLAGS.repeats, timeout)})
    finally:
        if cleanup:
            shutil.rmtree(work, ignore_errors=True)

    print(_bench.machine_line())
    print(f"MetaNet base {prepared['base']}, hidden {prepared['hidden_per_layer']}/conv; weights generated from a "
          f"{FLAGS.style_size}x{FLAGS.style_size} style; warm = median of {FLAGS.repeats} after {_bench.WARMUPS} "
          "warm-ups; whole = process start -> first output ready (includes one weight generation)")
    baseline = {r["size"]: r["warm_s"] for r in rows if r["fmt"] == "saved_model"}
    table = []
    for r in rows:
        base_warm = baseline.get(r["size"])
        table.append([
            r["fmt"], str(r["size"]), _bench.fmt(r["whole_s"], ".2f"),
            _bench.fmt(1.0 / r["style_warm_s"], ".2f"), _bench.fmt(r["style_warm_s"] * 1e3, ".1f"),
            _bench.fmt(1.0 / r["warm_s"], ".2f"), _bench.fmt(r["warm_s"] * 1e3, ".1f"),
            _bench.fmt(r["warm_s"] * 1e3 / _bench.megapixels(r["size"]), ".0f"),
            _bench.fmt(r["warm_s"] / base_warm if base_warm else None, ".2f"),
            _bench.fmt(r["peak_rss_mb"], ".0f"), "yes" if r["tf_imported"] else "no",
        ])
    _bench.print_table(["format", "size", "whole s", "styles/s", "style ms", "images/s", "image ms", "ms/MP",
                        "vs SM", "peak RSS MB", "TF"], table)
    params = prepared["metanet_params"]
    print(f"MetaNet parameters: {params:,} ({params * 4 / 1e6:.1f} MB as float32); generated conv weights per "
          f"style P = {prepared['generated_params']:,}")
    for fmt, parts in prepared["bytes"].items():
        what = " + ".join(f"{role} {n / 1e6:.1f} MB" for role, n in parts.items())
        total = sum(parts.values()) / 1e6
        note = " (VGG19 to block4_conv3 + MetaNet + shared transform weights)" if fmt == "saved_model" else ""
        print(f"size on disk, {fmt}: {total:.1f} MB{note}" + (f" = {what}" if len(parts) > 1 else ""))


if __name__ == "__main__":
    define_flags()
    app.run(main)
