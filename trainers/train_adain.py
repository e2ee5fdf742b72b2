r"""style_train_adain: train the decoder of an AdaIN arbitrary style transfer network.

  style_train_adain --content_data=tfds:coco/2014 --style_data=wikiart/ \
      --model_dir=runs/adain --export_dir=saved_models/adain/saved_model --train_steps=160000

  style_train_adain --flagfile=flags/adain.cfg

One model renders any style (Huang & Belongie 2017): the frozen VGG19 encoder and
the AdaIN layer need no training; the decoder learns to invert AdaIN's output.
--content_data and --style_data are each a folder, glob or comma list of images, or
tfds:NAME[/CONFIG][:SPLIT] (a TensorFlow Datasets dataset already prepared with
`tfds build`; there is no WikiArt builder, use a folder for styles). Every image is
resized so its short side is a random size in [--short_side_min, --short_side_max],
then randomly cropped to --crop_size. Rerunning with the same --model_dir resumes
from its latest checkpoint. TensorBoard: --logdir=MODEL_DIR.

--export_dir gets a serving SavedModel (`keras_style.export.adain`). With --tflite,
the float16 TFLite pair (ADAIN_style_encode_fp16.tflite, ADAIN_stylize_fp16.tflite,
parity-checked against the SavedModel) is also written into the export directory's
parent, the layout `style_transfer --model=NAME` finds; other quantizations:
`style_export --saved_model=EXPORT_DIR --tflite=DIR --quantize=dynamic`.
"""

from __future__ import annotations

import os
import sys

from absl import flags

from keras_style.cli import common

_CONTENT = flags.DEFINE_string("content_data", None, "Content images: folder, glob, comma list, or tfds:NAME.")
_STYLE = flags.DEFINE_string("style_data", None, "Style images: folder, glob, comma list, or tfds:NAME.")
_TFDS_DIR = flags.DEFINE_string("tfds_data_dir", None, "TensorFlow Datasets data_dir for tfds: data.")
_MODEL_DIR = flags.DEFINE_string("model_dir", None, "Checkpoints and TensorBoard events; resumes from here.")
_EXPORT_DIR = flags.DEFINE_string("export_dir", None, "Write the serving SavedModel here after training.")
_TFLITE = flags.DEFINE_bool(
    "tflite", False, "Also write the float16 TFLite pair into --export_dir's parent directory.")
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Replace an existing SavedModel in --export_dir (and TFLite pair).")
_TRAIN_STEPS = flags.DEFINE_integer("train_steps", 2000, "Total training steps (160000 in the paper).")
_STEPS_PER_LOOP = flags.DEFINE_integer("steps_per_loop", 10, "Steps per compiled loop (progress and NaN checks).")
_CKPT_INTERVAL = flags.DEFINE_integer("checkpoint_interval", 200, "Save a checkpoint every N steps (0: end only).")
_SUMMARY_INTERVAL = flags.DEFINE_integer("summary_interval", 100, "TensorBoard sample images every N steps (0: off).")
_MAX_TO_KEEP = flags.DEFINE_integer("max_to_keep", 3, "Checkpoints kept.")
_BATCH = flags.DEFINE_integer("batch_size", 8, "Global batch size (content/style pairs).")
_CROP = flags.DEFINE_integer("crop_size", 256, "Training crop size; a multiple of 8.")
_SHORT_MIN = flags.DEFINE_integer("short_side_min", 256, "Smallest random short side before cropping.")
_SHORT_MAX = flags.DEFINE_integer("short_side_max", 512, "Largest random short side before cropping.")
_LR = flags.DEFINE_float("learning_rate", 1e-4, "Adam's initial learning rate.")
_LR_DECAY = flags.DEFINE_float(
    "learning_rate_decay", None, "Learning rate at step n: lr / (1 + decay * n) (default: the library's, 5e-5).")
_STYLE_WEIGHT = flags.DEFINE_float("style_weight", None, "Style loss weight lambda (default: the library's, 10).")
_CONTENT_WEIGHT = flags.DEFINE_float("content_weight", None, "Content loss weight (default: the library's, 1).")
_STYLE_LAYERS = flags.DEFINE_list("style_layers", None, "Style loss layers (default relu1_1,relu2_1,relu3_1,relu4_1).")
_STYLE_LAYER_WEIGHTS = flags.DEFINE_list("style_layer_weights", None, "One weight per style layer.")
_WEIGHTS = flags.DEFINE_string("weights", "auto", "VGG19 weights: auto, imagenet, or a Keras .h5 file.")
_SKIP_FLAT = flags.DEFINE_bool("skip_flat", True, "Skip solid-colour crops.")
_STRATEGY = flags.DEFINE_string(
    "strategy", "default", "default, one_device[:DEVICE], mirrored (all local GPUs/CPUs) or multi_worker (TF_CONFIG)."
)
_SEED = flags.DEFINE_integer("seed", None, "Random seed (decoder initialisation, data order, crops).")

flags.mark_flags_as_required(["content_data", "style_data", "model_dir"])


def _config():
    from keras_style.tasks.adain import AdaINConfig

    overrides = {
        "learning_rate_decay": _LR_DECAY.value,
        "style_weight": _STYLE_WEIGHT.value,
        "content_weight": _CONTENT_WEIGHT.value,
        "style_layers": _STYLE_LAYERS.value,
        "style_layer_weights": common.float_list(_STYLE_LAYER_WEIGHTS.value, "style_layer_weights"),
    }
    return AdaINConfig(
        content_data=_CONTENT.value,
        style_data=_STYLE.value,
        crop_size=_CROP.value,
        short_side_range=(_SHORT_MIN.value, _SHORT_MAX.value),
        batch_size=_BATCH.value,
        learning_rate=_LR.value,
        weights=None if _WEIGHTS.value == "none" else _WEIGHTS.value,
        tfds_data_dir=_TFDS_DIR.value,
        skip_flat=_SKIP_FLAT.value,
        seed=_SEED.value,
        **{name: value for name, value in overrides.items() if value is not None},
    )


def _log(message):
    print(message, file=sys.stderr, flush=True)


def _tflite_dir() -> str:
    """Where --tflite writes the pair: the export directory's parent."""
    return os.path.dirname(os.path.abspath(_EXPORT_DIR.value)) + os.sep


def main(argv):
    del argv
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
    if _SHORT_MIN.value > _SHORT_MAX.value:
        raise StyleError(f"--short_side_min ({_SHORT_MIN.value}) must be <= --short_side_max ({_SHORT_MAX.value})")
    if _CROP.value > _SHORT_MIN.value:
        raise StyleError(f"--crop_size ({_CROP.value}) must be <= --short_side_min ({_SHORT_MIN.value})")
    config.validate()
    trainer_config.validate()
    if _STRATEGY.value.split(":", 1)[0] not in distribute.STRATEGIES:
        raise StyleError(f"unknown strategy '{_STRATEGY.value}'; choose {', '.join(distribute.STRATEGIES)}")
    config.check_inputs()
    if os.path.isfile(_MODEL_DIR.value):
        raise StyleError(f"--model_dir '{_MODEL_DIR.value}' is a file; pass a directory")
    if _TFLITE.value and not _EXPORT_DIR.value:
        raise StyleError("--tflite writes beside the SavedModel; pass --export_dir too")

    from keras_style.export.saved_model import check_export_dir
    from keras_style.tasks.adain import train_adain

    if _EXPORT_DIR.value:
        check_export_dir(_EXPORT_DIR.value, _OVERWRITE.value)
    if _TFLITE.value:
        from keras_style.export import tflite
        from keras_style.inference.adain_tflite_stylizer import tflite_pair_paths

        for path in tflite_pair_paths(_tflite_dir(), "float16").values():
            if os.path.isdir(os.path.dirname(path)):
                tflite.check_tflite_path(path, _OVERWRITE.value)

    bar = {}

    def on_progress(p):
        if "bar" not in bar:
            bar["bar"] = common.ProgressBar(p.train_steps, label="train")
        losses = " ".join(f"{name} {value:.4g}" for name, value in p.metrics.items())
        speed = f"{p.steps_per_second:.2f} steps/s"
        if p.images_per_second is not None:
            speed += f" {p.images_per_second:.1f} img/s"
        bar["bar"].update(p.step, f"{losses} {speed}")

    metrics = train_adain(
        config, trainer_config, _STRATEGY.value, _EXPORT_DIR.value, on_progress, overwrite_export=_OVERWRITE.value
    )
    summary = " ".join(f"{name} {value:.4g}" for name, value in metrics.items())
    where = f", model in {_EXPORT_DIR.value}" if _EXPORT_DIR.value else ""
    _log(f"done: {summary}; checkpoints in {_MODEL_DIR.value}{where}")
    if _TFLITE.value and os.path.isfile(os.path.join(_EXPORT_DIR.value, "saved_model.pb")):  # the chief exported
        from keras_style.export.adain import style_export_adain

        style_export_adain(_EXPORT_DIR.value, _tflite_dir(), "float16", overwrite=_OVERWRITE.value, print_fn=_log)
    return 0


def run():
    common.run(main)


if __name__ == "__main__":
    run()
