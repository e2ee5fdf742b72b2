r"""One table to pick a style transfer method by speed: Gatys, fast style, AdaIN, MetaNet.

  python benchmarks/speed_report.py [--sizes=256,512,1024] [--repeats=10] [--gatys_budget=300]
  # smoke run: --sizes=64 --repeats=1 --gatys_evals=3 --style_size=64

Every method runs at every size, each (method, size) in a fresh child process, so peak
RSS is that configuration's own:

  * Gatys (L-BFGS optimisation, `keras_style.gatys.stylize`, VGG19, default loss):
    --gatys_evals evaluations are run for real; seconds per evaluation = median interval
    between evaluations after 2 warm-up evaluations (L-BFGS's own work included). Warm
    latency = --gatys_budget x seconds per evaluation (the optimisation alone); whole-
    process = measured start -> end of the --gatys_evals run, plus the remaining
    (budget - evals) evaluations at the measured rate: an extrapolation, marked "~".
  * fast style, base 8 (the shipped width), random weights: TFLite fp16 (LiteRT, no
    TensorFlow imported) and SavedModel (fast_style_benchmark.py's export and children);
  * AdaIN SavedModel, random decoder (adain_benchmark.py's); a --style_size² style image
    is encoded once per process;
  * MetaNet SavedModel, base 8 (metanet_benchmark.py's); the transform weights are
    generated once per process from a --style_size² style image (resized to the model's
    256-px style size), then each image runs stylize_with_weights.

Columns: warm = median per-image latency with the model loaded (and the style prepared),
over --repeats calls after 2 warm-ups; whole = a one-image run, process start -> output
array ready (imports, load, style preparation, one image; no image decoding/encoding);
peak RSS = ru_maxrss of the child; GFLOP per image where an analytic count exists
(TransformNet, see fast_style_benchmark.py); "vs fast" = warm / fast style TFLite fp16's
at the same size (same run); "vs float32" = warm / the same method's float32 row (same run).
--precisions (default float32,mixed_bfloat16) gives Gatys and the fast-style and AdaIN
SavedModels one row each (the bfloat16 SavedModels are `style_export --precision` copies).
"""

from __future__ import annotations

import os
import shutil
import sys

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _bench  # noqa: E402
import adain_benchmark  # noqa: E402
import fast_style_benchmark  # noqa: E402
import metanet_benchmark  # noqa: E402

FLAGS = flags.FLAGS

METHODS = ("gatys", "fast_tflite_fp16", "fast_saved_model", "adain_saved_model", "metanet_saved_model")
FAST_BASE = 8
_LABELS = {
    "gatys": "Gatys L-BFGS",
    "fast_tflite_fp16": "fast style b8 TFLite fp16",
    "fast_saved_model": "fast style b8 SavedModel",
    "adain_saved_model": "AdaIN SavedModel",
    "metanet_saved_model": "MetaNet b8 SavedModel",
}


def define_flags():
    flags.DEFINE_list("sizes", ["256", "512", "1024"], "Square content sizes.")
    flags.DEFINE_list("methods", list(METHODS), f"Methods to run, from {', '.join(METHODS)}.")
    flags.DEFINE_list("precisions", ["float32", "mixed_bfloat16"], "Precisions of the TensorFlow rows (Gatys and "
                      "the fast-style and AdaIN SavedModels, as `style_export --precision` copies); TFLite rows are "
                      "fp16 and MetaNet SavedModels float32 only.")
    flags.DEFINE_integer("repeats", 10, "Timed calls per measurement (after 2 warm-up calls).")
    flags.DEFINE_integer("style_size", 512, "Side of the square style image for AdaIN and MetaNet.")
    flags.DEFINE_integer("gatys_budget", 300, "Gatys evaluations a stylization is costed at (style_gatys's "
                         "default --iterations).")
    flags.DEFINE_integer("gatys_evals", 12, "Gatys evaluations actually run per size (>= 3).")
    flags.DEFINE_string("vgg_weights", "auto", "VGG19 weights (Gatys, AdaIN encoder, MetaNet statistics).")
    flags.DEFINE_string("work_dir", None, "Where exports go (kept); default a temporary folder, deleted after.")
    flags.DEFINE_integer("child_timeout", 3600, "Seconds before a child process is killed.")


# --- Children ------------------------------------------------------------------------------------


def gatys(args: dict) -> dict:
    """(child) A real `gatys.stylize` run of args["evals"] evaluations at args["size"]²."""
    import time

    import numpy as np

    from keras_style import gatys as gatys_lib

    rng = np.random.default_rng(0)
    size = args["size"]
    content = rng.uniform(0.0, 255.0, (size, size, 3)).astype(np.float32)
    style = rng.uniform(0.0, 255.0, (size, size, 3)).astype(np.float32)
    stamps = []
    config = gatys_lib.GatysConfig(image_size=size, iterations=args["evals"], weights=args["vgg_weights"],
                                   precision=args.get("precision", "float32"))
    out = gatys_lib.stylize(None, content, [style], config=config, on_progress=lambda p: stamps.append(time.perf_counter()))
    ready = time.time()
    if not np.all(np.isfinite(out)):
        raise RuntimeError("Gatys output is not finite")
    intervals = np.diff(stamps)[_bench.WARMUPS - 1:]  # evaluations 3.. (2 warm-ups)
    return {"ready": ready, "evals": len(stamps), "eval_s": float(np.median(intervals)),
            "eval_times": intervals.tolist()}


def precision_copy(args: dict) -> dict:
    """(child) `style_export --precision` of a SavedModel: {"path": the copy}."""
    from keras_style.export.serving_precision import export_in_precision

    return {"path": export_in_precision(args["saved_model"], args["export_dir"], args["precision"])}


# --- Parent --------------------------------------------------------------------------------------


def measure_gatys(size, evals, budget, vgg_weights, timeout_s=None, precision="float32") -> dict:
    args = {"size": size, "evals": evals, "vgg_weights": vgg_weights, "precision": precision}
    result = _bench.run_function("speed_report", "gatys", args, timeout_s)
    data = result.data
    measured = data["ready"] - result.start
    return {
        "warm_s": budget * data["eval_s"],
        "whole_s": measured + max(0, budget - data["evals"]) * data["eval_s"],
        "estimated": budget > data["evals"],
        "peak_rss_mb": result.peak_rss_mb,
        "note": f"{budget} evals x {data['eval_s']:.3g} s/eval ({data['evals']} run, "
                f"{measured:.1f} s measured)",
    }


def main(argv):
    del argv
    sizes = _bench.int_list(FLAGS.sizes, "sizes")
    methods = list(FLAGS.methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise SystemExit(f"unknown --methods {unknown}; choose from {', '.join(METHODS)}")
    if "gatys" in methods and FLAGS.gatys_evals < _bench.WARMUPS + 1:
        raise SystemExit(f"--gatys_evals must be >= {_bench.WARMUPS + 1}")
    work, cleanup = _bench.work_dir(FLAGS.work_dir, "speed_report_")
    timeout, repeats, style_size = FLAGS.child_timeout, FLAGS.repeats, FLAGS.style_size
    results = {}  # (method, size) -> dict
    gflop = {}
    try:
        print("exporting and converting ...", file=sys.stderr, flush=True)
        fast_formats = [f for m, f in (("fast_saved_model", "saved_model"), ("fast_tflite_fp16", "fp16"))
                        if m in methods]
        fast = adain = metanet = None
        if fast_formats:
            fast = fast_style_benchmark.prepare_models(work, [FAST_BASE], sizes, fast_formats, timeout_s=timeout)
            gflop = {int(s): g["total"] for s, g in fast["gflop"][str(FAST_BASE)].items()}
        if "adain_saved_model" in methods:
            adain = adain_benchmark.prepare_models(work, ["saved_model"], vgg_weights=FLAGS.vgg_weights,
                                                   timeout_s=timeout)
        if "metanet_saved_model" in methods:
            metanet = metanet_benchmark.prepare_models(work, ["saved_model"], base=FAST_BASE,
                                                       vgg_weights=FLAGS.vgg_weights, timeout_s=timeout)
        precisions = list(FLAGS.precisions)
        copies = {}  # (method, precision) -> the prepared entry whose "saved_model" file computes in it
        for method, prepared in (("fast_saved_model", fast and fast["models"][0]), ("adain_saved_model", adain)):
            if method not in methods:
                continue
            for precision in precisions:
                if precision == "float32":
                    copies[method, precision] = prepared
                    continue
                args = {"saved_model": prepared["files"]["saved_model"], "precision": precision,
                        "export_dir": os.path.join(work, f"{method}_{precision}")}
                path = _bench.run_function("speed_report", "precision_copy", args, timeout).data["path"]
                copies[method, precision] = {**prepared, "files": {**prepared["files"], "saved_model": path}}
        for size in sizes:
            for method in methods:
                rows = precisions if method in ("gatys", "fast_saved_model", "adain_saved_model") else [None]
                for precision in rows:
                    print(f"  {method} {precision or ''} {size}^2 ...", file=sys.stderr, flush=True)
                    if method == "gatys":
                        r = measure_gatys(size, FLAGS.gatys_evals, FLAGS.gatys_budget, FLAGS.vgg_weights, timeout,
                                          precision)
                    elif method == "fast_saved_model":
                        r = fast_style_benchmark.measure(copies[method, precision], "saved_model", size, repeats,
                                                         timeout)
                        r["gflop"] = gflop.get(size)
                    elif method == "fast_tflite_fp16":
                        r = fast_style_benchmark.measure(fast["models"][0], "fp16", size, repeats, timeout)
                        r["gflop"] = gflop.get(size)
                    elif method == "adain_saved_model":
                        r = adain_benchmark.measure(copies[method, precision], "saved_model", size, style_size,
                                                    repeats, timeout)
                        r["note"] = f"style {style_size}^2 encoded once: {r['style_warm_s']:.3g} s warm"
                    else:
                        r = metanet_benchmark.measure(metanet, "saved_model", size, style_size, repeats, timeout)
                        r["note"] = f"weights generated once: {r['style_warm_s']:.3g} s warm"
                    r["precision"] = precision or ("fp16" if method == "fast_tflite_fp16" else "float32")
                    results[(method, precision, size)] = r
    finally:
        if cleanup:
            shutil.rmtree(work, ignore_errors=True)

    print(_bench.machine_line())
    print(f"one {'/'.join(map(str, sizes))}-px square image; warm = median of {repeats} after {_bench.WARMUPS} "
          "warm-ups (model loaded, style prepared); whole = process start -> output ready; ~ = extrapolated")
    table = []
    for size in sizes:
        reference = results.get(("fast_tflite_fp16", None, size), {}).get("warm_s")
        for (method, precision, row_size), r in results.items():
            if row_size != size:
                continue
            f32 = results.get((method, "float32", size), {}).get("warm_s") if precision else None
            whole = ("~" if r.get("estimated") else "") + _seconds(r["whole_s"])
            table.append([
                _LABELS[method], r["precision"], str(size), _seconds(r["warm_s"]), whole,
                _bench.fmt(r["peak_rss_mb"], ".0f"), _bench.fmt(r.get("gflop"), ".1f"),
                _bench.fmt(r["warm_s"] / reference if reference else None, ".1f"),
                _bench.fmt(r["warm_s"] / f32 if f32 else None, ".2f"), r.get("note", ""),
            ])
    _bench.print_table(["method", "precision", "size", "warm", "whole", "peak RSS MB", "GFLOP", "vs fast",
                        "vs float32", "notes"], table, left=(0, 1, 9))


def _seconds(value: float) -> str:
    """Milliseconds below a second, else seconds (Gatys runs take minutes)."""
    if value is None:
        return "-"
    return f"{value * 1e3:.0f} ms" if value < 1.0 else f"{value:.2f} s" if value < 100 else f"{value:.0f} s"


if __name__ == "__main__":
    define_flags()
    app.run(main)
