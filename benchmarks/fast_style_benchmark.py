r"""Fast style transfer (Johnson's TransformNet) speed: SavedModel vs TFLite fp32/fp16/dynamic.

  python benchmarks/fast_style_benchmark.py [--bases=8,32] [--sizes=512,1024] [--repeats=10]
  python benchmarks/fast_style_benchmark.py --model=saved_models/NAME   # a shipped model
  # smoke run: --bases=8 --sizes=64 --repeats=1 --train_steps=1

For each TransformNet width (`--bases`; 8 ships, 32 is the paper's width) a SavedModel
is exported (random weights: the speed does not depend on them) and converted to TFLite
(fp32, fp16, dynamic-range int8). Then, per (format, size), in a fresh child process:

  * whole s: whole-process time of a one-image run, from the parent's clock just before
    the child starts to the first output array (imports, model load, one stylize call).
    The child is `python -c` importing numpy and keras_style.inference only: the .tflite
    path runs on LiteRT and must not import TensorFlow (checked; column "TF");
  * warm ms: median of --repeats calls after 2 warm-up calls;
  * ms/MP: warm ms per megapixel (1e6 pixels); GFLOP/s: GFLOP / warm seconds;
  * vs SM: warm latency / the SavedModel's at the same base and size (same run);
  * peak RSS: ru_maxrss of that child (MiB);
  * GFLOP: per image, from `TransformNet.conv_layer_specs(base)` and the feature-map
    sizes: sum over convs of 2·k²·C_in·C_out·H_out·W_out (a multiply-add is 2 FLOP) on
    the padded image (H, W rounded up to a multiple of 4, at least 8); instance norms,
    activations, padding and upsampling (a few FLOP per activation) are left out.

Also training throughput: images/s of the real FastStyleTask + Trainer at crop 256,
batch 4, base 8 (--train_*), median over --train_steps steps after 2 warm-up steps.

Target (the issue): 1024x1024 through TFLite in <= 0.35 s warm on the 2-core CPU at the
shipped width (base 8, about 25 GFLOP); printed next to the measured values.
"""

from __future__ import annotations

import os
import shutil
import sys

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _bench  # noqa: E402

FLAGS = flags.FLAGS

# Format label -> convert_saved_model_to_tflite's `quantize` (None: the SavedModel itself).
FORMATS = {"saved_model": None, "fp32": "none", "fp16": "float16", "dynamic": "dynamic"}
TARGET_S = 0.35
TARGET_SIZE = 1024
TARGET_BASE = 8


def define_flags():
    flags.DEFINE_list("bases", ["8", "32"], "TransformNet widths to export (random weights).")
    flags.DEFINE_list("sizes", ["512", "1024"], "Square content sizes.")
    flags.DEFINE_list("formats", list(FORMATS), f"Formats to run, from {', '.join(FORMATS)}.")
    flags.DEFINE_integer("repeats", 10, "Timed calls per measurement (after 2 warm-up calls).")
    flags.DEFINE_string("model", None, "A fast-style SavedModel or shipped model (e.g. saved_models/NAME) "
                        "to measure instead of random-weight exports; --bases is then ignored.")
    flags.DEFINE_integer("train_steps", 5, "Timed training steps (after 2 warm-up steps); 0 skips training.")
    flags.DEFINE_integer("train_crop", 256, "Training crop size.")
    flags.DEFINE_integer("train_batch", 4, "Training batch size.")
    flags.DEFINE_integer("train_base", 8, "TransformNet width trained.")
    flags.DEFINE_string("content_data", _bench.EXAMPLE_CONTENT_DIR, "Training content images (folder/glob/tfds:).")
    flags.DEFINE_string("style_image", _bench.EXAMPLE_STYLE_IMAGE, "Training style image.")
    flags.DEFINE_string("vgg_weights", "auto", "VGG19 weights of the training loss network.")
    flags.DEFINE_string("work_dir", None, "Where exports go (kept); default a temporary folder, deleted after.")
    flags.DEFINE_integer("child_timeout", 1800, "Seconds before a child process is killed.")


# --- Analytic cost -------------------------------------------------------------------------------


def transform_net_conv_flops(base: int, height: int, width: int) -> list[tuple[str, float]]:
    """[(conv name, FLOP)] of one `TransformNet(base)` pass on an H x W image.

    Feature-map sizes follow the graph: the input is padded to a multiple of 4 (at least
    8); a conv's output is its input size divided by its stride; `up*` convs run after a
    x2 nearest upsampling. FLOP = 2·k²·C_in·C_out·H_out·W_out.
    """
    from keras_style.models.transform_net import TransformNet

    pad = lambda n: max(8, -(-n // 4) * 4)  # noqa: E731
    h, w = pad(height), pad(width)
    out = []
    for name, kernel, c_in, c_out, stride in TransformNet.conv_layer_specs(base):
        if name.startswith("up"):
            h, w = 2 * h, 2 * w
        h, w = h // stride, w // stride
        out.append((name, 2.0 * kernel * kernel * c_in * c_out * h * w))
    return out


def transform_net_gflop(base: int, size: int) -> dict:
    """{"total": GFLOP, and per stage: "conv1", "down", "res", "up", "conv_out"} at size²."""
    groups = {"conv1": 0.0, "down": 0.0, "res": 0.0, "up": 0.0, "conv_out": 0.0}
    for name, flop in transform_net_conv_flops(base, size, size):
        key = ("down" if name in ("conv2", "conv3") else "res" if name.startswith("res")
               else "up" if name.startswith("up") else name)
        groups[key] += flop / 1e9
    groups["total"] = sum(groups.values())
    return groups


# --- Children ------------------------------------------------------------------------------------


def prepare(args: dict) -> dict:
    """(child) Exports the SavedModels and converts them to TFLite; computes GFLOP.

    args: work_dir, bases, sizes, formats, model (or None).
    Returns {"models": [{"base", "label", "files": {format: path}, "bytes": {format: int}}],
             "gflop": {str(base): {str(size): {...}}}}.
    """
    import keras

    from keras_style.export.fast_style import export_fast_style_model
    from keras_style.export.tflite import convert_saved_model_to_tflite
    from keras_style.inference import resolve_model
    from keras_style.models.transform_net import TransformNet

    work = args["work_dir"]
    entries = []
    if args.get("model"):
        spec = resolve_model(args["model"], "saved_model")
        base = spec.metadata.get("base")
        path = os.path.normpath(spec.path)
        name = os.path.basename(os.path.dirname(path) if os.path.basename(path) == "saved_model" else path)
        entries.append((base, name, os.path.abspath(spec.path), os.path.join(work, name)))
    else:
        for base in args["bases"]:
            keras.utils.set_random_seed(0)
            folder = os.path.join(work, f"fast_b{base}")
            saved = export_fast_style_model(TransformNet(base=base, name="transform_net"),
                                            os.path.join(folder, "saved_model"), overwrite=True,
                                            style_name="random")
            entries.append((base, f"b{base}", saved, folder))
    models = []
    for base, label, saved, folder in entries:
        os.makedirs(folder, exist_ok=True)
        files = {}
        for fmt in args["formats"]:
            quantize = FORMATS[fmt]
            if quantize is None:
                files[fmt] = saved
                continue
            path = os.path.join(folder, f"fast_{label}_{fmt}.tflite")
            files[fmt] = convert_saved_model_to_tflite(saved, path, quantize=quantize, overwrite=True)
        models.append({"base": base, "label": label, "files": files,
                       "bytes": {fmt: _bench.dir_bytes(p) for fmt, p in files.items()}})
    gflop = {}
    for model in models:
        if model["base"]:
            gflop[str(model["base"])] = {str(s): transform_net_gflop(int(model["base"]), s) for s in args["sizes"]}
    return {"models": models, "gflop": gflop}


def train(args: dict) -> dict:
    """(child) Training images/s of FastStyleTask through the Trainer."""
    from keras_style.tasks.fast_style import FastStyleConfig, FastStyleTask

    config = FastStyleConfig(
        style_image=args["style_image"], content_data=args["content_data"], crop_size=args["crop"],
        batch_size=args["batch"], base=args["base"], weights=args["vgg_weights"], seed=0,
    )
    return _bench.time_training(FastStyleTask(config), args["steps"])


# --- Parent --------------------------------------------------------------------------------------


def prepare_models(work_dir, bases, sizes, formats, model=None, timeout_s=None) -> dict:
    """Runs `prepare` in a child (so this process never imports TensorFlow)."""
    args = {"work_dir": work_dir, "bases": bases, "sizes": sizes, "formats": formats, "model": model}
    return _bench.run_function("fast_style_benchmark", "prepare", args, timeout_s).data


def measure(model_entry: dict, fmt: str, size: int, repeats: int, timeout_s=None) -> dict:
    """One (format, size) of one prepared model, in a fresh child."""
    return _bench.run_stylizer(model_entry["files"][fmt], size, repeats,
                               forbid_tensorflow=fmt != "saved_model", timeout_s=timeout_s)


def measure_training(content_data, style_image, crop, batch, base, steps, vgg_weights="auto", timeout_s=None):
    args = {"content_data": content_data, "style_image": style_image, "crop": crop, "batch": batch,
            "base": base, "steps": steps, "vgg_weights": vgg_weights}
    result = _bench.run_function("fast_style_benchmark", "train", args, timeout_s)
    return {**result.data, "peak_rss_mb": result.peak_rss_mb}


def main(argv):
    del argv
    sizes = _bench.int_list(FLAGS.sizes, "sizes")
    bases = _bench.int_list(FLAGS.bases, "bases")
    formats = list(FLAGS.formats)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise SystemExit(f"unknown --formats {unknown}; choose from {', '.join(FORMATS)}")
    model = os.path.abspath(FLAGS.model) if FLAGS.model and os.path.exists(FLAGS.model) else FLAGS.model
    work, cleanup = _bench.work_dir(FLAGS.work_dir, "fast_style_bench_")
    timeout = FLAGS.child_timeout
    try:
        print("exporting and converting ...", file=sys.stderr, flush=True)
        prepared = prepare_models(work, bases, sizes, formats, model, timeout)
        rows = []
        for entry in prepared["models"]:
            for size in sizes:
                for fmt in formats:
                    print(f"  base {entry['base']} {fmt} {size}^2 ...", file=sys.stderr, flush=True)
                    r = measure(entry, fmt, size, FLAGS.repeats, timeout)
                    gflop = prepared["gflop"].get(str(entry["base"]), {}).get(str(size), {}).get("total")
                    rows.append({"entry": entry, "fmt": fmt, "size": size, "gflop": gflop, **r})
        training = None
        if FLAGS.train_steps > 0:
            print("training ...", file=sys.stderr, flush=True)
            training = measure_training(FLAGS.content_data, FLAGS.style_image, FLAGS.train_crop,
                                        FLAGS.train_batch, FLAGS.train_base, FLAGS.train_steps,
                                        FLAGS.vgg_weights, timeout)
    finally:
        if cleanup:
            shutil.rmtree(work, ignore_errors=True)
    _report(prepared, rows, training, sizes)


def _report(prepared, rows, training, sizes):
    print(_bench.machine_line())
    print(f"fast style (TransformNet), one image per call, float32 in/out; warm = median of {FLAGS.repeats} "
          f"after {_bench.WARMUPS} warm-ups; whole = process start -> first output ready")
    baseline = {(r["entry"]["label"], r["size"]): r["warm_s"] for r in rows if r["fmt"] == "saved_model"}
    table = []
    for r in rows:
        warm, base_warm = r["warm_s"], baseline.get((r["entry"]["label"], r["size"]))
        table.append([
            str(r["entry"]["label"]), r["fmt"], f"{r['size']}", _bench.fmt(r["gflop"], ".2f"),
            _bench.fmt(r["whole_s"], ".2f"), _bench.fmt(warm * 1e3, ".1f"),
            _bench.fmt(warm * 1e3 / _bench.megapixels(r["size"]), ".0f"),
            _bench.fmt(r["gflop"] / warm if r["gflop"] else None, ".1f"),
            _bench.fmt(warm / base_warm if base_warm else None, ".2f"),
            _bench.fmt(r["peak_rss_mb"], ".0f"), _bench.fmt(r["entry"]["bytes"][r["fmt"]] / 1e6, ".2f"),
            "yes" if r["tf_imported"] else "no",
        ])
    _bench.print_table(["model", "format", "size", "GFLOP", "whole s", "warm ms", "ms/MP", "GFLOP/s",
                        "vs SM", "peak RSS MB", "file MB", "TF"], table)
    for base, by_size in prepared["gflop"].items():
        size = max(by_size, key=int)
        g = by_size[size]
        print(f"GFLOP base {base} @{size}^2 = {g['total']:.2f} (conv1 {g['conv1']:.2f}, stride-2 convs "
              f"{g['down']:.2f}, 10 residual convs {g['res']:.2f}, upsampling convs {g['up']:.2f}, "
              f"conv_out {g['conv_out']:.2f}); formula: sum 2*k^2*Cin*Cout*Hout*Wout, padded to x4")
    if training:
        print(f"training (FastStyleTask + Trainer, crop {FLAGS.train_crop}, batch {FLAGS.train_batch}, base "
              f"{FLAGS.train_base}): {training['images_per_s']:.2f} images/s ({training['step_s']:.2f} s/step, "
              f"median of {training['timed_steps']} steps after {_bench.WARMUPS} warm-up; first step "
              f"{training['first_step_s']:.1f} s), peak RSS {training['peak_rss_mb']:.0f} MB")
    target = [r for r in rows if r["size"] == TARGET_SIZE and r["entry"]["base"] == TARGET_BASE
              and r["fmt"] != "saved_model"]
    budget = prepared["gflop"].get(str(TARGET_BASE), {}).get(str(TARGET_SIZE), {}).get("total")
    if target:
        measured = ", ".join(f"{r['fmt']} {r['warm_s']:.3f} s" for r in target)
        best = min(target, key=lambda r: r["warm_s"])
        verdict = "meets" if best["warm_s"] <= TARGET_S else "misses"
        print(f"target: {TARGET_SIZE}x{TARGET_SIZE} TFLite warm <= {TARGET_S:.2f} s at base {TARGET_BASE} "
              f"({_bench.fmt(budget, '.1f')} GFLOP by the formula; ~25 GFLOP budget) | measured: {measured} | "
              f"best {best['fmt']} {best['warm_s']:.3f} s {verdict} it "
              f"({best['warm_s'] / TARGET_S:.2f}x the target)")
    else:
        print(f"target: {TARGET_SIZE}x{TARGET_SIZE} TFLite warm <= {TARGET_S:.2f} s at base {TARGET_BASE}: "
              f"not measured in this run (needs --sizes with {TARGET_SIZE}, --bases with {TARGET_BASE} and a "
              "TFLite format)")


if __name__ == "__main__":
    define_flags()
    app.run(main)
