"""What the training programs (trainers/train_*.py) share: trainer flags, the
`TrainerConfig` they build, the up-front checks, the progress bar and the final line.

Each program calls `define_trainer_flags` once, at import, with its own defaults and
help texts, then builds its method's config from the returned `TrainerFlags`.
"""

from __future__ import annotations

import atexit
import dataclasses
import os
import sys
from typing import Callable

from absl import flags

from keras_style.cli import common
from keras_style.errors import StyleError
from keras_style.export.saved_model import check_export_dir
from keras_style.inference import resolve_model
from keras_style.training import distribute
from keras_style.training import model_dir as model_dirs
from keras_style.training.trainer import TrainerConfig

# Flags defined below belong to the program that calls `define_trainer_flags`: they
# are its key flags, so its --help lists them as before.
flags.disclaim_key_flags()

# The default and help text of every shared flag; a program overrides some of them.
_DEFAULTS = {
    "content_data": None,
    "tfds_data_dir": None,
    "model_dir": None,
    "export_dir": None,
    "overwrite": False,
    "train_steps": 2000,
    "steps_per_loop": 10,
    "checkpoint_interval": 200,
    "summary_interval": 100,
    "max_to_keep": 3,
    "batch_size": 4,
    "crop_size": 256,
    "learning_rate": 1e-3,
    "weights": "auto",
    "skip_flat": True,
    "strategy": "default",
    "seed": None,
    "precision": "auto",
    "init_from": None,
    "allow_config_change": False,
}
_HELP = {
    "content_data": "Content images: folder, glob, comma list, or tfds:NAME.",
    "tfds_data_dir": "TensorFlow Datasets data_dir for tfds: content data.",
    "model_dir": "Checkpoints, TensorBoard events and the run's settings (run_config.json); resumes from here, "
    "from the newest checkpoint that reads. One run at a time (locked while training).",
    "export_dir": "Write the serving SavedModel here after training.",
    "overwrite": "Replace an existing SavedModel in --export_dir.",
    "train_steps": "Total training steps.",
    "steps_per_loop": "Steps per compiled loop (progress and NaN checks).",
    "checkpoint_interval": "Save a checkpoint every N steps (0: end only).",
    "summary_interval": "TensorBoard sample images every N steps (0: off).",
    "max_to_keep": "Checkpoints kept.",
    "batch_size": "Global batch size.",
    "crop_size": "Training crop size.",
    "learning_rate": "Adam learning rate.",
    "weights": "VGG19 weights: auto, imagenet, or a Keras .h5 file.",
    "skip_flat": "Skip solid-colour crops.",
    "strategy": "default, one_device[:DEVICE], mirrored (all local GPUs/CPUs) or multi_worker (TF_CONFIG).",
    "seed": "Random seed (weights, data order, crops).",
    "precision": "auto (mixed_bfloat16 on CPUs with bfloat16 units, mixed_float16 on GPUs with tensor cores, "
    "else float32), float32, mixed_bfloat16 or mixed_float16. Checkpoints resume in any precision.",
    "init_from": "Start from this SavedModel's weights (a directory or shipped name of the same kind) when "
    "--model_dir has no checkpoint: fine-tuning, or continuing a shipped model's training.",
    "allow_config_change": "Resume --model_dir even though its model, style, data, crop or loss settings differ "
    "from run_config.json (refused otherwise). The schedule (--train_steps, intervals, --learning_rate, "
    "--batch_size, --seed, --precision) may always change on resume.",
}
_DEFINE = {
    "overwrite": flags.DEFINE_bool,
    "allow_config_change": flags.DEFINE_bool,
    "skip_flat": flags.DEFINE_bool,
    "train_steps": flags.DEFINE_integer,
    "steps_per_loop": flags.DEFINE_integer,
    "checkpoint_interval": flags.DEFINE_integer,
    "summary_interval": flags.DEFINE_integer,
    "max_to_keep": flags.DEFINE_integer,
    "batch_size": flags.DEFINE_integer,
    "crop_size": flags.DEFINE_integer,
    "seed": flags.DEFINE_integer,
    "learning_rate": flags.DEFINE_float,
}


@dataclasses.dataclass(frozen=True)
class TrainerFlags:
    """The `FlagHolder`s of the shared training flags."""

    content_data: flags.FlagHolder
    tfds_data_dir: flags.FlagHolder
    model_dir: flags.FlagHolder
    export_dir: flags.FlagHolder
    overwrite: flags.FlagHolder
    train_steps: flags.FlagHolder
    steps_per_loop: flags.FlagHolder
    checkpoint_interval: flags.FlagHolder
    summary_interval: flags.FlagHolder
    max_to_keep: flags.FlagHolder
    batch_size: flags.FlagHolder
    crop_size: flags.FlagHolder
    learning_rate: flags.FlagHolder
    weights: flags.FlagHolder
    skip_flat: flags.FlagHolder
    strategy: flags.FlagHolder
    seed: flags.FlagHolder
    precision: flags.FlagHolder
    init_from: flags.FlagHolder
    allow_config_change: flags.FlagHolder


def define_trainer_flags(helps: dict[str, str] | None = None, **defaults) -> TrainerFlags:
    """Defines the shared training flags (call once, at the program's import).

    Args:
      helps: {flag name: help text} replacing the generic help of those flags.
      **defaults: {flag name: default} replacing the generic defaults.
    """
    helps = helps or {}
    unknown = (set(helps) | set(defaults)) - set(_DEFAULTS)
    if unknown:
        raise TypeError(f"not shared training flags: {', '.join(sorted(unknown))}")
    holders = {
        name: _DEFINE.get(name, flags.DEFINE_string)(name, defaults.get(name, default), helps.get(name, _HELP[name]))
        for name, default in _DEFAULTS.items()
    }
    return TrainerFlags(**holders)


def log(message):
    """One line on stderr, where the progress bar is."""
    print(message, file=sys.stderr, flush=True)


def weights(f: TrainerFlags) -> str | None:
    """--weights as the library takes it: 'none' means no pretrained weights."""
    return None if f.weights.value == "none" else f.weights.value


def task_config(config_class, f: TrainerFlags, overrides: dict, **fields):
    """`config_class(...)` from the shared data and optimiser flags, the method's own
    `fields`, and `overrides`: flags that default to None, passed only when set, so an
    unset flag keeps the library's default."""
    return config_class(
        content_data=f.content_data.value,
        crop_size=f.crop_size.value,
        batch_size=f.batch_size.value,
        learning_rate=f.learning_rate.value,
        weights=weights(f),
        tfds_data_dir=f.tfds_data_dir.value,
        skip_flat=f.skip_flat.value,
        seed=f.seed.value,
        **fields,
        **{name: value for name, value in overrides.items() if value is not None},
    )


def trainer_config(f: TrainerFlags):
    """The `TrainerConfig` the flags ask for, logging to stderr."""
    return TrainerConfig(
        model_dir=f.model_dir.value,
        train_steps=f.train_steps.value,
        steps_per_loop=f.steps_per_loop.value,
        checkpoint_interval=f.checkpoint_interval.value,
        summary_interval=f.summary_interval.value,
        max_to_keep=f.max_to_keep.value,
        log=log,
        precision=f.precision.value,
        init_from=f.init_from.value or None,
        allow_config_change=f.allow_config_change.value,
    )


def check_common(f: TrainerFlags, config, trainer_config):
    """The checks every program makes before TensorFlow loads and training starts.

    Validates `config`, `trainer_config` and the strategy name, checks the input data
    and that --model_dir is not a file; raises StyleError. Returns what
    `config.check_inputs()` returned.
    """
    config.validate()
    trainer_config.validate()
    if f.strategy.value.split(":", 1)[0] not in distribute.STRATEGIES:
        raise StyleError(f"unknown strategy '{f.strategy.value}'; choose {', '.join(distribute.STRATEGIES)}")
    inputs = config.check_inputs()
    if trainer_config.init_from:
        resolve_model(trainer_config.init_from)  # a missing model fails here, before TensorFlow loads
    if os.path.isfile(f.model_dir.value):
        raise StyleError(f"--model_dir '{f.model_dir.value}' is a file; pass a directory")
    check_outputs_not_inputs(f, config, trainer_config)
    return inputs


def claim_model_dir(f: TrainerFlags, config) -> None:
    """The last check before TensorFlow loads (the first to create --model_dir): locks it
    until the command exits and refuses a resume whose `config` differs from the run's
    run_config.json. The `Trainer` does both again (sharing this process's lock); here a
    second run or a changed style is refused in a fraction of a second."""
    chief, task = distribute.cluster_role(f.strategy.value)
    name = model_dirs.lock_file_name(None if chief else distribute.worker_name(*task))
    lock = model_dirs.ModelDirLock(f.model_dir.value, name, log=log)
    lock.acquire()
    # Released cleanly at exit (errors included); only a killed run leaves its pid behind.
    atexit.register(lock.release)
    if model_dirs.checkpoint_candidates(f.model_dir.value):
        from keras_style.tasks._common import run_settings

        model_dirs.check_resume_settings(f.model_dir.value, run_settings(config), f.allow_config_change.value)


def check_outputs_not_inputs(f: TrainerFlags, config, trainer_config) -> None:
    """Neither --model_dir nor --export_dir is, contains or lies inside an input (the data's
    images, the style image, --init_from, --weights, --tfds_data_dir), however spelled; the
    export may go inside --model_dir but may not be or contain it (it would replace the
    checkpoints)."""
    from keras_style import data, files, image_io

    inputs = []
    for flag in ("content_data", "style_data"):
        spec = getattr(config, flag, None)
        if spec and data.parse_tfds_spec(spec) is None:
            inputs += [(f"--{flag} image", path) for path in image_io.list_images(spec)]
    if getattr(config, "style_image", None):
        inputs.append(("--style_image", config.style_image))
    if trainer_config.init_from:
        inputs.append(("--init_from model", resolve_model(trainer_config.init_from).path))
    if f.weights.value not in ("auto", "imagenet", "none"):
        inputs.append(("--weights file", f.weights.value))
    if f.tfds_data_dir.value:
        inputs.append(("--tfds_data_dir", f.tfds_data_dir.value))
    files.check_not_an_input([f.model_dir.value], inputs)
    if f.export_dir.value:
        files.check_not_an_input([f.export_dir.value], inputs, holders=[("--model_dir", f.model_dir.value)])


def check_export(f: TrainerFlags) -> None:
    """Fails before training if --export_dir could not take the export (the exporters' own check)."""
    if f.export_dir.value:
        check_export_dir(f.export_dir.value, f.overwrite.value)


def progress_printer() -> Callable:
    """An `on_progress` callback drawing a progress bar with the losses and speed."""
    bar = {}

    def on_progress(p):
        if "bar" not in bar:
            bar["bar"] = common.ProgressBar(p.train_steps, label="train")
        losses = " ".join(f"{name} {value:.4g}" for name, value in p.metrics.items())
        speed = f"{p.steps_per_second:.2f} steps/s"
        if p.images_per_second is not None:
            speed += f" {p.images_per_second:.1f} img/s"
        # The trainer's clock: the bar is created at the first report, after the first loop.
        bar["bar"].update(p.step, f"{losses} {speed}", elapsed=p.elapsed)

    return on_progress


def report_done(metrics: dict, model_dir: str, export_dir: str | None, strategy: str = "default") -> None:
    """The final line: last losses, and where the checkpoints and the model are (on a
    multi-worker cluster's other workers: where the chief wrote them)."""
    summary = " ".join(f"{name} {value:.4g}" for name, value in metrics.items())
    chief, task = distribute.cluster_role(strategy)
    where = f", model in {export_dir}" if export_dir else ""
    if chief:
        saved = f"checkpoints in {model_dir}{where}"
    else:
        model = f" and the model in {export_dir}" if export_dir else ""
        saved = f"{task[0]} {task[1]} saved nothing; the chief wrote the checkpoints in {model_dir}{model}"
    # No losses when a finished run is rerun (e.g. to export again): nothing was trained.
    log(f"done: {summary}; {saved}" if summary else f"done: {saved}")
