"""Pieces the training tasks share: config checks, input seeds, the step, the entry point."""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
from typing import Callable, Sequence

from keras_style import data
from keras_style.errors import StyleError
from keras_style.export.saved_model import check_export_dir
from keras_style.training.task import TrainTask
from keras_style.training.trainer import run_training

# A resumed pipeline's seed moves by this per step, so it draws fresh data.
CONTENT_SEED_STRIDE = 7919


def training_record(config, metadata: dict | None = None, **extra) -> dict:
    """The "training" block an export records: every field of the task's config, then
    `extra` and the trainer's `metadata` (such as the step count). `tests/test_recipes.py`
    compares it with the config that each shipped model's flagfile builds."""
    return {**dataclasses.asdict(config), **extra, **(metadata or {})}


# Settings of a task config that a resumed run may change: how it trains, not what it
# learns. Every other field (architecture, style, content data, crops, loss weights and
# layers, loss network) defines the model, and a resume that changes one is refused
# (`TrainTask.run_settings`, `keras_style.training.model_dir.check_resume_settings`).
SCHEDULE_FIELDS = (
    "batch_size", "learning_rate", "learning_rate_decay", "seed", "shuffle_buffer", "tfds_data_dir", "skip_flat",
    "style_change_every", "weight_norm_penalty",
)
# Fields naming input files, recorded by their absolute path (a glob or comma list part by part).
_DATA_FIELDS = ("content_data", "style_data")


def _absolute_spec(spec):
    if spec is None or data.parse_tfds_spec(spec) is not None:
        return spec
    return ",".join(os.path.abspath(part) if part else part for part in spec.split(","))


def _file_record(path: str) -> dict:
    # The content hash identifies the file wherever it is later found; the path is shown.
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return {"path": os.path.abspath(path), "sha256": digest.hexdigest()}


def _json_value(value):
    return list(value) if isinstance(value, tuple) else value


def run_settings(config) -> dict:
    """`TrainTask.run_settings` for a task config dataclass: every field, split into
    "model" (with the config class, e.g. "FastStyleConfig") and "schedule"
    (`SCHEDULE_FIELDS`); the style image by content hash, data specs by absolute path.
    TensorFlow-free, so a command can check a resume before TensorFlow loads."""
    model, schedule = {"config": type(config).__name__}, {}
    for name, value in dataclasses.asdict(config).items():
        if name == "style_image":
            value = _file_record(value)
        elif name in _DATA_FIELDS:
            value = _absolute_spec(value)
        elif name == "weights" and isinstance(value, str) and os.path.isfile(value):
            value = os.path.abspath(value)
        (schedule if name in SCHEDULE_FIELDS else model)[name] = _json_value(value)
    return {"model": model, "schedule": schedule}


# Training crops larger than this (pixels a side) are refused: a batch of them, and
# VGG19's 64-channel first block over it, outgrows any accelerator, and TensorFlow fails
# only after the model and data are built (crop_size 100000: a 240 GB batch tensor).
MAX_CROP_SIZE = 4096
# Images resized to a random short side (AdaIN) are decoded at up to this side: twice the
# largest crop. One float32 image at 8192 x 8192 is already 0.8 GB in the input pipeline.
MAX_SHORT_SIDE = 2 * MAX_CROP_SIZE


def check_finite(config, names: Sequence[str]) -> None:
    """Raises StyleError if a named field of `config` is NaN or infinite (NaN passes every
    `< 0` test, and either fails training only after it has started)."""
    for name in names:
        value = getattr(config, name)
        if not math.isfinite(value):
            raise StyleError(f"{name} must be a finite number, got {value}")


def check_non_negative(config, names: Sequence[str]) -> None:
    """Raises StyleError if a named field of `config` is not finite or is < 0."""
    check_finite(config, names)
    for name in names:
        value = getattr(config, name)
        if value < 0:
            raise StyleError(f"{name} must be >= 0, got {value}")


def check_learning_rate(config) -> None:
    """Raises StyleError unless `config.learning_rate` is finite and > 0."""
    check_finite(config, ("learning_rate",))
    if config.learning_rate <= 0:
        raise StyleError(f"learning_rate must be > 0, got {config.learning_rate}")


def check_crop_size(crop_size: int, minimum: int) -> None:
    """Raises StyleError unless minimum <= crop_size <= `MAX_CROP_SIZE`."""
    if crop_size < minimum:
        raise StyleError(f"crop_size must be >= {minimum}, got {crop_size}")
    if crop_size > MAX_CROP_SIZE:
        raise StyleError(
            f"crop_size must be <= {MAX_CROP_SIZE}, got {crop_size}; a batch of larger crops does not fit in memory"
        )


def check_layer_weights(layers: Sequence[str], weights: Sequence[float] | None) -> None:
    """Raises StyleError unless `weights` is None or one finite weight >= 0 per layer."""
    if weights is None:
        return
    if len(weights) != len(layers):
        raise StyleError(f"{len(weights)} style layer weights for {len(layers)} style layers")
    if not all(math.isfinite(w) for w in weights):
        raise StyleError(f"style layer weights must be finite numbers, got {list(weights)}")
    if any(w < 0 for w in weights):
        raise StyleError(f"style layer weights must be >= 0, got {list(weights)}")


def check_loss_network(config) -> None:
    """Checks the content and style layer lists, then the style layer weights."""
    if not config.content_layers:
        raise StyleError("no content layers given")
    if not config.style_layers:
        raise StyleError("no style layers given")
    check_layer_weights(config.style_layers, config.style_layer_weights)


def check_pooling(pooling: str) -> None:
    """Raises StyleError unless `pooling` is avg or max."""
    if pooling not in ("avg", "max"):
        raise StyleError(f"unknown pooling '{pooling}'; choose avg or max")


def layer_weight_map(layers: Sequence[str], weights: Sequence[float] | None) -> dict:
    """{layer: float weight}; None weighs every layer 1."""
    weights = weights or [1.0] * len(layers)
    return dict(zip(layers, (float(w) for w in weights)))


def replica_batch_and_seed(config, input_context, step: int):
    """(per-replica batch size, data seed for a run (re)starting at `step`, or None)."""
    batch = input_context.get_per_replica_batch_size(config.batch_size) if input_context else config.batch_size
    seed = None if config.seed is None else config.seed + CONTENT_SEED_STRIDE * step
    return batch, seed


def first_sample_batch(spec: str, config, size: int):
    """The first `size` crops of `spec`, in a fixed order (None if it yields none)."""
    dataset = data.image_dataset(
        spec, crop_size=config.crop_size, batch_size=size, shuffle_buffer=0,
        seed=0, data_dir=config.tfds_data_dir,
    )
    return next(iter(dataset.take(1)), None)


class StyleLossTask(TrainTask):
    """A `TrainTask` whose `compute_losses(model, *batch)` gives (images, metrics with
    "loss") and whose `config` has a `learning_rate`."""

    def optimize(self, model, optimizer, *batch) -> dict:
        """One step on `compute_losses(model, *batch)`'s "loss"; returns its metrics."""
        import tensorflow as tf

        with tf.GradientTape() as tape:
            _, metrics = self.compute_losses(model, *batch)
            # optimizer.scale_loss is the identity except under mixed_float16, where the
            # trainer wraps the optimizer in a LossScaleOptimizer (it unscales the gradients).
            scaled = optimizer.scale_loss(self.scale_loss(metrics["loss"]))
        variables = model.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
        return metrics

    def run_settings(self) -> dict:
        return run_settings(self.config)

    def divergence_hint(self) -> str:
        return f"lower --learning_rate (now {self.config.learning_rate:g}) or --style_weight"


def train_task(
    make_task: Callable,
    trainer_config,
    strategy_name: str,
    export_dir: str | None,
    on_progress: Callable | None,
    overwrite_export: bool,
) -> dict:
    """Checks `export_dir` (if any) before training, with the very check the export makes
    (`keras_style.export.saved_model.check_export_dir`), then runs `run_training`."""
    if export_dir:
        check_export_dir(export_dir, overwrite_export)
    return run_training(
        make_task, trainer_config, strategy_name, export_dir, on_progress, overwrite_export=overwrite_export
    )
