r"""style_train_metanet: train a MetaNet (Shen et al. 2018), one network for any style.

  style_train_metanet --content_data=tfds:coco/2014 --style_data=wikiart/ \
      --model_dir=runs/metanet --export_dir=saved_models/metanet --train_steps=40000

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

import sys

from absl import flags

from keras_style.cli import common

_CONTENT = flags.DEFINE_string("content_data", None, "Content images: folder, glob, comma list, or tfds:NAME.")
_STYLE_DATA = flags.DEFINE_string("style_data", None, "Style images: folder, glob or comma list.")
_TFDS_DIR = flags.DEFINE_string("tfds_data_dir", None, "TensorFlow Datasets data_dir for tfds: content data.")
_MODEL_DIR = flags.DEFINE_string("model_dir", None, "Checkpoints and TensorBoard events; resumes from here.")
_EXPORT_DIR = flags.DEFINE_string("export_dir", None, "Write the serving SavedModel here after training.")
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Replace an existing SavedModel in --export_dir.")
_TRAIN_STEPS = flags.DEFINE_integer("train_steps", 2000, "Total training steps.")
_STEPS_PER_LOOP = flags.DEFINE_integer("steps_per_loop", 10, "Steps per compiled loop (progress and NaN checks).")
_CKPT_INTERVAL = flags.DEFINE_integer("checkpoint_interval", 200, "Save a checkpoint every N steps (0: end only).")
_SUMMARY_INTERVAL = flags.DEFINE_integer("summary_interval", 100, "TensorBoard sample images every N steps (0: off).")
_MAX_TO_KEEP = flags.DEFINE_integer("max_to_keep", 3, "Checkpoints kept.")
_BATCH = flags.DEFINE_integer("batch_size", 8, "Global batch size (one style per batch).")
_CROP = flags.DEFINE_integer("crop_size", 256, "Content crop size.")
_LR = flags.DEFINE_float("learning_rate", 1e-3, "Adam learning rate.")
_BASE = flags.DEFINE_integer("base", 8, "Width of the generated transform net (P = 1620 * base^2 generated weights).")
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
_WEIGHTS = flags.DEFINE_string("weights", "auto", "VGG19 weights: auto, imagenet, or a Keras .h5 file.")
_SKIP_FLAT = flags.DEFINE_bool("skip_flat", True, "Skip solid-colour content crops.")
_STRATEGY = flags.DEFINE_string(
    "strategy", "default", "default, one_device[:DEVICE], mirrored (all local GPUs/CPUs) or multi_worker (TF_CONFIG)."
)
_SEED = flags.DEFINE_integer(
    "seed", None, "Random seed (weights, style sequence, crops); needed for resumed runs to replay the same styles.")

flags.mark_flags_as_required(["content_data", "style_data", "model_dir"])


def _config():
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
    return MetaNetConfig(
        content_data=_CONTENT.value,
        style_data=_STYLE_DATA.value,
        crop_size=_CROP.value,
        batch_size=_BATCH.value,
        learning_rate=_LR.value,
        base=_BASE.value,
        hidden_per_layer=_HIDDEN.value,
        style_change_every=_STYLE_CHANGE_EVERY.value,
        pooling=_POOLING.value,
        weights=None if _WEIGHTS.value == "none" else _WEIGHTS.value,
        tfds_data_dir=_TFDS_DIR.value,
        skip_flat=_SKIP_FLAT.value,
        seed=_SEED.value,
        **{name: value for name, value in overrides.items() if value is not None},
    )


def _log(message):
    print(message, file=sys.stderr, flush=True)


def main(argv):
    del argv
    import os

    from keras_style.errors import StyleError
    from keras_style.training import distribute
    from keras_style.training.trainer import TrainerConfig

    config = _config()
    trainer_config = TrainerConfig(
        model_dir=_MODEL_DIR.value,
        train_steps=_TRAIN_STEPS.value,
        steps_per_loop=_STEPS_PER_LOOP.value,
        checkpoint_interval=_CKPT_INTERVAL.value,
        summary_interval=_SUMMARY_INTERVAL.value,
        max_to_keep=_MAX_TO_KEEP.value,
        log=_log,
    )
    # Everything checkable is checked before TensorFlow loads and training starts.
    config.validate()
    trainer_config.validate()
    if _STRATEGY.value.split(":", 1)[0] not in distribute.STRATEGIES:
        raise StyleError(f"unknown strategy '{_STRATEGY.value}'; choose {', '.join(distribute.STRATEGIES)}")
    styles = config.check_inputs()
    if os.path.isfile(_MODEL_DIR.value):
        raise StyleError(f"--model_dir '{_MODEL_DIR.value}' is a file; pass a directory")

    from keras_style.tasks.fast_style import check_export_dir

    if _EXPORT_DIR.value:
        check_export_dir(_EXPORT_DIR.value, _OVERWRITE.value)
    common.import_tensorflow()  # checks done: TensorFlow, with its start-up lines filtered
    from keras_style.tasks.metanet import train_metanet

    _log(f"training on {len(styles)} style image{'s' if len(styles) != 1 else ''}; "
         f"style changes every {config.style_change_every} steps")

    bar = {}

    def on_progress(p):
        if "bar" not in bar:
            bar["bar"] = common.ProgressBar(p.train_steps, label="train")
        losses = " ".join(f"{name} {value:.4g}" for name, value in p.metrics.items())
        speed = f"{p.steps_per_second:.2f} steps/s"
        if p.images_per_second is not None:
            speed += f" {p.images_per_second:.1f} img/s"
        bar["bar"].update(p.step, f"{losses} {speed}")

    metrics = train_metanet(
        config, trainer_config, _STRATEGY.value, _EXPORT_DIR.value, on_progress, overwrite_export=_OVERWRITE.value
    )
    summary = " ".join(f"{name} {value:.4g}" for name, value in metrics.items())
    where = f", model in {_EXPORT_DIR.value}" if _EXPORT_DIR.value else ""
    _log(f"done: {summary}; checkpoints in {_MODEL_DIR.value}{where}")
    return 0


def run():
    common.run(main)


if __name__ == "__main__":
    run()
