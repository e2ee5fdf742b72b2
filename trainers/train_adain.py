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

from absl import flags

from keras_style.cli import common, training
from keras_style.native_logs import import_tensorflow
from keras_style.training import distribute

_STYLE = flags.DEFINE_string("style_data", None, "Style images: folder, glob, comma list, or tfds:NAME.")
_T = training.define_trainer_flags(
    helps={
        "tfds_data_dir": "TensorFlow Datasets data_dir for tfds: data.",
        "overwrite": "Replace an existing SavedModel in --export_dir (and TFLite pair).",
        "train_steps": "Total training steps (160000 in the paper).",
        "batch_size": "Global batch size (content/style pairs).",
        "crop_size": "Training crop size; a multiple of 8.",
        "learning_rate": "Adam's initial learning rate.",
        "seed": "Random seed (decoder initialisation, data order, crops).",
    },
    batch_size=8,
    learning_rate=1e-4,
)
_TFLITE = flags.DEFINE_bool(
    "tflite", False, "Also write the float16 TFLite pair into --export_dir's parent directory.")
_SHORT_MIN = flags.DEFINE_integer("short_side_min", 256, "Smallest random short side before cropping.")
_SHORT_MAX = flags.DEFINE_integer("short_side_max", 512, "Largest random short side before cropping.")
_STYLE_SHORT_MIN = flags.DEFINE_integer(
    "style_short_side_min", None, "Smallest random short side of the style images (default: --short_side_min).")
_STYLE_SHORT_MAX = flags.DEFINE_integer(
    "style_short_side_max", None, "Largest random short side of the style images (default: --short_side_max).")
_FLIP_STYLES = flags.DEFINE_bool("flip_styles", False, "Mirror half of the style crops left-right (augmentation).")
_LR_DECAY = flags.DEFINE_float(
    "learning_rate_decay", None, "Learning rate at step n: lr / (1 + decay * n) (default: the library's, 5e-5).")
_STYLE_WEIGHT = flags.DEFINE_float("style_weight", None, "Style loss weight lambda (default: the library's, 10).")
_CONTENT_WEIGHT = flags.DEFINE_float("content_weight", None, "Content loss weight (default: the library's, 1).")
_STYLE_LAYERS = flags.DEFINE_list("style_layers", None, "Style loss layers (default relu1_1,relu2_1,relu3_1,relu4_1).")
_STYLE_LAYER_WEIGHTS = flags.DEFINE_list("style_layer_weights", None, "One weight per style layer.")

flags.mark_flags_as_required(["content_data", "style_data", "model_dir"])


def config_from_flags():
    """The `AdaINConfig` the parsed flags describe (also what the export records as
    its training settings, which the recipe tests compare with each flagfile)."""
    from keras_style.tasks.adain import AdaINConfig

    overrides = {
        "learning_rate_decay": _LR_DECAY.value,
        "style_weight": _STYLE_WEIGHT.value,
        "content_weight": _CONTENT_WEIGHT.value,
        "style_layers": _STYLE_LAYERS.value,
        "style_layer_weights": common.float_list(_STYLE_LAYER_WEIGHTS.value, "style_layer_weights"),
    }
    style_range = None
    if _STYLE_SHORT_MIN.value is not None or _STYLE_SHORT_MAX.value is not None:
        style_range = (
            _SHORT_MIN.value if _STYLE_SHORT_MIN.value is None else _STYLE_SHORT_MIN.value,
            _SHORT_MAX.value if _STYLE_SHORT_MAX.value is None else _STYLE_SHORT_MAX.value,
        )
    return training.task_config(
        AdaINConfig, _T, overrides, style_data=_STYLE.value, short_side_range=(_SHORT_MIN.value, _SHORT_MAX.value),
        style_short_side_range=style_range, flip_styles=_FLIP_STYLES.value,
    )


def _tflite_dir() -> str:
    """Where --tflite writes the pair: the export directory's parent."""
    return os.path.dirname(os.path.abspath(_T.export_dir.value)) + os.sep


def main(argv):
    del argv
    from keras_style.errors import StyleError

    config = config_from_flags()
    trainer_config = training.trainer_config(_T)
    # Everything checkable is checked before TensorFlow loads and training starts.
    if _SHORT_MIN.value > _SHORT_MAX.value:
        raise StyleError(f"--short_side_min ({_SHORT_MIN.value}) must be <= --short_side_max ({_SHORT_MAX.value})")
    if _T.crop_size.value > _SHORT_MIN.value:
        raise StyleError(f"--crop_size ({_T.crop_size.value}) must be <= --short_side_min ({_SHORT_MIN.value})")
    training.check_common(_T, config, trainer_config)
    if _TFLITE.value and not _T.export_dir.value:
        raise StyleError("--tflite writes beside the SavedModel; pass --export_dir too")

    training.check_export(_T)
    if _TFLITE.value:
        from keras_style.export import tflite
        from keras_style.inference.adain import tflite_pair_paths

        for path in tflite_pair_paths(_tflite_dir(), "float16").values():
            if os.path.isdir(os.path.dirname(path)):
                tflite.check_tflite_path(path, _T.overwrite.value)

    training.claim_model_dir(_T, config)
    import_tensorflow()  # checks done: TensorFlow, with its start-up lines filtered
    from keras_style.tasks.adain import train_adain

    metrics = train_adain(
        config, trainer_config, _T.strategy.value, _T.export_dir.value, training.progress_printer(),
        overwrite_export=_T.overwrite.value,
    )
    training.report_done(metrics, _T.model_dir.value, _T.export_dir.value, _T.strategy.value)
    # Only the chief exported; another worker of its cluster must not convert it too.
    if _TFLITE.value and distribute.cluster_role(_T.strategy.value)[0]:
        from keras_style.export.adain import AdaINExporter

        AdaINExporter().export_tflite(
            _T.export_dir.value, _tflite_dir(), "float16", overwrite=_T.overwrite.value
        ).report(print_fn=training.log)
    return 0


def run():
    common.run(main)


if __name__ == "__main__":
    run()
