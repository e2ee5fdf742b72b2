"""Shared pieces of the benchmark scripts: child processes, peak RSS, timing, tables.

Every measurement runs in a fresh child process, so that its peak RSS is that
configuration's own (no earlier import, model or cache of the parent counts) and its
start-up cost is real. The parent reads the child's peak RSS from the kernel
(`os.wait4` -> `ru_maxrss`) and times the child from just before it is started.

Two kinds of child:

* `run_stylizer`: `python -c STYLIZER_CHILD`, which imports numpy and
  `keras_style.inference` only. A `.tflite` model then runs on LiteRT without
  TensorFlow (the child checks `sys.modules` and fails if TensorFlow was imported where
  it must not be); a SavedModel imports TensorFlow when it loads. It measures:
    - whole-process time: parent's clock just before `Popen` -> the child's clock when
      the first output array is ready (process start, imports, model load, style
      preparation for arbitrary-style models, one stylize call; the same wall clock on
      the same machine). Image decoding and encoding are not included: the image is a
      seeded random array;
    - warm latency: the median of `repeats` timed calls after 2 warm-up calls (the cold
      first call counts as the first warm-up);
    - for models that take a style: the cold and warm (median) `prepare_style` time.
* `run_function`: `python -c` that imports one benchmark module from this folder and
  calls one of its functions with a JSON-able dict (model export and conversion,
  training throughput, Gatys); the function returns a JSON-able dict.

This module imports only the standard library at import time (children import it).
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
EXAMPLE_CONTENT_DIR = os.path.join(REPO_DIR, "examples", "content")
EXAMPLE_STYLES_DIR = os.path.join(REPO_DIR, "examples", "styles")
EXAMPLE_STYLE_IMAGE = os.path.join(EXAMPLE_STYLES_DIR, "opencv_000_starry_night.jpg")

_RESULT_MARKER = "BENCH_RESULT "
# Warm-up calls before the timed ones (the cold first call is the first of them).
WARMUPS = 2


class BenchError(RuntimeError):
    """A child process failed; the message carries the tail of its stderr."""


@dataclass
class ChildResult:
    """What one child process gave back.

    Attributes:
      data: the dict the child printed.
      start: parent's `time.time()` just before the child was started.
      wall_s: start -> child exited, seconds (parent's clock).
      peak_rss_mb: the child's peak resident set size (ru_maxrss), MiB.
    """

    data: dict
    start: float
    wall_s: float
    peak_rss_mb: float


def run_child(argv: list[str], timeout_s: float | None = None, label: str = "") -> ChildResult:
    """Runs `argv`, waits for it, returns its result dict, wall time and peak RSS.

    The child must print one line `BENCH_RESULT {json}` on stdout. TF_CPP_MIN_LOG_LEVEL=2
    is set for it. Raises BenchError (with the child's stderr tail) if it fails or runs
    past `timeout_s` (then it is killed).
    """
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.time()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
        status, usage = _wait(proc, timeout_s, label)
        end = time.time()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        tail = "\n".join(stderr.strip().splitlines()[-25:])
        raise BenchError(f"child {label or argv[:3]} exited with {proc.returncode}:\n{tail}")
    lines = [line for line in stdout.splitlines() if line.startswith(_RESULT_MARKER)]
    if not lines:
        raise BenchError(
            f"child {label} printed no result; stdout tail:\n{stdout[-2000:]}\nstderr tail:\n{stderr[-2000:]}"
        )
    data = json.loads(lines[-1][len(_RESULT_MARKER):])
    # ru_maxrss is in KiB on Linux.
    return ChildResult(data=data, start=start, wall_s=end - start, peak_rss_mb=usage.ru_maxrss / 1024.0)


def _wait(proc: subprocess.Popen, timeout_s: float | None, label: str):
    """Reaps `proc` with os.wait4 (the only call that returns that one child's rusage)."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            return status, usage
        if deadline is not None and time.monotonic() > deadline:
            proc.kill()  # our own child, by its pid
            os.wait4(proc.pid, 0)
            proc.returncode = -9
            raise BenchError(f"child {label} ran past {timeout_s:.0f} s and was killed")
        time.sleep(0.005)


def emit(result: dict) -> None:
    """Prints a child's result line (what `run_child` parses)."""
    print(_RESULT_MARKER + json.dumps(result), flush=True)


# --- Children --------------------------------------------------------------------------------

STYLIZER_CHILD = r"""
import json, sys, time
args = json.loads(sys.argv[1])
import numpy as np
from keras_style.inference import load_stylizer

stylizer = load_stylizer(args["model"], args.get("format", "auto"))
t_loaded = time.time()
rng = np.random.default_rng(0)
size = args["size"]
image = rng.uniform(0.0, 255.0, (size, size, 3)).astype(np.float32)
style = None
style_cold_s = None
if args.get("style_size"):
    side = args["style_size"]
    style_image = rng.uniform(0.0, 255.0, (side, side, 3)).astype(np.float32)
    t = time.perf_counter()
    style = stylizer.prepare_style([style_image])
    style_cold_s = time.perf_counter() - t
t = time.perf_counter()
out = stylizer.stylize(image, style=style)
ready = time.time()
image_cold_s = time.perf_counter() - t
if out.shape != image.shape or not np.all(np.isfinite(out)):
    sys.exit(f"bad output: shape {out.shape}, finite {bool(np.all(np.isfinite(out)))}")
tf_imported = "tensorflow" in sys.modules
if args.get("forbid_tensorflow") and tf_imported:
    sys.exit("TensorFlow was imported by a run that must not need it")

def timed(fn, warmups, repeats):
    for _ in range(warmups):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times)), times

# The cold call above was the first of the 2 warm-ups.
image_s, image_times = timed(lambda: stylizer.stylize(image, style=style), args["warmups"] - 1, args["repeats"])
style_s = style_times = None
if style is not None:
    style_s, style_times = timed(lambda: stylizer.prepare_style([style_image]), args["warmups"] - 1, args["repeats"])
print("BENCH_RESULT " + json.dumps({
    "ready": ready, "loaded": t_loaded, "image_cold_s": image_cold_s, "image_s": image_s,
    "image_times": image_times, "style_cold_s": style_cold_s, "style_s": style_s, "style_times": style_times,
    "tf_imported": tf_imported, "keras_imported": "keras" in sys.modules,
    "backend": getattr(stylizer, "backend", ""), "kind": stylizer.kind,
}), flush=True)
"""


def run_stylizer(
    model: str,
    size: int,
    repeats: int,
    style_size: int | None = None,
    forbid_tensorflow: bool = False,
    timeout_s: float | None = None,
) -> dict:
    """Runs one model at one square size in a fresh `python -c` child (see the module doc).

    Args:
      model: a SavedModel directory or `.tflite` file (absolute path).
      size: content image side.
      repeats: timed calls after the warm-ups.
      style_size: side of a square random style image, for arbitrary-style models.
      forbid_tensorflow: fail if the child imported TensorFlow (the .tflite path).

    Returns:
      {"whole_s": start -> first output ready, "warm_s": median stylize, "cold_s",
       "style_warm_s", "style_cold_s", "peak_rss_mb", "tf_imported", "exit_s"
       (start -> exit), "times": [...]}
    """
    args = {"model": model, "size": size, "repeats": repeats, "warmups": WARMUPS,
            "style_size": style_size, "forbid_tensorflow": forbid_tensorflow}
    label = f"{os.path.basename(model.rstrip('/'))} @{size}"
    result = run_child([sys.executable, "-c", STYLIZER_CHILD, json.dumps(args)], timeout_s, label)
    data = result.data
    return {
        "whole_s": data["ready"] - result.start,
        "load_s": data["loaded"] - result.start,
        "cold_s": data["image_cold_s"],
        "warm_s": data["image_s"],
        "times": data["image_times"],
        "style_cold_s": data["style_cold_s"],
        "style_warm_s": data["style_s"],
        "peak_rss_mb": result.peak_rss_mb,
        "exit_s": result.wall_s,
        "tf_imported": data["tf_imported"],
    }


def run_function(module: str, function: str, args: dict, timeout_s: float | None = None) -> ChildResult:
    """Calls `module.function(args)` (a module of this folder) in a fresh child process;
    the function returns a JSON-able dict."""
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {BENCH_DIR!r})\n"
        "import _bench\n"
        f"import {module} as m\n"
        f"_bench.emit(m.{function}(json.loads(sys.argv[1])))\n"
    )
    return run_child([sys.executable, "-c", code, json.dumps(args)], timeout_s, f"{module}.{function}")


# --- In-child helpers (they import TensorFlow; call them only inside children) ---------------


def time_training(task, train_steps: int, warmup_steps: int = WARMUPS) -> dict:
    """Images/s of `task` through the real `Trainer` (one step per loop, tmp model dir).

    Runs `warmup_steps + train_steps` steps; the first loop traces the step function and
    starts the input pipeline, so the warm-up steps are dropped. No summaries; the one
    checkpoint at the end is written outside the timed loop time.
    """
    import shutil

    from keras_style.training.trainer import Trainer, TrainerConfig

    model_dir = tempfile.mkdtemp(prefix="bench_train_")
    steps = []
    try:
        config = TrainerConfig(
            model_dir=model_dir, train_steps=warmup_steps + train_steps, steps_per_loop=1,
            checkpoint_interval=0, summary_interval=0, log=lambda message: None,
        )
        started = time.perf_counter()
        trainer = Trainer(task, config, on_progress=steps.append)
        built_s = time.perf_counter() - started
        trainer.train()
    finally:
        shutil.rmtree(model_dir, ignore_errors=True)
    timed = [p for p in steps if p.step > warmup_steps]
    step_s = median([1.0 / p.steps_per_second for p in timed])
    return {
        "step_s": step_s,
        "images_per_s": task.global_batch_size / step_s,
        "first_step_s": 1.0 / steps[0].steps_per_second,
        "build_s": built_s,
        "timed_steps": len(timed),
        "final_loss": steps[-1].metrics.get("loss"),
    }


# --- Small utilities -------------------------------------------------------------------------


def median(values) -> float:
    values = list(values)
    return float(statistics.median(values)) if values else float("nan")


def int_list(values, name: str) -> list[int]:
    try:
        out = [int(v) for v in values]
    except ValueError:
        raise SystemExit(f"--{name} must be comma-separated integers, got {','.join(values)}") from None
    if not out or min(out) < 1:
        raise SystemExit(f"--{name} needs at least one positive integer")
    return out


def dir_bytes(path: str) -> int:
    """Total size of the files under `path` (or of the file `path`)."""
    if os.path.isfile(path):
        return os.path.getsize(path)
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            total += os.path.getsize(os.path.join(root, name))
    return total


def work_dir(requested: str | None, prefix: str) -> tuple[str, bool]:
    """(directory for exports, whether to delete it at the end)."""
    if requested:
        os.makedirs(requested, exist_ok=True)
        return os.path.abspath(requested), False
    return tempfile.mkdtemp(prefix=prefix), True


def megapixels(size: int) -> float:
    return size * size / 1e6


def fmt(value, spec: str = ".3f", missing: str = "-") -> str:
    """`format(value, spec)`, or `missing` for None / NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return missing
    return format(value, spec)


def print_table(headers: list[str], rows: list[list[str]], out=None, left: tuple[int, ...] = (0,)) -> None:
    """Prints rows of strings under headers; columns `left` left-aligned, the others right."""
    out = out or sys.stdout
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells):
        parts = [c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))]
        return "  ".join(parts).rstrip()

    print(line(headers), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for row in rows:
        print(line(row), file=out)
    out.flush()


def machine_line() -> str:
    """One line describing where the figures were taken (cores, load, Python)."""
    try:
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    return (f"cores: {os.cpu_count()}  load average (1/5/15 min): {load}  python {sys.version.split()[0]}")
