r"""float32 against mixed_bfloat16, side by side in one run: training and SavedModel serving.

  python benchmarks/precision_benchmark.py [--methods=fast_style,adain,metanet] \
      [--serving=fast_style,adain] [--sizes=512,1024] [--train_steps=6] [--repeats=5]

Each (measurement, precision) runs in a fresh child process, alternating the precisions,
so both see the same machine state:

  * training: images/s of the real training step (`Trainer` + the method's task, VGG19
    loss network, random content crops from --content_data, one strategy replica), the
    median over the loops after a warm-up loop. Recipes as in flags/: fast style crop 256
    batch 4; AdaIN crop --adain_crop batch 8; MetaNet crop 256 batch 4.
  * serving: warm latency of the shipped SavedModels' `serving_default` on a --size²
    image (median of --repeats after 2 warm-ups): the float32 SavedModel, and the copy
    `style_export --precision=bfloat16` writes (made once per run in a temp dir).

Printed: a table per part with a "bf16 / f32" column (time ratio for serving, speed-up for
training).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

from absl import app, flags

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(REPO), "shared", "data")

_METHODS = flags.DEFINE_list("methods", ["fast_style", "adain", "metanet"], "Trainers to measure.")
_SERVING = flags.DEFINE_list("serving", ["fast_style", "adain"], "Shipped SavedModels to serve.")
_SIZES = flags.DEFINE_list("sizes", ["512", "1024"], "Serving image sizes (square).")
_PRECISIONS = flags.DEFINE_list("precisions", ["float32", "mixed_bfloat16"], "Precisions, side by side.")
_TRAIN_STEPS = flags.DEFINE_integer("train_steps", 6, "Timed training steps (after one warm-up loop of 2).")
_REPEATS = flags.DEFINE_integer("repeats", 5, "Timed serving calls.")
_ADAIN_CROP = flags.DEFINE_integer("adain_crop", 256, "AdaIN training crop.")
_CONTENT = flags.DEFINE_string("content_data", os.path.join(SHARED, "content", "[!p]*"), "Training photos.")
_STYLES = flags.DEFINE_string("style_data", os.path.join(SHARED, "styles", "[fkw]*"), "Training styles.")
_CHILD = flags.DEFINE_string("child", None, "Internal: one JSON job.")

SHIPPED = {"fast_style": "saved_models/great_wave/saved_model", "adain": "saved_models/adain/saved_model"}
STYLE_IMAGE = os.path.join(REPO, "examples", "styles", "gcompris_004_GreatWave.jpg")


def _task(method: str, policy_dir: str):
    if method == "fast_style":
        from keras_style.tasks.fast_style import FastStyleConfig, FastStyleTask

        return FastStyleTask(FastStyleConfig(STYLE_IMAGE, _CONTENT.value, crop_size=256, batch_size=4, seed=0))
    if method == "adain":
        from keras_style.tasks.adain import AdaINConfig, AdaINTask

        crop = _ADAIN_CROP.value
        return AdaINTask(AdaINConfig(_CONTENT.value, _STYLES.value, crop_size=crop, short_side_range=(crop, 2 * crop),
                                     batch_size=8, seed=0))
    from keras_style.tasks.metanet import MetaNetConfig, MetaNetTask

    return MetaNetTask(MetaNetConfig(_CONTENT.value, _STYLES.value, crop_size=256, batch_size=4, seed=0))


def _train(job: dict) -> dict:
    import numpy as np

    from keras_style.training.trainer import Trainer, TrainerConfig

    speeds = []
    with tempfile.TemporaryDirectory() as tmp:
        config = TrainerConfig(tmp, train_steps=2 + job["steps"], steps_per_loop=2, checkpoint_interval=0,
                               summary_interval=0, precision=job["precision"], log=lambda _: None)
        trainer = Trainer(_task(job["method"], tmp), config,
                          on_progress=lambda p: speeds.append(p.images_per_second))
        trainer.train()
    return {"images_per_second": float(np.median(speeds[1:]))}


def _serve(job: dict) -> dict:
    import numpy as np
    import tensorflow as tf

    from keras_style import image_io

    model = tf.saved_model.load(job["path"])
    size = job["size"]
    rng = np.random.default_rng(0)
    content = tf.constant(rng.integers(0, 256, (1, size, size, 3), dtype=np.uint8))
    fn = model.signatures["serving_default"]
    if job["kind"] == "adain":
        style = image_io.load_image(STYLE_IMAGE, max_size=512)[None].astype(np.uint8)
        args = {"content": content, "style": tf.constant(style), "alpha": tf.constant([1.0])}
    else:
        args = {"images": content}
    for _ in range(2):
        fn(**args)
    times = []
    for _ in range(job["repeats"]):
        start = time.perf_counter()
        fn(**args)["stylized"].numpy()
        times.append(time.perf_counter() - start)
    return {"seconds": float(np.median(times))}


def _child(job: dict) -> dict:
    return _train(job) if job["part"] == "train" else _serve(job)


def _run(job: dict) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    out = subprocess.run([sys.executable, os.path.abspath(__file__), f"--child={json.dumps(job)}"],
                         capture_output=True, text=True, env=env, cwd=REPO)
    if out.returncode != 0:
        raise SystemExit(f"child failed: {job}\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv):
    del argv
    if _CHILD.value:
        print(json.dumps(_child(json.loads(_CHILD.value))))
        return
    sys.path.insert(0, REPO)
    print(f"cores: {os.cpu_count()}; precisions: {', '.join(_PRECISIONS.value)}", flush=True)
    if _METHODS.value:
        print(f"\ntraining images/s (median over loops of 2 steps, {_TRAIN_STEPS.value} timed steps)")
        print(f"{'method':>12} " + " ".join(f"{p:>15}" for p in _PRECISIONS.value) + f" {'speed-up':>9}", flush=True)
        for method in _METHODS.value:
            row = {p: _run({"part": "train", "method": method, "precision": p, "steps": _TRAIN_STEPS.value})
                   for p in _PRECISIONS.value}
            speeds = [row[p]["images_per_second"] for p in _PRECISIONS.value]
            print(f"{method:>12} " + " ".join(f"{s:>15.2f}" for s in speeds) + f" {speeds[-1] / speeds[0]:>8.2f}x",
                  flush=True)
    if _SERVING.value:
        from keras_style.export.serving_precision import export_in_precision

        with tempfile.TemporaryDirectory() as tmp:
            paths = {}
            for kind in _SERVING.value:
                for p in _PRECISIONS.value:
                    if p == "float32":
                        paths[kind, p] = os.path.join(REPO, SHIPPED[kind])
                    else:
                        paths[kind, p] = export_in_precision(os.path.join(REPO, SHIPPED[kind]),
                                                             os.path.join(tmp, f"{kind}_{p}"), p)
            print(f"\nSavedModel serving_default, warm seconds (median of {_REPEATS.value})")
            print(f"{'model':>12} {'size':>6} " + " ".join(f"{p:>15}" for p in _PRECISIONS.value) + f" {'ratio':>7}",
                  flush=True)
            for kind in _SERVING.value:
                for size in _SIZES.value:
                    row = [_run({"part": "serve", "kind": kind, "path": paths[kind, p], "size": int(size),
                                 "repeats": _REPEATS.value})["seconds"] for p in _PRECISIONS.value]
                    print(f"{kind:>12} {size:>6} " + " ".join(f"{s:>15.3f}" for s in row)
                          + f" {row[-1] / row[0]:>6.2f}x", flush=True)


if __name__ == "__main__":
    app.run(main)
