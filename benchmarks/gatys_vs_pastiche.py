r"""A whole `style_gatys` run against pastiche 1.6 (PyTorch L-BFGS, the same VGG19 weights).

  python benchmarks/gatys_vs_pastiche.py --pastiche=/path/to/venv/bin/pastiche \
      [--size=512] [--evaluations=20] [--rounds=2] [--precisions=float32,mixed_bfloat16]

pastiche is a peer, never a dependency: install it with its dependencies in a virtualenv
of its own (`python3 -m venv P && P/bin/pip install pastiche==1.6.0 numpy`) and pass its
`pastiche` script. Both programs get the same photo and painting, the same long side,
the style image at the content's size, VGG19 with the default Gatys layers (5 style
layers, block4 content) and the same budget: `--iterations=N` for style_gatys, and
`--optimizer lbfgs --num-steps N` for pastiche (its L-BFGS takes one evaluation per
step). Each round runs every configuration once, one after the other, as whole
processes (start-up, weight loading, image decoding and writing included); the table
gives the median wall time and peak RSS and the ratio against pastiche in the same run.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

from absl import app, flags

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONTENT = os.path.join(REPO, "examples", "content", "pypi_000_astronaut.jpg")
STYLE = os.path.join(REPO, "examples", "styles", "opencv_000_starry_night.jpg")

_PASTICHE = flags.DEFINE_string("pastiche", None, "The pastiche 1.6 script, in its own virtualenv.")
_SIZE = flags.DEFINE_integer("size", 512, "Long side in pixels.")
_EVALUATIONS = flags.DEFINE_integer("evaluations", 20, "Loss-and-gradient evaluations (L-BFGS budget).")
_ROUNDS = flags.DEFINE_integer("rounds", 2, "Rounds; each runs every configuration once.")
_PRECISIONS = flags.DEFINE_list("precisions", ["float32", "mixed_bfloat16"], "style_gatys precisions.")


def _timed(command: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one child process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    stderr = process.stderr.read()
    process.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{stderr[-2000:]}")
    return seconds, usage.ru_maxrss / 1024


def main(argv):
    del argv
    size, evaluations = _SIZE.value, _EVALUATIONS.value
    commands = {}
    with tempfile.TemporaryDirectory() as tmp:
        for policy in _PRECISIONS.value:
            commands[f"style_gatys {policy}"] = [
                sys.executable, "-m", "keras_style.cli.gatys", f"--content_image={CONTENT}", f"--style_images={STYLE}",
                f"--output_image={tmp}/ours_{policy}.png", "--overwrite", f"--image_size={size}",
                f"--iterations={evaluations}", f"--precision={policy}",
            ]
        if _PASTICHE.value:
            commands["pastiche 1.6"] = [
                _PASTICHE.value, "--optimizer", "lbfgs", "--num-steps", str(evaluations), "--size", str(size),
                "--content", CONTENT, "--styles", STYLE, "--output", f"{tmp}/pastiche.png", "--no-verbose",
            ]
        else:
            print("pastiche: not given (--pastiche); its row is skipped")
        results = {name: [] for name in commands}
        for round_index in range(_ROUNDS.value):
            for name, command in commands.items():
                results[name].append(_timed(command))
                print(f"round {round_index + 1}: {name}: {results[name][-1][0]:.1f} s", file=sys.stderr, flush=True)
    print(f"cores: {os.cpu_count()}; {size} px long side, {evaluations} evaluations, whole processes, "
          f"median of {_ROUNDS.value}")
    print(f"{'program':>28} {'wall s':>8} {'peak RSS MB':>12} {'vs pastiche':>12}")
    peer = statistics.median(s for s, _ in results["pastiche 1.6"]) if "pastiche 1.6" in results else None
    for name, runs in results.items():
        seconds = statistics.median(s for s, _ in runs)
        rss = max(m for _, m in runs)
        versus = f"{seconds / peer:.2f}x" if peer else "-"
        print(f"{name:>28} {seconds:>8.1f} {rss:>12.0f} {versus:>12}")


if __name__ == "__main__":
    app.run(main)
