r"""style_train_metanet: train a MetaNet (Shen et al. 2018), one network for any style.

  style_train_metanet --content_data=tfds:coco/2014 --style_data=wikiart/ \
      --model_dir=runs/metanet --export_dir=saved_models/metanet/saved_model --train_steps=40000

  style_train_metanet --flagfile=flags/metanet.cfg

The MetaNet learns to turn a style image's VGG19 statistics into the filters of a
transform net; both train together, one style per batch, the style changing every
--style_change_every steps (see keras_style/tasks/metanet.py). --content_data is a
folder, glob or comma list of images, or tfds:NAME[/CONFIG][:SPLIT]; --style_data a
folder, glob or comma list of style images. Rerunning with the same --model_dir
resumes from its latest checkpoint. TensorBoard: --logdir=MODEL_DIR.

The export (--export_dir) is a SavedModel with signatures style_to_weights,
stylize_with_weights and a one-shot serving_default (keras_style/export/metanet.py);
`style_transfer --model=EXPORT --style=painting.jpg` runs it, `style_export` converts
it to a TFLite pair and `style_metanet_extract` bakes one style into a standalone
fast-style model.
"""

from __future__ import annotations

from absl import flags

from keras_style.cli import common, training
from keras_style.native_logs import import_tensorflow

_STYLE_DATA = flags.DEFINE_string("style_data", None, "Style images: folder, glob or comma list.")
_T = training.define_trainer_flags(
    helps={
        "batch_size": "Global batch size (one style per batch).",
        "crop_size": "Content crop size.",
        "skip_flat": "Skip solid-colour content crops.",
        "seed": "Random seed (weights, style sequence, crops); needed for resumed runs to replay the same styles.",
    },
    batch_size=8,
)
_BASE = flags.DEFINE_integer("base", 8, "Width of the generated transform net (P = 1620 * base^2 + 98 * base generated weights).")
_HIDDEN = flags.DEFINE_integer("hidden_per_layer", 128, "MetaNet hidden units per generated conv (128 in the paper).")
_CONTENT_WEIGHT = flags.DEFINE_float("content_weight", None, "Content loss weight (default: the library's).")
_STYLE_WEIGHT = flags.DEFINE_float("style_weight", None, "Style loss weight (default: the library's).")
_TV_WEIGHT = flags.DEFINE_float("tv_weight", None, "Total-variation weight (default: the library's).")
_WEIGHT_NORM_PENALTY = flags.DEFINE_float(
    "weight_norm_penalty", None, "L2 penalty on the MetaNet heads' raw output (default: the library's, 0).")
_CONTENT_LAYERS = flags.DEFINE_list("content_layers", None, "VGG19 content layers (default block2_conv2).")
_STYLE_LAYERS = flags.DEFINE_list(
    "style_layers", None, "VGG19 style layers (default block1_conv2,block2_conv2,block3_conv3,block4_conv3)."
)
_STYLE_LAYER_WEIGHTS = flags.DEFINE_list("style_layer_weights", None, "One weight per style layer.")
_STYLE_SIZE = flags.DEFINE_integer(
    "style_size", None, "Style images are resized to this short side and cropped square (default 256); "
    "the runtime resizes style images to it too.")
_STYLE_CHANGE_EVERY = flags.DEFINE_integer("style_change_every", 20, "Steps between style changes.")
_POOLING = flags.DEFINE_enum("pooling", "max", ["avg", "max"], "Pooling in the VGG loss network.")

flags.mark_flags_as_required(["content_data", "style_data", "model_dir"])


def config_from_flags():
    """The `MetaNetConfig` the parsed flags describe (also what the export records as
    its training settings, which the recipe tests compare with each flagfile)."""
    from keras_style.tasks.metanet import MetaNetConfig

    overrides = {
        "content_weight": _CONTENT_WEIGHT.value,
        "style_weight": _STYLE_WEIGHT.value,
        "tv_weight": _TV_WEIGHT.value,
        "weight_norm_penalty": _WEIGHT_NORM_PENALTY.value,
        "content_layers": _CONTENT_LAYERS.value,
        "style_layers": _STYLE_LAYERS.value,
        "style_layer_weights": common.float_list(_STYLE_LAYER_WEIGHTS.value, "style_layer_weights"),
        "style_size": _STYLE_SIZE.value,
    }
    return training.task_config(
        MetaNetConfig, _T, overrides, style_data=_STYLE_DATA.value, base=_BASE.value, hidden_per_layer=_HIDDEN.value,
        style_change_every=_STYLE_CHANGE_EVERY.value, pooling=_POOLING.value,
    )


def main(argv):
    del argv
    config = config_from_flags()
    trainer_config = training.trainer_config(_T)
    styles = training.check_common(_T, config, trainer_config)

    training.check_export(_T)
    training.claim_model_dir(_T, config)
    import_tensorflow()  # checks done: TensorFlow, with its start-up lines filtered
    from keras_style.tasks.metanet import train_metanet

    training.log(f"training on {len(styles)} style image{'s' if len(styles) != 1 else ''}; "
                 f"style changes every {config.style_change_every} steps")
    metrics = train_metanet(
        config, trainer_config, _T.strategy.value, _T.export_dir.value, training.progress_printer(),
        overwrite_export=_T.overwrite.value,
    )
    training.report_done(metrics, _T.model_dir.value, _T.export_dir.value, _T.strategy.value)
    return 0


def run():
    common.run(main)


if __name__ == "__main__":
    run()
