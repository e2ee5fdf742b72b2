r"""AdaIN with --compute_size: is the style worth scaling with the content?

  python benchmarks/compute_size_benchmark.py
  python benchmarks/compute_size_benchmark.py --size=1024 --compute_size=384 --model_format=tflite

`style_transfer --compute_size=N` stylizes at N pixels on the long side and enlarges the
result; for AdaIN it scales the --style images by the same factor
(`keras_style.inference.pipeline.scaled_styles`). For every example photo (resized to
--size, as the cold-start benchmark does) and every example painting, this runs the
shipped AdaIN model three ways, in one process, through the command's pipeline (`StylePipeline`: style
capped at `STYLE_MAX_SIZE`, palette step on, the model's default alpha, auto tiles at full size):

  * full      the whole --size image, style at up to 512 px (the reference);
  * unscaled  at --compute_size, style at up to 512 px;
  * scaled    at --compute_size, style scaled by the compute factor (what the command does).

and prints, per pair, the PSNR of each --compute_size result against the full-size one
(at the full size, and both reduced to 256 px: texture placement differs, so these are
low; what matters is which of the two is closer) and the time to encode the style
(`prepare_style`, warm). --output_dir also writes the three pictures per pair.
"""

from __future__ import annotations

import glob
import os
import time

import numpy as np
from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("model", "adain", "AdaIN model: shipped name, SavedModel directory or .tflite file.")
flags.DEFINE_enum("model_format", "tflite", ["saved_model", "tflite"], "For a shipped name: which file.")
flags.DEFINE_integer("size", 1024, "Long side the example photos are resized to.")
flags.DEFINE_integer("compute_size", 384, "The --compute_size to measure.")
flags.DEFINE_string("content", "examples/content/*", "Content photos (glob).")
flags.DEFINE_string("style", "examples/styles/*", "Paintings (glob).")
flags.DEFINE_string("output_dir", None, "If given, write full/unscaled/scaled pictures here.")


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0**2 / np.mean((a - b) ** 2)))


def main(argv):
    del argv
    from keras_style import image_io
    from keras_style.inference import model_spec
    from keras_style.inference.pipeline import StyleOptions, StylePipeline, scaled_styles

    model = model_spec.resolve_model(FLAGS.model, FLAGS.model_format).load()
    alpha = model.default_alpha
    print(f"model {FLAGS.model} ({model.backend}), alpha {alpha:g}, photos at {FLAGS.size} px, "
          f"compute size {FLAGS.compute_size}")
    if FLAGS.output_dir:
        os.makedirs(FLAGS.output_dir, exist_ok=True)
    rows = []
    for content_path in sorted(glob.glob(FLAGS.content)):
        content = np.clip(image_io.resize_long_side(image_io.load_image(content_path), FLAGS.size), 0, 255)
        work = np.clip(image_io.resize_long_side(content, FLAGS.compute_size), 0, 255)
        factor = max(work.shape[:2]) / max(content.shape[:2])
        for style_path in sorted(glob.glob(FLAGS.style)):
            # The command's own pipeline: the style capped at STYLE_MAX_SIZE, each scale's
            # statistics prepared once; "unscaled" stylizes the small image itself.
            base = StylePipeline(model, StyleOptions(styles=(image_io.load_image(style_path),), alpha=alpha))
            runs = {"full": (base.replace(tile=None), content, 1.0), "unscaled": (base, work, 1.0),
                    "scaled": (base.replace(compute_size=FLAGS.compute_size), content, factor)}
            out, encode = {}, {}
            for name, (pipeline, image, scale) in runs.items():
                styles = scaled_styles(list(base.options.styles), scale)
                model.prepare_style(styles)  # warm-up: the first call of a new size is slower
                start = time.perf_counter()
                model.prepare_style(styles)
                encode[name] = time.perf_counter() - start
                result = pipeline.stylize(image)
                if result.shape != content.shape:
                    result = np.clip(image_io.resize_image(result, content.shape[:2]), 0, 255)
                out[name] = np.clip(np.round(result), 0, 255)
            small = {k: image_io.resize_long_side(v, 256) for k, v in out.items()}
            row = (_psnr(out["full"], out["unscaled"]), _psnr(out["full"], out["scaled"]),
                   _psnr(small["full"], small["unscaled"]), _psnr(small["full"], small["scaled"]),
                   encode["unscaled"], encode["scaled"])
            rows.append(row)
            pair = f"{os.path.basename(content_path)} x {os.path.basename(style_path)}"
            print(f"{pair:<58} PSNR vs full: unscaled {row[0]:.2f} dB, scaled {row[1]:.2f} dB "
                  f"(at 256 px: {row[2]:.2f}, {row[3]:.2f}); style encode {row[4]:.2f} s -> {row[5]:.2f} s",
                  flush=True)
            if FLAGS.output_dir:
                stem = os.path.splitext(os.path.basename(content_path))[0] + "_" + os.path.splitext(
                    os.path.basename(style_path))[0]
                for name, image in out.items():
                    image_io.save_image(image, os.path.join(FLAGS.output_dir, f"{stem}_{name}.png"), overwrite=True)
    mean = np.mean(rows, axis=0)
    print(f"\nmean over {len(rows)} pairs: PSNR vs full: unscaled {mean[0]:.2f} dB, scaled {mean[1]:.2f} dB "
          f"(at 256 px: {mean[2]:.2f}, {mean[3]:.2f}); scaled closer in {sum(r[1] > r[0] for r in rows)} of "
          f"{len(rows)}; style encode {mean[4]:.2f} s -> {mean[5]:.2f} s ({mean[5] / mean[4]:.2f}x)")


if __name__ == "__main__":
    app.run(main)
