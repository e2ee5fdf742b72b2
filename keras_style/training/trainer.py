"""`Trainer`: the distributed, checkpointed training loop that runs a `TrainTask`."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import shutil
import time
from typing import Callable

from absl import logging

from keras_style import precision
from keras_style.errors import StyleError
from keras_style.training import distribute, model_dir as model_dirs

SUMMARY_SUBDIR = "train"


@dataclasses.dataclass
class TrainerConfig:
    """How long to train and how often to checkpoint, summarise and report.

    Attributes:
      model_dir: checkpoints (`ckpt-STEP`) go here, TensorBoard events under
        `model_dir/train`, the run's settings in `run_config.json`. Training resumes
        from the newest checkpoint here that reads (a damaged newer one is skipped,
        with a note). One run at a time: the directory is locked while a `Trainer`
        uses it (`model_dir/.lock`).
      train_steps: total optimisation steps (a resumed run stops at the same total).
      steps_per_loop: steps run by one call of the compiled loop; progress is reported
        and the NaN guard checks once per loop. Loops also end at every checkpoint and
        summary step.
      checkpoint_interval: save every this many steps (and always at the end), so a
        killed run loses at most one interval; 0 saves only at the end.
      summary_interval: write sample images every this many steps (loss scalars go to
        TensorBoard after every loop); 0 turns images off.
      max_to_keep: checkpoints kept on disk.
      log: receives one-line status messages ("resumed from step N"); default absl
        logging.
      precision: a `keras_style.precision` setting for the trained model and the task's
        loss networks ("auto": mixed_bfloat16 on CPUs with bfloat16 units, mixed_float16
        on GPUs with tensor cores, else float32). Variables stay float32 under the mixed
        policies, so a checkpoint written in one precision resumes in any other.
      init_from: a keras-style SavedModel (directory or shipped name, e.g. "adain") of
        the kind being trained, whose weights start a run with no checkpoint in
        model_dir: fine-tuning, or continuing a shipped model's training where its
        checkpoints are gone. The step count and optimizer start afresh; ignored when
        model_dir has a checkpoint (the run resumes from it instead).
      allow_config_change: resume even though the task's model, data or style settings
        (`TrainTask.run_settings`) differ from those saved in `run_config.json`;
        otherwise such a resume is refused. The schedule (train_steps, intervals,
        learning rate, batch size, precision) may always change.
    """

    model_dir: str
    train_steps: int = 2000
    steps_per_loop: int = 10
    checkpoint_interval: int = 200
    summary_interval: int = 100
    max_to_keep: int = 3
    log: Callable[[str], None] | None = None
    precision: str = precision.AUTO
    init_from: str | None = None
    allow_config_change: bool = False

    def validate(self):
        """Raises StyleError naming the first bad field."""
        if not self.model_dir:
            raise StyleError("a model directory is required")
        if self.train_steps < 1:
            raise StyleError(f"train steps must be >= 1, got {self.train_steps}")
        if self.steps_per_loop < 1:
            raise StyleError(f"steps per loop must be >= 1, got {self.steps_per_loop}")
        for name in ("checkpoint_interval", "summary_interval"):
            if getattr(self, name) < 0:
                raise StyleError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.max_to_keep < 1:
            raise StyleError(f"max_to_keep must be >= 1, got {self.max_to_keep}")
        precision.canonical(self.precision)


@dataclasses.dataclass
class Progress:
    """What the trainer reports after every loop."""

    step: int
    train_steps: int
    metrics: dict  # {name: float}, averaged over the loop's steps
    steps_per_second: float
    images_per_second: float | None
    elapsed: float  # seconds since train() started


class Trainer:
    """Runs a `TrainTask` under a distribution strategy, with checkpoints and TensorBoard.

    On construction: locks `config.model_dir` (another run using it is refused with a
    StyleError naming its process; a lock left by a killed run is taken over, with a
    note) until `close()`, and refuses a resume whose task settings differ from the
    run's `run_config.json` (unless `config.allow_config_change`). Then, inside
    `strategy.scope()`, builds the model, the optimizer (built explicitly for the model's
    variables, which multi-replica strategies need before the first step;
    keras-team/keras#19246) and an int64 global step, and restores the newest checkpoint
    in `config.model_dir` that reads, if any. Use it as a context manager, or call
    `close()`, to release the directory.

    `train()` runs `steps_per_loop` steps per call of one compiled `tf.function`
    (`strategy.run` per step, metrics averaged over replicas), and after each loop:
    checks that the metrics and weights are finite (else raises `StyleError`, saving
    nothing, so the last checkpoint stays good), writes loss scalars (and sample images
    every `summary_interval` steps) under `model_dir/train`, saves a checkpoint every
    `checkpoint_interval` steps and at the end, and calls `on_progress`.

    Args:
      task: the `TrainTask`.
      config: a `TrainerConfig`.
      strategy: a `tf.distribute.Strategy` (default: the current one).
      on_progress: called with a `Progress` after every loop.
    """

    def __init__(self, task, config: TrainerConfig, strategy=None, on_progress: Callable[[Progress], None] | None = None):
        import tensorflow as tf

        config.validate()
        self.task = task
        self.config = config
        self.strategy = strategy or tf.distribute.get_strategy()
        self.on_progress = on_progress
        self._log = config.log or logging.info
        self.is_chief = distribute.is_chief(self.strategy)
        # The chief owns model_dir; every other worker locks a file of its own beside it,
        # so the workers of one cluster never block each other.
        worker = None if self.is_chief else self._worker_name()
        self.lock = model_dirs.ModelDirLock(config.model_dir, model_dirs.lock_file_name(worker), log=self._log)
        self.lock.acquire()
        try:
            self._build(task, config)
        except BaseException:
            self.lock.release()
            raise

    def _build(self, task, config):
        import keras
        import tensorflow as tf

        candidates = model_dirs.checkpoint_candidates(config.model_dir)
        self.run_record = self._run_record()
        changes = []
        if candidates and self.run_record is not None:
            # Before anything is built: a changed style or network is refused at once.
            changes = model_dirs.check_resume_settings(config.model_dir, self.run_record, config.allow_config_change)
        choice = precision.choose(config.precision)
        self.precision = choice.policy
        with self.strategy.scope():
            # The task builds its model and frozen loss networks under the policy; the
            # caller's own Keras policy is restored afterwards.
            with precision.policy_scope(self.precision):
                self.model = task.build_model()
            optimizer = task.build_optimizer()
            self.optimizer = optimizer
            if self.precision == precision.MIXED_FLOAT16:
                # float16 gradients underflow without loss scaling (bfloat16 has float32's range).
                self.optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            self.optimizer.build(self.model.trainable_variables)
            self.global_step = tf.Variable(
                0, dtype=tf.int64, trainable=False, name="global_step",
                aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
            )
        # The inner optimizer is checkpointed (not a loss-scale wrapper), so checkpoints
        # have one layout in every precision; the dynamic loss scale restarts on resume.
        self.checkpoint = tf.train.Checkpoint(model=self.model, optimizer=optimizer, global_step=self.global_step)
        # Every worker of a multi-worker run must take part in saving; only the chief's
        # copy is kept (the tf.distribute multi-worker recipe).
        self._checkpoint_dir = config.model_dir if self.is_chief else self._worker_temp_dir()
        self.checkpoint_manager = tf.train.CheckpointManager(
            self.checkpoint, self._checkpoint_dir, max_to_keep=config.max_to_keep, step_counter=self.global_step
        )
        self.initial_step = self._restore(candidates)
        if changes and self.initial_step:
            self._log(f"continuing with changed settings ({'; '.join(changes)}), as allow_config_change asks")
        if self.is_chief and self.run_record is not None:
            model_dirs.write_run_config(config.model_dir, {**self.run_record, "resumed_from_step": self.initial_step})
        self._log(choice.describe())
        self._loop = None

    def close(self) -> None:
        """Releases `model_dir` for other runs (also on leaving a `with` block)."""
        lock = getattr(self, "lock", None)
        if lock is not None:
            lock.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass

    def wait_for_workers(self) -> None:
        """Returns once every worker of a multi-worker cluster has called it (at once
        elsewhere). A worker that exits while the chief is still exporting makes the
        chief's coordination service report it as crashed."""
        import tensorflow as tf

        resolver = getattr(self.strategy, "cluster_resolver", None)
        if resolver is None or not resolver.cluster_spec().as_dict():
            return

        @tf.function  # eager collectives warn of their overhead
        def barrier():
            ones = self.strategy.run(lambda: tf.constant(1.0))
            return self.strategy.reduce(tf.distribute.ReduceOp.SUM, ones, axis=None)

        barrier()

    def _run_record(self) -> dict | None:
        """What `run_config.json` holds: the task's settings and this run's schedule."""
        settings = self.task.run_settings()
        if settings is None:
            return None
        c = self.config
        schedule = {name: getattr(c, name) for name in (
            "train_steps", "steps_per_loop", "checkpoint_interval", "summary_interval", "max_to_keep", "precision",
            "init_from",
        )}
        return {
            model_dirs.MODEL_SETTINGS: settings["model"],
            "schedule": {**settings.get("schedule", {}), **schedule},
        }

    @property
    def step(self) -> int:
        """The current global step."""
        return int(self.global_step.numpy())

    def _restore(self, candidates) -> int:
        import tensorflow as tf

        directory = self.config.model_dir
        latest, damaged = None, []
        for prefix in candidates:
            reason = model_dirs.unreadable_reason(prefix)
            if reason is None:
                latest = prefix
                break
            damaged.append(f"{prefix} ({reason})")
        if latest is None and damaged:
            raise StyleError(
                f"no checkpoint in {directory} can be read: {', '.join(damaged)}; move them away to start "
                "afresh, or use a new model directory"
            )
        if latest is None:
            if self.config.init_from:
                self._initialize_from(self.config.init_from)
            return 0
        if damaged:
            self._log(f"note: checkpoint {', '.join(damaged)} {'is' if len(damaged) == 1 else 'are'} damaged; "
                      f"resuming from {latest}")
        if self.config.init_from:
            self._log(f"init_from {self.config.init_from} not used: resuming from the checkpoint")
        # Keras 3 checkpoints the learning rate as a variable. The configured one must win:
        # "lower the learning rate and rerun" is how a diverged run is rescued.
        learning_rate = getattr(self.optimizer, "learning_rate", None)
        configured_rate = float(learning_rate.numpy()) if hasattr(learning_rate, "assign") else None
        # Created now, so that a restore that fails part-way leaves no value pending, whose
        # "unrestored values" warnings TensorFlow would print after the error line.
        self.checkpoint.save_counter  # noqa: B018
        status = None
        try:
            status = self.checkpoint.restore(latest)
            status.assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as e:
            if status is not None:
                status.expect_partial()
            message = " ".join(str(e).split())
            raise StyleError(
                f"checkpoint {latest} does not fit this model ({message[:160]}); was it trained with other "
                "settings? use a new model directory"
            ) from None
        step = self.step
        self._log(f"resumed from step {step} ({latest})")
        if configured_rate is not None:
            restored_rate = float(learning_rate.numpy())
            if restored_rate != configured_rate:
                learning_rate.assign(configured_rate)
                self._log(f"learning rate is now {configured_rate:g} (the checkpoint had {restored_rate:g})")
        return step

    def _initialize_from(self, spec: str) -> None:
        """Sets the model's weights from the SavedModel `spec` (see `TrainerConfig.init_from`)."""
        from keras_style import registry
        from keras_style.export.saved_model import assign_weights, saved_model_weights
        from keras_style.inference import resolve_model

        source = resolve_model(spec)
        model_class = registry.get(source.kind).part("model")
        if source.format != "saved_model" or not isinstance(self.model, model_class):
            raise StyleError(
                f"init_from '{spec}' is a '{source.kind}' {source.format.replace('_', ' ')}, but this run trains "
                f"a {type(self.model).__name__}: pass a SavedModel of the same kind"
            )
        assign_weights(self.model, saved_model_weights(source.path))
        self._log(f"initialised from {source.path} (step 0)")

    def save_checkpoint(self) -> str | None:
        """Saves the model, optimizer and step as `ckpt-STEP`; returns the path (chief)."""
        path = self.checkpoint_manager.save(checkpoint_number=self.global_step)
        if not self.is_chief:
            shutil.rmtree(self._checkpoint_dir, ignore_errors=True)
            return None
        return path

    def last_checkpoint_step(self) -> int | None:
        """The step of the newest checkpoint in model_dir that reads, or None."""
        import tensorflow as tf

        for prefix in model_dirs.checkpoint_candidates(self.config.model_dir):
            if model_dirs.unreadable_reason(prefix) is None:
                return int(tf.train.load_variable(prefix, "global_step/.ATTRIBUTES/VARIABLE_VALUE"))
        return None

    def train(self) -> dict:
        """Trains up to `config.train_steps`; returns the last loop's metrics as floats
        ({} when the checkpoint is already at `train_steps`).

        Raises:
          StyleError: the loss or the weights became NaN/Inf (nothing is saved past the
            last good checkpoint), or the input data ran out.
        """
        import tensorflow as tf

        config = self.config
        start_step = self.step
        if start_step >= config.train_steps:
            self._log(f"already trained to step {start_step} (train_steps is {config.train_steps}); nothing to do")
            return {}
        dataset = self.strategy.distribute_datasets_from_function(
            lambda context: self.task.build_inputs(context, start_step)
        )
        iterator = iter(dataset)
        loop = self._compiled_loop()
        writer = (
            tf.summary.create_file_writer(os.path.join(config.model_dir, SUMMARY_SUBDIR))
            if self.is_chief else tf.summary.create_noop_writer()
        )
        metrics = {}
        started = time.perf_counter()
        with writer.as_default(), _closing(writer):
            while self.step < config.train_steps:
                step = self.step
                num_steps = self._next_loop_length(step)
                loop_start = time.perf_counter()
                try:
                    values, bad_step, weights_finite = loop(iterator, tf.constant(num_steps, tf.int32))
                except tf.errors.OutOfRangeError:
                    raise StyleError(
                        f"the training data ran out at step {self.step}: the dataset does not repeat, or all "
                        "its images are unreadable or solid colour"
                    ) from None
                metrics = {name: float(value) for name, value in values.items()}
                new_step = self.step
                if int(bad_step) >= 0 or not bool(weights_finite):
                    self._diverged(int(bad_step), new_step, metrics)
                seconds = max(time.perf_counter() - loop_start, 1e-9)
                steps_per_second = (new_step - step) / seconds
                batch = self.task.global_batch_size
                images_per_second = steps_per_second * batch if batch else None
                for name, value in metrics.items():
                    _write_scalar(f"loss/{name}" if name != "loss" else "loss/total", value, new_step)
                _write_scalar("perf/steps_per_second", steps_per_second, new_step)
                if config.summary_interval and (new_step % config.summary_interval == 0 or new_step == config.train_steps):
                    self._write_samples(new_step)
                if new_step == config.train_steps or (
                    config.checkpoint_interval and new_step % config.checkpoint_interval == 0
                ):
                    self.save_checkpoint()
                writer.flush()
                if self.on_progress is not None:
                    self.on_progress(
                        Progress(
                            step=new_step,
                            train_steps=config.train_steps,
                            metrics=metrics,
                            steps_per_second=steps_per_second,
                            images_per_second=images_per_second,
                            elapsed=time.perf_counter() - started,
                        )
                    )
        return metrics

    def _next_loop_length(self, step: int) -> int:
        """Steps to the next loop end: steps_per_loop, cut at checkpoint/summary/final steps."""
        config = self.config
        length = min(config.steps_per_loop, config.train_steps - step)
        for interval in (config.checkpoint_interval, config.summary_interval):
            if interval:
                length = min(length, interval - step % interval)
        return length

    def _compiled_loop(self):
        """`loop(iterator, num_steps) -> (mean metrics, first bad step or -1, weights finite)`."""
        if self._loop is not None:
            return self._loop
        import tensorflow as tf

        strategy, task, model, optimizer = self.strategy, self.task, self.model, self.optimizer
        global_step = self.global_step

        def one_step(iterator):
            per_replica = strategy.run(task.train_step, args=(next(iterator), model, optimizer))
            global_step.assign_add(1)
            return {
                name: tf.cast(strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None), tf.float32)
                for name, value in per_replica.items()
            }

        def all_finite(metrics):
            return tf.reduce_all(tf.stack([tf.math.is_finite(v) for v in metrics.values()]))

        @tf.function
        def loop(iterator, num_steps):
            sums = one_step(iterator)
            bad_step = tf.where(all_finite(sums), tf.constant(-1, tf.int64), global_step.read_value())
            count = tf.constant(1.0)
            for _ in tf.range(num_steps - 1):
                # Stop at the first non-finite step: later steps would only spread the NaN.
                if bad_step >= 0:
                    break
                metrics = one_step(iterator)
                sums = {name: sums[name] + metrics[name] for name in sums}
                count += 1.0
                bad_step = tf.where(all_finite(metrics), bad_step, global_step.read_value())
            # A step can leave NaN weights behind a finite loss (the update overflowed);
            # such weights must never reach a checkpoint.
            weights_finite = tf.reduce_all(
                tf.stack([tf.reduce_all(tf.math.is_finite(v)) for v in model.trainable_variables])
            )
            return {name: value / count for name, value in sums.items()}, bad_step, weights_finite

        self._loop = loop
        return loop

    def _diverged(self, bad_step: int, step: int, metrics: dict):
        bad = [name for name, value in metrics.items() if not math.isfinite(value)]
        if bad_step >= 0:
            kind = "NaN" if any(math.isnan(metrics[name]) for name in bad) else "infinite"
            what = f"loss is {kind} at step {bad_step}"
        else:
            what = f"the weights became NaN or infinite by step {step}"
        last = self.last_checkpoint_step()
        good = f"the last good checkpoint is step {last}" if last is not None else "no checkpoint was saved yet"
        raise StyleError(f"{what}; {good} in {self.config.model_dir}; {self.task.divergence_hint()} and rerun to resume")

    def _write_samples(self, step: int):
        if not self.is_chief:
            return
        images = self.task.sample_images(self.model)
        for name, batch in (images or {}).items():
            _write_images(f"samples/{name}", batch, step)

    def _worker_name(self) -> str:
        resolver = self.strategy.cluster_resolver
        return distribute.worker_name(resolver.task_type, resolver.task_id)

    def _worker_temp_dir(self) -> str:
        return os.path.join(self.config.model_dir, f".worker_tmp_{self._worker_name()}")


def run_training(
    make_task: Callable,
    trainer_config: TrainerConfig,
    strategy_name: str = "default",
    export_dir: str | None = None,
    on_progress: Callable | None = None,
    overwrite_export: bool = False,
) -> dict:
    """Trains (or resumes training) the `TrainTask` that `make_task()` builds; the chief exports it
    to `export_dir` if one is given. Returns the last loop's metrics, {name: float}.

    The task is built only after the strategy: a multi-worker strategy must exist
    before any other TensorFlow op runs. Callers check `export_dir` beforehand.
    """
    strategy = distribute.get_strategy(strategy_name)
    task = make_task()
    # model_dir stays locked through the export, which is the end of the run.
    with Trainer(task, trainer_config, strategy, on_progress=on_progress) as trainer:
        metrics = trainer.train()
        try:
            if export_dir and trainer.is_chief:
                # Exports compute in float32 (what TFLite converts and every server runs);
                # `style_export --precision=bfloat16` writes a bfloat16 serving copy.
                precision.set_model_policy(trainer.model, precision.FLOAT32)
                metadata = {"train_steps": trainer.step}
                if trainer_config.init_from:  # the recipe's flags, as rerun to resume
                    metadata["init_from"] = trainer_config.init_from
                task.export(trainer.model, export_dir, overwrite=overwrite_export, metadata=metadata)
        finally:
            # Also after a failed export: the other workers are waiting here.
            trainer.wait_for_workers()
    return metrics


@contextlib.contextmanager
def _closing(writer):
    # Flushes what was written before a failure (e.g. the losses leading up to a NaN).
    try:
        yield
    finally:
        writer.close()


def _plugin_metadata(plugin_name: str):
    # What TensorBoard's own tf.summary.scalar/image write (plugin data version 0 is
    # empty bytes), so events are readable without the tensorboard package installed.
    from tensorflow.core.framework import summary_pb2

    return summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=plugin_name))


def _write_scalar(tag: str, value: float, step: int):
    import tensorflow as tf

    tf.summary.write(tag, tf.constant(value, tf.float32), step=step, metadata=_plugin_metadata("scalars"))


def _write_images(tag: str, images, step: int, max_outputs: int = 4):
    """Writes (N, H, W, 3) float [0, 255] images as TensorBoard's image plugin does."""
    import tensorflow as tf

    images = tf.cast(tf.clip_by_value(tf.round(tf.cast(images, tf.float32)), 0.0, 255.0), tf.uint8)
    images = images[:max_outputs]
    encoded = [tf.image.encode_png(image) for image in tf.unstack(images)]
    shape = tf.shape(images)
    dimensions = [tf.as_string(shape[2]), tf.as_string(shape[1])]  # width, height
    tf.summary.write(tag, tf.stack(dimensions + encoded), step=step, metadata=_plugin_metadata("images"))
