"""`TrainTask`: what a training method supplies to the `Trainer`."""

from __future__ import annotations

import abc


class TrainTask(abc.ABC):
    """One training method (e.g. Johnson fast style transfer), as the `Trainer` drives it.

    The split follows Orbit / TF Model Garden: the task owns the model definition, the
    losses, the input pipeline and the export; the `Trainer` owns the distribution
    strategy, the compiled loop, checkpoints, summaries and failure handling.

    The trainer calls, in this order: `build_model()` and `build_optimizer()` inside the
    strategy scope, `build_inputs(input_context, step)` once per input pipeline, then
    `train_step(inputs, model, optimizer)` once per replica per step, inside a
    `tf.function`. `sample_images(model)` is called eagerly every summary interval, and
    `export(model, export_dir)` by whoever runs the task after training.

    Subclasses set `global_batch_size` (images per step over all replicas); the trainer
    uses it for the images/s figure.
    """

    global_batch_size: int | None = None

    @abc.abstractmethod
    def build_model(self):
        """Returns the `keras.Model` to train. Runs inside the strategy scope, so any
        other variables the task needs per replica (e.g. a frozen loss network) can be
        created here too."""

    @abc.abstractmethod
    def build_optimizer(self):
        """Returns a Keras optimizer (the trainer builds it for the model's variables)."""

    @abc.abstractmethod
    def build_inputs(self, input_context=None, step: int = 0):
        """Returns a `tf.data.Dataset` of per-replica batches for one input pipeline.

        Args:
          input_context: a `tf.distribute.InputContext` (None without a strategy): use
            `input_context.get_per_replica_batch_size(global_batch_size)` and read only
            this pipeline's shard.
          step: the global step training (re)starts from. A seeded pipeline should fold
            it into its seed, so that a resumed run continues with fresh data instead of
            replaying what the run saw first.
        """

    @abc.abstractmethod
    def train_step(self, inputs, model, optimizer) -> dict:
        """Runs one optimisation step on one replica's batch; returns its metrics.

        Runs in replica context. The gradient must be that of the *global*-batch mean
        loss: Keras sums gradients over replicas, so differentiate
        `scale_loss(per_replica_mean_loss)`. Return the unscaled per-replica means
        (a dict of float scalars that includes "loss"); the trainer averages them over
        replicas, which is the global mean since every replica gets an equal batch.
        """

    def sample_images(self, model) -> dict | None:
        """Images to show in TensorBoard: {name: (N, H, W, 3) float in [0, 255]}, or None."""
        del model
        return None

    def export(self, model, export_dir: str, overwrite: bool = False, metadata: dict | None = None) -> str:
        """Writes the trained model for serving (e.g. a SavedModel) to `export_dir`.

        `overwrite` replaces an earlier export; `metadata` (JSON-serialisable) is stored
        with it. Returns the path written.
        """
        raise NotImplementedError(f"{type(self).__name__} has no export")

    def run_settings(self) -> dict | None:
        """The settings a resumed run must keep, saved in the model directory
        (`run_config.json`): {"model": {name: JSON value}, "schedule": {name: JSON value}}.

        "model" is what makes the model what it is (its architecture, its style, its data
        and losses); a resume that changes one of them is refused unless the user allows
        it. "schedule" is recorded only (e.g. the learning rate, which a resume may
        lower). None (the default) saves and checks nothing.
        """
        return None

    def divergence_hint(self) -> str:
        """What to tell a user whose loss became NaN or infinite."""
        return "lower the learning rate"

    @staticmethod
    def scale_loss(loss):
        """Scales a per-replica mean loss so that summing gradients over replicas gives
        the gradient of the global-batch mean (cf. `tf.nn.compute_average_loss`)."""
        import tensorflow as tf

        context = tf.distribute.get_replica_context()
        replicas = (context or tf.distribute.get_strategy()).num_replicas_in_sync
        return loss / tf.cast(replicas, loss.dtype)
