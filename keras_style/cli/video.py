r"""style_video: stylize a video with any model, steadied along the optical flow.

  style_video --model=starry_night --input=clip.mp4 --output=styled.mp4
  style_video --model=adain --style=wave.jpg --alpha=0.8 --input=phone.mov --output=out.mp4 --max_size=640
  style_video --model=starry_night --input=clip.mp4 --output=out.mp4 --stability=0 --report

Reads whatever FFmpeg reads; writes H.264 MP4 with the input's frame rate (variable
rates kept), rotation and audio. --stability blends the previous stylized frame, moved
along the input's optical flow, into each new one where the flow is reliable; --report
prints the warping error (x1e-3, lower is steadier) to choose it on your own clip.
Needs the video extra: pip install 'keras-style[video]'.
"""

from __future__ import annotations

import sys

from absl import flags

from keras_style import checks
from keras_style.cli import common
from keras_style.errors import StyleError

_MODEL = flags.DEFINE_string("model", None, "SavedModel directory, .tflite file, or shipped model name.")
_MODEL_FORMAT = flags.DEFINE_enum("model_format", "auto", ["auto", "saved_model", "tflite"],
                                  "For a shipped model name: auto, saved_model or tflite.")
_INPUT = flags.DEFINE_string("input", None, "Input video (any format FFmpeg reads).")
_OUTPUT = flags.DEFINE_string("output", None, "Output .mp4 file (written only when complete).")
_STYLE = common.define_path_list("style", None, "Style image(s); arbitrary-style models (adain, metanet).")
_STYLE_WEIGHTS = flags.DEFINE_list("style_weights", None, "One weight per --style image; default equal.")
_ALPHA = flags.DEFINE_float("alpha", None, "Style strength 0..1 (adain, metanet); default: the model's.")
_MAX_SIZE = flags.DEFINE_integer("max_size", None, "Scale frames down to this long side (the output's size).")
_COMPUTE_SIZE = flags.DEFINE_integer(
    "compute_size", None, "Stylize at most this long side and resize back (larger strokes, less compute).")
_PRESERVE_COLOR = flags.DEFINE_enum("preserve_color", "none", ["none", "luminance", "histogram"],
                                    "Keep the frames' colours.")
_STYLE_PALETTE = flags.DEFINE_bool("style_palette", True, "Arbitrary-style models: the style images' colours.")
_STABILITY = flags.DEFINE_float(
    "stability", None, "0..1: how much of the motion-warped previous stylized frame is blended into each new "
    "one where the optical flow is reliable; 0: frame by frame. Default: 0.5 (higher: steadier, but the "
    "texture is averaged down: E falls).")
_REPORT = flags.DEFINE_bool("report", False, "Print the warping error of the output and of the input (its floor).")
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Replace an existing output.")

flags.mark_flags_as_required(["model", "input", "output"])


def main(argv):
    del argv
    from keras_style import video

    video.require()
    from keras_style.video import stylize

    if not _OUTPUT.value.lower().endswith(".mp4"):
        raise StyleError(f"--output '{_OUTPUT.value}' must end in .mp4 (H.264 MP4 is written)")
    stability = stylize.DEFAULT_STABILITY if _STABILITY.value is None else _STABILITY.value
    config = stylize.VideoConfig(stability=stylize.check_stability(stability, "--stability"),
                                 max_size=_MAX_SIZE.value, overwrite=_OVERWRITE.value, measure=_REPORT.value)
    checks.check_compute_size(_COMPUTE_SIZE.value, "--compute_size")
    from keras_style import files
    from keras_style.video import io

    info = io.probe(_INPUT.value, _MAX_SIZE.value)  # not a video, no frames...: one line, before the model
    files.check_not_an_input([_OUTPUT.value], [("input video", _INPUT.value)])
    if not config.overwrite:
        import os

        if os.path.lexists(_OUTPUT.value):
            raise StyleError(files.exists_message(_OUTPUT.value))
    from keras_style import image_io
    from keras_style.inference import model_spec
    from keras_style.inference.pipeline import StyleOptions, StylePipeline

    spec = model_spec.resolve_model(_MODEL.value, _MODEL_FORMAT.value)
    spec = model_spec.choose_runtime(spec, info.out_width * info.out_height)
    if spec.announcement:
        print(spec.announcement, file=sys.stderr, flush=True)
    if (_STYLE.value or _ALPHA.value is not None) and not spec.takes_style:
        raise StyleError(f"model {spec.source} is a fixed-style model; --style and --alpha need adain or metanet")
    if spec.takes_style and not _STYLE.value:
        raise StyleError(f"model {spec.source} is an arbitrary-style model; pass --style=IMAGE[,IMAGE...]")
    styles = tuple(image_io.load_image(path) for path in _STYLE.value or ())
    weights = common.style_weight_list(_STYLE_WEIGHTS.value, len(styles)) if styles else None
    options = StyleOptions(styles=styles, style_weights=weights, alpha=_ALPHA.value,
                           style_palette=_STYLE_PALETTE.value and spec.takes_style,
                           preserve_color=_PRESERVE_COLOR.value, compute_size=_COMPUTE_SIZE.value)
    pipeline = StylePipeline(spec.load(), options)
    bar = common.ProgressBar(info.frames, label=f"stylizing video ({pipeline.stylizer.backend})")

    def progress(done, total, seconds):
        fps = done / seconds if seconds > 0 else 0.0
        eta = (total - done) / fps if fps > 0 else 0.0
        bar.total = total
        bar.update(done, f"{fps:.1f} frames/s, ETA {eta:.0f}s", elapsed=seconds)

    result = stylize.stylize_video(pipeline, _INPUT.value, _OUTPUT.value, config, progress=progress)
    print(f"wrote {result.frames} frames ({result.width}x{result.height}, {result.fps:.1f} frames/s) to "
          f"{_OUTPUT.value}", file=sys.stderr)
    if config.measure:
        print(f"warping error x1e-3: output {result.warping_error * 1e3:.2f}, "
              f"input {result.input_warping_error * 1e3:.2f} (the floor); stability {config.stability:g}")
    return 0


def run():
    common.run(main)


if __name__ == "__main__":
    run()
