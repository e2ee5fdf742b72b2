r"""style_gatys: stylize one image by optimisation (Gatys et al.) over VGG19 features.

  style_gatys --content_image=photo.jpg --style_images=a.jpg,b.jpg \
      --style_blend_weights=0.7,0.3 --output_image=out.png --image_size=512 --iterations=300

Recipes: --flagfile=flags/gatys.cfg (and flags/gatys_hd.cfg for coarse-to-fine).
"""

from __future__ import annotations

import os
import sys

from absl import flags

from keras_style import checks, image_io
from keras_style.cli import common
from keras_style.errors import StyleError
from keras_style.gatys import GatysConfig  # no Keras: --help and input errors answer without TensorFlow

_D = GatysConfig()  # flag defaults come from the library config, so they cannot drift

_CONTENT = flags.DEFINE_string("content_image", None, "Content image file.")
_STYLES = common.define_path_list("style_images", None, "Comma-separated style image files.")
_BLEND = flags.DEFINE_list("style_blend_weights", None, "One weight per style image (normalised to sum 1).")
_OUTPUT = flags.DEFINE_string("output_image", None, "Where to write the result (.png, .jpg, .webp, ...).")
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Replace existing output files.")
_SIZE = flags.DEFINE_integer("image_size", _D.image_size, "Long side of the output in pixels.")
_SCALES = flags.DEFINE_list(
    "scales", None, "Coarse-to-fine long sides, e.g. 256,512,1024; each stage starts from the upsampled "
    "previous result. Overrides --image_size."
)
_ITERATIONS = flags.DEFINE_integer("iterations", _D.iterations, "Loss-and-gradient evaluations per stage (L-BFGS budget).")
_CONTENT_WEIGHT = flags.DEFINE_float("content_weight", _D.content_weight, "Weight of the content loss.")
_STYLE_WEIGHT = flags.DEFINE_float("style_weight", _D.style_weight, "Weight of the Gram style loss.")
_TV_WEIGHT = flags.DEFINE_float("tv_weight", _D.tv_weight, "Weight of the total-variation loss (per pixel).")
_TV_FORM = flags.DEFINE_enum("tv_form", _D.tv_form, ["l1", "pow1.25"], "Total-variation form.")
_CONTENT_LAYERS = flags.DEFINE_list("content_layers", list(_D.content_layers), "VGG layers for the content loss.")
_CONTENT_LAYER_WEIGHTS = flags.DEFINE_list("content_layer_weights", None, "One weight per content layer.")
_STYLE_LAYERS = flags.DEFINE_list(
    "style_layers", list(_D.style_layers),
    "VGG layers for the style loss (Keras names, or relu1_1-style names).",
)
_STYLE_LAYER_WEIGHTS = flags.DEFINE_list("style_layer_weights", None, "One weight per style layer.")
_NETWORK = flags.DEFINE_enum("network", _D.network, ["vgg19", "vgg16"], "Loss network (VGG16 needs a network "
                             "connection or --weights=FILE).")
_POOLING = flags.DEFINE_enum("pooling", _D.pooling, ["avg", "max"], "Pooling in the loss network.")
_WEIGHTS = flags.DEFINE_string("weights", "auto", "auto (cached, else fetched once), imagenet (Keras' "
                               "download) or a Keras .h5 weights file.")
_INIT = flags.DEFINE_string("init", _D.init, "Starting image: content, noise, or an image file.")
_STYLE_SCALE = flags.DEFINE_float("style_scale", _D.style_scale, "Style images are resized to style_scale x image_size.")
_PRESERVE_COLOR = flags.DEFINE_enum(
    "preserve_color", "none", ["none", "luminance", "histogram"],
    "Keep the content's colours: luminance (style only the YIQ luminance, Gatys et al. 2016) or histogram "
    "(match the output's colour mean and covariance to the content's).",
)
_SEED = flags.DEFINE_integer("seed", _D.seed, "Random seed (noise init).")
_SAVE_EVERY = flags.DEFINE_integer("save_every", 0, "Also write the current image every N evaluations "
                                   "(as OUTPUT_sSTAGE_EVAL.ext); 0 turns it off.")
_MAX_PIXELS = flags.DEFINE_integer("max_image_pixels", None, "Refuse input images with more pixels than this "
                                   "(decompression-bomb guard); default: the library's limit.")

_PRECISION = common.define_precision_flag()

flags.mark_flags_as_required(["content_image", "style_images", "output_image"])


def _config():
    return GatysConfig(
        content_weight=_CONTENT_WEIGHT.value,
        style_weight=_STYLE_WEIGHT.value,
        tv_weight=_TV_WEIGHT.value,
        tv_form=_TV_FORM.value,
        content_layers=_CONTENT_LAYERS.value,
        content_layer_weights=common.float_list(_CONTENT_LAYER_WEIGHTS.value, "content_layer_weights"),
        style_layers=_STYLE_LAYERS.value,
        style_layer_weights=common.float_list(_STYLE_LAYER_WEIGHTS.value, "style_layer_weights"),
        style_blend_weights=common.float_list(_BLEND.value, "style_blend_weights"),
        network=_NETWORK.value,
        pooling=_POOLING.value,
        weights=None if _WEIGHTS.value == "none" else _WEIGHTS.value,
        image_size=_SIZE.value,
        scales=common.int_list(_SCALES.value, "scales"),
        style_scale=_STYLE_SCALE.value,
        iterations=_ITERATIONS.value,
        init=_INIT.value,
        preserve_color=None if _PRESERVE_COLOR.value == "none" else _PRESERVE_COLOR.value,
        seed=_SEED.value,
        precision=_PRECISION.value,
    )


def _snapshot_path(stage: int, evaluation: int) -> str:
    """Where --save_every writes the image after `evaluation` of `stage` (0-based)."""
    stem, ext = os.path.splitext(_OUTPUT.value)
    return f"{stem}_s{stage + 1}_{evaluation:05d}{ext}"


def _snapshot_paths(config) -> list[str]:
    """Every path --save_every may write: each stage's multiples of N within the budget."""
    every = _SAVE_EVERY.value
    if not every:
        return []
    return [
        _snapshot_path(stage, evaluation)
        for stage in range(len(config.stage_sizes()))
        for evaluation in range(every, config.iterations + 1, every)
    ]


def main(argv):
    del argv
    config = _config()
    config.validate()
    if config.style_blend_weights is not None:  # one per style, before any image is read
        checks.normalised_weights(config.style_blend_weights, len(_STYLES.value), "--style_blend_weights")
    if _SAVE_EVERY.value < 0:
        raise StyleError(f"--save_every must be >= 0 (0 turns snapshots off), got {_SAVE_EVERY.value}")
    load_kwargs = {} if _MAX_PIXELS.value is None else {"max_pixels": _MAX_PIXELS.value}
    # Every input is checked before the (long) optimisation starts.
    outputs = [_OUTPUT.value] + _snapshot_paths(config)
    for path in outputs:  # a snapshot found taken mid-run would leave the earlier ones behind
        image_io.check_output_path(path, overwrite=_OVERWRITE.value)
    inputs = [("content image", _CONTENT.value)] + [("style image", path) for path in _STYLES.value]
    if config.init not in ("content", "noise"):
        inputs.append(("init image", config.init))
    if _WEIGHTS.value not in ("auto", "imagenet", "none"):
        inputs.append(("VGG weights file", _WEIGHTS.value))
    image_io.check_not_an_input(outputs, inputs)  # even with --overwrite
    content = image_io.load_image(_CONTENT.value, **load_kwargs)
    styles = [image_io.load_image(path, **load_kwargs) for path in _STYLES.value]
    if config.init not in ("content", "noise"):
        image_io.load_image(config.init, **load_kwargs)

    from keras_style import gatys

    # Too thin an image fails inside VGG mid-run; refuse it now, naming the file.
    gatys.check_image_sizes(
        config, content, styles,
        names=[f"content image '{_CONTENT.value}'"] + [f"style image '{path}'" for path in _STYLES.value],
    )

    precision_line = common.PrecisionLine(config.precision)
    config.precision = precision_line.policy
    bar = {}

    def on_progress(p: gatys.Progress):
        precision_line.announce()  # after every check, when the optimisation has started
        if p.stage not in bar:
            bar[p.stage] = common.ProgressBar(
                p.total_evaluations, label=f"stage {p.stage + 1}/{p.num_stages} {p.size[1]}x{p.size[0]}"
            )
        bar[p.stage].update(
            min(p.evaluation, p.total_evaluations),
            f"loss {p.loss:.4g} (content {p.content_loss:.3g} style {p.style_loss:.3g} tv {p.tv_loss:.3g}) "
            f"{p.evaluations_per_second:.2f} eval/s",
        )
        # L-BFGS-B may overrun its budget to finish a line search; snapshots stay within
        # it, so every path was checked up front.
        if _SAVE_EVERY.value and p.evaluation % _SAVE_EVERY.value == 0 and p.evaluation <= p.total_evaluations:
            image_io.save_image(p.image(), _snapshot_path(p.stage, p.evaluation), overwrite=_OVERWRITE.value)

    result = gatys.stylize(gatys.loss_network(config), content, styles, config=config, on_progress=on_progress)
    image_io.save_image(result, _OUTPUT.value, overwrite=_OVERWRITE.value)
    print(f"wrote {_OUTPUT.value} ({result.shape[1]}x{result.shape[0]})", file=sys.stderr)
    return 0


def run():
    common.run(main)


if __name__ == "__main__":
    run()
