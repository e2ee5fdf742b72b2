r"""style_train_fast: train a Johnson et al. fast style transfer network for one style.

  style_train_fast --style_image=starry.jpg --content_data=tfds:coco/2014 \
      --model_dir=runs/starry --export_dir=saved_models/starry --train_steps=40000

  style_train_fast --flagfile=flags/fast_style_auvers.cfg

--content_data is a folder, glob or comma list of images, or tfds:NAME[/CONFIG][:SPLIT]
(a TensorFlow Datasets dataset already prepared with `tfds build`). Rerunning with the
same --model_dir resumes from its latest checkpoint. TensorBoard: --logdir=MODEL_DIR.
"""

from __future__ import annotations

from absl import flags

from keras_style.cli import common, training
from keras_style.native_logs import import_tensorflow

_STYLE = flags.DEFINE_string("style_image", None, "Style image file.")
_T = training.define_trainer_flags()
_BASE = flags.DEFINE_integer("base", 8, "TransformNet width (32 in the paper; 8 is ~16x cheaper).")
_CONTENT_WEIGHT = flags.DEFINE_float("content_weight", None, "Content loss weight (default: the library's).")
_STYLE_WEIGHT = flags.DEFINE_float("style_weight", None, "Style loss weight (default: the library's).")
_TV_WEIGHT = flags.DEFINE_float("tv_weight", None, "Total-variation weight (default: the library's).")
_CONTENT_LAYERS = flags.DEFINE_list("content_layers", None, "VGG19 content layers (default block2_conv2).")
_STYLE_LAYERS = flags.DEFINE_list(
    "style_layers", None, "VGG19 style layers (default block1_conv2,block2_conv2,block3_conv3,block4_conv3)."
)
_STYLE_LAYER_WEIGHTS = flags.DEFINE_list("style_layer_weights", None, "One weight per style layer.")
_STYLE_SIZE = flags.DEFINE_integer("style_size", None, "Long side of the style image in pixels (default 512).")
_POOLING = flags.DEFINE_enum("pooling", "max", ["avg", "max"], "Pooling in the VGG loss network.")

flags.mark_flags_as_required(["style_image", "content_data", "model_dir"])


def config_from_flags():
    """The `FastStyleConfig` the parsed flags describe (also what the export records as
    its training settings, which the recipe tests compare with each flagfile)."""
    from keras_style.tasks.fast_style import FastStyleConfig

    overrides = {
        "content_weight": _CONTENT_WEIGHT.value,
        "style_weight": _STYLE_WEIGHT.value,
        "tv_weight": _TV_WEIGHT.value,
        "content_layers": _CONTENT_LAYERS.value,
        "style_layers": _STYLE_LAYERS.value,
        "style_layer_weights": common.float_list(_STYLE_LAYER_WEIGHTS.value, "style_layer_weights"),
        "style_size": _STYLE_SIZE.value,
    }
    return training.task_config(FastStyleConfig, _T, overrides, style_image=_STYLE.value, base=_BASE.value,
                                pooling=_POOLING.value)


def main(argv):
    del argv
    config = config_from_flags()
    trainer_config = training.trainer_config(_T)
    training.check_common(_T, config, trainer_config)
    training.check_export(_T)
    training.claim_model_dir(_T, config)
    import_tensorflow()  # checks done: TensorFlow, with its start-up lines filtered
    from keras_style.tasks.fast_style import train_fast_style

    metrics = train_fast_style(
        config, trainer_config, _T.strategy.value, _T.export_dir.value, training.progress_printer(),
        overwrite_export=_T.overwrite.value,
    )
    training.report_done(metrics, _T.model_dir.value, _T.export_dir.value, _T.strategy.value)
    return 0


def run():
    common.run(main)


if __name__ == "__main__":
    run()
