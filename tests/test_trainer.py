"""Tests for keras_style.training: strategies, the Trainer loop, checkpoints, NaN guard.

A toy linear-regression task keeps these fast and exactly reproducible; the real fast
style task is exercised in test_fast_style.py.
"""

import glob
import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_style.errors import StyleError
from keras_style.training import distribute
from keras_style.training.task import TrainTask
from keras_style.training.trainer import Trainer, TrainerConfig

TRUE_WEIGHTS = np.array([[1.0], [-2.0], [3.0]], np.float32)


class ToyTask(TrainTask):
    """Linear regression on a fixed data set, deterministic step by step.

    Args:
      optimizer: "sgd" (sensitive to gradient scale, so it checks replica scaling) or
        "adam" (has slot variables, so it checks optimizer checkpointing).
      nan_from_step: from this step on the loss is NaN.
      poison_weights_from_step: from this step on the update writes NaN weights while
        the reported loss stays finite.
      finite_data: one pass over the data instead of repeating.
    """

    def __init__(self, optimizer="sgd", learning_rate=0.05, global_batch_size=4, nan_from_step=None,
                 poison_weights_from_step=None, finite_data=False, units=1):
        self.optimizer_name = optimizer
        self.learning_rate = learning_rate
        self.global_batch_size = global_batch_size
        self.nan_from_step = nan_from_step
        self.poison_weights_from_step = poison_weights_from_step
        self.finite_data = finite_data
        self.units = units
        rng = np.random.default_rng(0)
        self.x = rng.normal(size=(64, 3)).astype(np.float32)
        self.y = self.x @ TRUE_WEIGHTS + 0.5

    def build_model(self):
        return keras.Sequential([
            keras.Input((3,)),
            keras.layers.Dense(self.units, kernel_initializer=keras.initializers.Constant(0.1)),
        ])

    def build_optimizer(self):
        if self.optimizer_name == "adam":
            return keras.optimizers.Adam(self.learning_rate)
        return keras.optimizers.SGD(self.learning_rate)

    def build_inputs(self, input_context=None, step=0):
        batch = input_context.get_per_replica_batch_size(self.global_batch_size) if input_context else self.global_batch_size
        batches_per_step = self.global_batch_size // batch
        dataset = tf.data.Dataset.from_tensor_slices((self.x, self.y))
        if not self.finite_data:
            dataset = dataset.repeat()
        # Skipping what earlier steps consumed makes a resumed run see the same data as
        # an uninterrupted one.
        return dataset.batch(batch, drop_remainder=True).skip(step * batches_per_step)

    def train_step(self, inputs, model, optimizer):
        x, y = inputs
        step = tf.cast(optimizer.iterations, tf.float32) + 1.0  # the step being taken
        with tf.GradientTape() as tape:
            mse = tf.reduce_mean(tf.square(model(x) - y))
            if self.nan_from_step is not None:
                mse += tf.where(step >= self.nan_from_step, float("nan"), 0.0)
            scaled = self.scale_loss(mse)
        grads = tape.gradient(scaled, model.trainable_variables)
        if self.poison_weights_from_step is not None:
            poison = tf.where(step >= self.poison_weights_from_step, float("nan"), 1.0)
            grads = [g * poison for g in grads]
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return {"loss": mse, "half_loss": mse / 2.0}

    def sample_images(self, model):
        return {"gradient": tf.tile(tf.linspace(0.0, 255.0, 8)[None, None, :, None], [2, 8, 1, 3])}


def _trainer(model_dir, task=None, record=None, **config):
    # The toy task checks the loop's exact arithmetic, so it trains in float32; the
    # mixed-precision paths are tested with the real tasks in test_precision.py.
    config = {"train_steps": 6, "steps_per_loop": 1, "checkpoint_interval": 2, "summary_interval": 0,
              "precision": "float32", **config}
    logs = []
    trainer = Trainer(
        task or ToyTask(),
        TrainerConfig(model_dir=str(model_dir), log=logs.append, **config),
        on_progress=None if record is None else (lambda p: record.append((p.step, p.metrics["loss"]))),
    )
    trainer.logs = logs
    return trainer


def _checkpoint_steps(model_dir):
    return sorted(int(p.rsplit("-", 1)[1].split(".")[0]) for p in glob.glob(os.path.join(str(model_dir), "ckpt-*.index")))


def test_training_lowers_the_loss_and_reports_progress(tmp_path):
    record = []
    metrics = _trainer(tmp_path, record=record, train_steps=12, steps_per_loop=4, checkpoint_interval=0).train()
    assert [step for step, _ in record] == [4, 8, 12]
    assert record[-1][1] < 0.5 * record[0][1]
    assert set(metrics) == {"loss", "half_loss"}
    assert metrics["half_loss"] == pytest.approx(metrics["loss"] / 2)
    assert _checkpoint_steps(tmp_path) == [12]  # checkpoint_interval 0: at the end only


def test_checkpoint_restores_keras_model_and_optimizer_variables(tmp_path):
    first = _trainer(tmp_path, ToyTask(optimizer="adam"), train_steps=3, checkpoint_interval=0)
    first.train()
    resumed = _trainer(tmp_path, ToyTask(optimizer="adam"), train_steps=3)
    assert resumed.step == 3 and resumed.initial_step == 3
    assert any("resumed from step 3" in line for line in resumed.logs)
    assert int(resumed.optimizer.iterations.numpy()) == 3
    assert len(first.optimizer.variables) == len(resumed.optimizer.variables) > 3  # Adam moments included
    for a, b in zip(first.model.weights + first.optimizer.variables, resumed.model.weights + resumed.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=a.path)
    assert resumed.train() == {}  # already at train_steps


def test_resume_uses_the_configured_learning_rate(tmp_path):
    _trainer(tmp_path, ToyTask(optimizer="adam", learning_rate=0.05), train_steps=2).train()
    resumed = _trainer(tmp_path, ToyTask(optimizer="adam", learning_rate=0.01), train_steps=4)
    assert float(resumed.optimizer.learning_rate.numpy()) == pytest.approx(0.01)
    assert any("learning rate is now 0.01 (the checkpoint had 0.05)" in line for line in resumed.logs)


class _Killed(Exception):
    pass


def test_kill_and_resume_continues_the_same_trajectory(tmp_path):
    uninterrupted = []
    _trainer(tmp_path / "whole", ToyTask(optimizer="adam"), record=uninterrupted).train()

    before_kill = []

    def kill_at_step_5(progress):
        before_kill.append((progress.step, progress.metrics["loss"]))
        if progress.step == 5:
            raise _Killed()

    killed = _trainer(tmp_path / "killed", ToyTask(optimizer="adam"))
    killed.on_progress = kill_at_step_5
    with pytest.raises(_Killed):
        killed.train()
    assert _checkpoint_steps(tmp_path / "killed") == [2, 4]  # step 5 was lost, one interval at most

    after_resume = []
    resumed = _trainer(tmp_path / "killed", ToyTask(optimizer="adam"), record=after_resume)
    assert resumed.initial_step == 4
    resumed.train()
    assert [s for s, _ in after_resume] == [5, 6]
    expected = dict(uninterrupted)
    for step, loss in before_kill + after_resume:
        assert loss == pytest.approx(expected[step], rel=1e-6), step


def test_nan_loss_stops_with_style_error_and_keeps_last_good_checkpoint(tmp_path):
    task = ToyTask(nan_from_step=6)
    trainer = _trainer(tmp_path, task, train_steps=12, steps_per_loop=4, checkpoint_interval=4)
    with pytest.raises(StyleError, match=r"loss is NaN at step 6; the last good checkpoint is step 4 .*lower the learning rate"):
        trainer.train()
    assert trainer.step == 6  # the loop stopped at the bad step
    assert _checkpoint_steps(tmp_path) == [4]
    restored = _trainer(tmp_path, ToyTask(), train_steps=12)
    assert restored.step == 4
    assert all(np.all(np.isfinite(np.asarray(v))) for v in restored.model.weights)


def test_huge_learning_rate_diverges_with_style_error(tmp_path):
    trainer = _trainer(tmp_path, ToyTask(learning_rate=1e30), train_steps=8, steps_per_loop=4, checkpoint_interval=4)
    with pytest.raises(StyleError, match=r"(NaN|infinite).*no checkpoint was saved yet"):
        trainer.train()
    assert _checkpoint_steps(tmp_path) == []


def test_nan_weights_behind_a_finite_loss_are_never_saved(tmp_path):
    trainer = _trainer(tmp_path, ToyTask(poison_weights_from_step=4), train_steps=4, steps_per_loop=2)
    with pytest.raises(StyleError, match=r"weights became NaN or infinite by step 4; the last good checkpoint is step 2"):
        trainer.train()
    assert _checkpoint_steps(tmp_path) == [2]


def test_data_running_out_is_a_style_error(tmp_path):
    # 64 examples / batch 4 = 16 steps of data for 20 steps of training.
    trainer = _trainer(tmp_path, ToyTask(finite_data=True), train_steps=20, steps_per_loop=5, checkpoint_interval=0)
    with pytest.raises(StyleError, match="ran out"):
        trainer.train()


def test_checkpoint_of_another_model_is_a_style_error(tmp_path):
    _trainer(tmp_path, train_steps=2).train()
    with pytest.raises(StyleError, match="does not fit this model"):
        _trainer(tmp_path, ToyTask(units=2))


def test_tensorboard_scalars_and_images(tmp_path):
    _trainer(tmp_path, train_steps=4, steps_per_loop=2, summary_interval=4).train()
    tags = {}
    for path in glob.glob(os.path.join(str(tmp_path), "train", "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                tags.setdefault(value.tag, []).append((event.step, value.metadata.plugin_data.plugin_name, value))
    assert [(s, p) for s, p, _ in tags["loss/total"]] == [(2, "scalars"), (4, "scalars")]
    assert "loss/half_loss" in tags and "perf/steps_per_second" in tags
    (step, plugin, value), = tags["samples/gradient"]
    assert (step, plugin) == (4, "images")
    width, height, *pngs = tf.make_ndarray(value.tensor)
    assert (width, height, len(pngs)) == (b"8", b"8", 2)
    assert tf.io.decode_png(pngs[0]).shape == (8, 8, 3)


def test_trainer_config_validation(tmp_path):
    for bad in ({"train_steps": 0}, {"steps_per_loop": 0}, {"checkpoint_interval": -1}, {"max_to_keep": 0}):
        with pytest.raises(StyleError):
            TrainerConfig(model_dir=str(tmp_path), **bad).validate()
    with pytest.raises(StyleError):
        TrainerConfig(model_dir="").validate()


def test_get_strategy():
    assert distribute.get_strategy("default") is tf.distribute.get_strategy()
    assert isinstance(distribute.get_strategy("one_device"), tf.distribute.OneDeviceStrategy)
    assert distribute.get_strategy("one_device:/cpu:0").extended.worker_devices[0].endswith("CPU:0")
    with pytest.raises(StyleError, match="unknown strategy 'tpu'"):
        distribute.get_strategy("tpu")
    with pytest.raises(StyleError, match="device '/gpu:7' not found"):
        distribute.get_strategy("one_device", device="/gpu:7")
    assert distribute.is_chief(tf.distribute.get_strategy())


_MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    # Must run before anything initialises TensorFlow's devices.
    cpu, = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    sys.path.insert(0, sys.argv[2])
    from test_trainer import ToyTask, _trainer
    from keras_style.training import distribute
    from keras_style.training.trainer import Trainer, TrainerConfig

    out = {}
    for name in ("default", "mirrored"):
        strategy = distribute.get_strategy(name)
        record = []
        config = TrainerConfig(sys.argv[1] + "/" + name, train_steps=4, steps_per_loop=2, checkpoint_interval=2,
                               summary_interval=4, precision="float32")
        trainer = Trainer(ToyTask(), config, strategy, on_progress=lambda p: record.append(p.metrics["loss"]))
        trainer.train()
        resumed = Trainer(ToyTask(), config, strategy)
        out[name] = {
            "replicas": strategy.num_replicas_in_sync,
            "losses": record,
            "kernel": trainer.model.weights[0].numpy().ravel().tolist(),
            "resumed_step": resumed.step,
            "resumed_kernel": resumed.model.weights[0].numpy().ravel().tolist(),
        }
    print(json.dumps(out))
    """
)


def test_mirrored_strategy_on_two_cpus_matches_one_replica(tmp_path):
    # Separate process: logical devices can only be set before TensorFlow starts.
    script = tmp_path / "mirrored.py"
    script.write_text(_MIRRORED_SCRIPT)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path), os.path.dirname(__file__)],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    one, two = out["default"], out["mirrored"]
    assert (one["replicas"], two["replicas"]) == (1, 2)
    # Same global batches and SGD (which, unlike Adam, scales with the gradient): equal
    # trajectories only if each replica's loss is scaled by 1/replicas and the reported
    # metrics are averaged, not summed, over replicas.
    np.testing.assert_allclose(two["losses"], one["losses"], rtol=1e-5)
    np.testing.assert_allclose(two["kernel"], one["kernel"], rtol=1e-5)
    assert two["resumed_step"] == 4
    np.testing.assert_allclose(two["resumed_kernel"], two["kernel"])
    assert glob.glob(str(tmp_path / "mirrored" / "train" / "events.out.tfevents.*"))
