r"""Gatys evaluator speed against the raw VGG19 forward+backward floor.

  python benchmarks/gatys_benchmark.py [--sizes=256,512] [--repeats=8] [--precisions=float32,mixed_bfloat16]

For each size and precision, in a fresh child process (so peak memory is that size's alone):
  * evaluator: seconds per `Evaluator` call (loss + gradient, float64 in and out) with
    VGG19, 5 style layers (block1..5_conv1) and 1 content layer (block4_conv2);
  * floor: seconds per forward+backward of the same VGG19 (to block5_conv1, the deepest
    layer the loss uses) to the input image, in a tf.function, nothing else;
  * ratio = evaluator / floor (target <= 1.15), measured interleaved in the same run;
  * lbfgs: seconds per evaluation inside a real `fmin_l_bfgs_b` run, from its second
    evaluation on (adds scipy's own per-iteration work: the Cauchy point, the subspace
    step and the two-loop recursion);
  * L-BFGS setup: the rest of that run's time: scipy converts the per-pixel bounds with
    Python loops before and after it evaluates the start point, once per optimisation
    stage;
  * peak RSS of the child process;
  * vs float32: evaluator seconds against the float32 evaluator's at the same size (same run).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

from absl import app, flags

_SIZES = flags.DEFINE_list("sizes", ["256", "512"], "Square image sizes.")
_REPEATS = flags.DEFINE_integer("repeats", 8, "Timed calls per measurement (after 2 warm-up calls).")
_PRECISIONS = flags.DEFINE_list("precisions", ["float32", "mixed_bfloat16"], "Precisions, side by side.")
_CHILD = flags.DEFINE_integer("child_size", None, "Internal: measure one size and print JSON.")
_CHILD_PRECISION = flags.DEFINE_string("child_precision", "float32", "Internal: the child's precision.")


def _measure(size: int, repeats: int, policy: str) -> dict:
    import numpy as np
    import scipy.optimize
    import tensorflow as tf

    from keras_style import gatys, precision
    from keras_style.vgg import VGGFeatureExtractor

    rng = np.random.default_rng(0)
    content = rng.uniform(0, 255, (size, size, 3)).astype(np.float32)
    style = rng.uniform(0, 255, (size, size, 3)).astype(np.float32)
    config = gatys.GatysConfig(image_size=size)
    layers = list(dict.fromkeys(list(config.content_layers) + list(config.style_layers)))
    with precision.policy_scope(policy):
        extractor = VGGFeatureExtractor(layers)
        floor_model = VGGFeatureExtractor(["block5_conv1"])
    evaluator = gatys.Evaluator(gatys.GatysLoss(extractor, config, content, [style], [1.0]), size, size)

    @tf.function(input_signature=[tf.TensorSpec([1, size, size, 3], tf.float32)])
    def floor(image):
        with tf.GradientTape() as tape:
            tape.watch(image)
            total = tf.reduce_sum(tf.cast(floor_model(image)["block5_conv1"], tf.float32))
        return tape.gradient(total, image)

    x = rng.uniform(0, 255, size * size * 3)
    image = tf.constant(x.reshape(1, size, size, 3), tf.float32)
    for _ in range(2):
        evaluator(x)
        floor(image).numpy()
    evaluator_times, floor_times = [], []
    for _ in range(repeats):  # interleaved, so background load hits both alike
        t = time.perf_counter()
        evaluator(x)
        evaluator_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        floor(image).numpy()
        floor_times.append(time.perf_counter() - t)

    starts, ends = [], []

    def counted(v):
        starts.append(time.perf_counter())
        result = evaluator(v)
        ends.append(time.perf_counter())
        return result

    # scipy turns the per-pixel bounds into arrays with Python loops, partly before the
    # first evaluation and partly after it: a fixed cost per optimisation (per stage),
    # reported on its own. The per-evaluation figure counts from the second evaluation.
    t = time.perf_counter()
    scipy.optimize.fmin_l_bfgs_b(counted, x, bounds=[(0.0, 255.0)] * x.size, m=10,
                                 maxfun=repeats + 2, maxiter=repeats + 2, factr=10.0, pgtol=0.0)
    end = time.perf_counter()
    setup = (starts[0] - t) + (starts[1] - ends[0])
    lbfgs = (end - starts[1]) / (len(starts) - 1)
    median = lambda v: float(np.median(v))  # noqa: E731
    return {
        "size": size,
        "precision": policy,
        "evaluator_s": median(evaluator_times),
        "floor_s": median(floor_times),
        "ratio": median(evaluator_times) / median(floor_times),
        "lbfgs_s_per_eval": lbfgs,
        "lbfgs_setup_s": setup,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv):
    del argv
    if _CHILD.value:
        print(json.dumps(_measure(_CHILD.value, _REPEATS.value, _CHILD_PRECISION.value)))
        return
    rows = []
    for size in _SIZES.value:
        for policy in _PRECISIONS.value:
            env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
            out = subprocess.run(
                [sys.executable, __file__, f"--child_size={size}", f"--repeats={_REPEATS.value}",
                 f"--child_precision={policy}"],
                capture_output=True, text=True, env=env, check=True,
            )
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"cores: {os.cpu_count()}  (VGG19, 5 style layers + 1 content layer)")
    print(f"{'size':>6} {'precision':>15} {'evaluator s':>12} {'raw floor s':>12} {'ratio':>6} {'in L-BFGS s':>12} "
          f"{'L-BFGS setup s':>15} {'peak RSS MB':>12} {'vs float32':>11}")
    base = {r["size"]: r["evaluator_s"] for r in rows if r["precision"] == "float32"}
    for r in rows:
        versus = f"{r['evaluator_s'] / base[r['size']]:.2f}x" if r["size"] in base else "-"
        print(f"{r['size']:>6} {r['precision']:>15} {r['evaluator_s']:>12.3f} {r['floor_s']:>12.3f} {r['ratio']:>6.3f} "
              f"{r['lbfgs_s_per_eval']:>12.3f} {r['lbfgs_setup_s']:>15.2f} {r['peak_rss_mb']:>12.0f} {versus:>11}")


if __name__ == "__main__":
    app.run(main)
