"""Johnson et al. (2016) fast style transfer: train a `TransformNet` for one style.

The transform net is trained on content crops with a perceptual loss from a frozen
VGG19 (Johnson used VGG16, whose ImageNet weights cannot be fetched here; VGG19 has the
same layers up to block4_conv3 except a fourth conv in blocks 3-5, which is skipped):

    loss = content_weight · MSE(VGG_relu2_2(out), VGG_relu2_2(content))
         + style_weight · Σ_l w_l · MSE(Gram_l(out), Gram_l(style))   l ∈ relu{1_2,2_2,3_3,4_3}
         + tv_weight · TV_l1(out) / (H·W)

The loss network keeps VGG's max pooling, as Johnson's did: it is the network the
weights were trained with, unlike the average pooling Gatys et al. substitute for
smoother image-space gradients. Gram targets are computed once from the style image.

    from keras_style.tasks.fast_style import FastStyleConfig, train_fast_style
    from keras_style.training.trainer import TrainerConfig
    train_fast_style(FastStyleConfig("starry.jpg", "photos/"), TrainerConfig("runs/starry"),
                     export_dir="saved_models/starry")
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable, Sequence

from keras_style import checks, data, image_io
from keras_style.errors import StyleError
from keras_style.export.fast_style import export_fast_style_model
from keras_style.tasks._common import (
    MAX_CROP_SIZE,
    StyleLossTask,
    check_crop_size,
    check_learning_rate,
    check_loss_network,
    check_non_negative,
    check_pooling,
    first_sample_batch,
    layer_weight_map,
    replica_batch_and_seed,
    train_task,
    training_record,
)

DEFAULT_CONTENT_LAYERS = ("block2_conv2",)
DEFAULT_STYLE_LAYERS = ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3")
NUM_SAMPLE_IMAGES = 3
MIN_CROP_SIZE = 16  # block4 features need at least 2x2 pixels


@dataclasses.dataclass
class FastStyleConfig:
    """Settings of a fast-style training run; every field has a `style_train_fast` flag.

    Attributes:
      style_image: the style image file.
      content_data: content images: `tfds:NAME[/CONFIG][:SPLIT]` or a folder / glob /
        comma-separated files (see `keras_style.data.image_dataset`).
      crop_size: side of the square training crops (content images are resized so their
        short side is this, then randomly cropped).
      batch_size: global batch size (split over replicas).
      learning_rate: Adam learning rate.
      base: channels of the TransformNet's first conv (8 ships small fast models; the
        paper's 32 costs ~16x the transform net's compute at inference).
      content_weight, style_weight, tv_weight: loss weights (see the module docstring).
        The defaults keep the weighted content term about twice the style term, so
        samples are stylized yet recognisable after a few hundred steps (how they were
        tuned: docs/design_notes.md).
      content_layers, style_layers: VGG19 layers (Keras or reluB_I names).
      style_layer_weights: one weight per style layer; None weighs them equally.
      style_size: long side the style image is resized to before its Gram matrices are
        taken; it sets the scale of the brush strokes relative to the crops.
      network, pooling, weights: the loss network (see `VGGFeatureExtractor`).
      tfds_data_dir: TensorFlow Datasets folder for `tfds:` content data.
      skip_flat: drop solid-colour crops (degenerate Gram matrices).
      shuffle_buffer: examples buffered for shuffling tfds data.
      seed: seeds the weights' initialisation (through Keras' global seed) and the data
        order and crops; None is random.
    """

    style_image: str
    content_data: str
    crop_size: int = 256
    batch_size: int = 4
    learning_rate: float = 1e-3
    base: int = 8
    content_weight: float = 1.0
    style_weight: float = 0.3
    tv_weight: float = 1.0
    content_layers: Sequence[str] = DEFAULT_CONTENT_LAYERS
    style_layers: Sequence[str] = DEFAULT_STYLE_LAYERS
    style_layer_weights: Sequence[float] | None = None
    style_size: int = 512
    network: str = "vgg19"
    pooling: str = "max"
    weights: str | None = "auto"
    tfds_data_dir: str | None = None
    skip_flat: bool = True
    shuffle_buffer: int = 1000
    seed: int | None = None

    def validate(self):
        """Checks the numbers and layer lists (not the files); raises StyleError."""
        check_non_negative(self, ("content_weight", "style_weight", "tv_weight"))
        check_learning_rate(self)
        check_crop_size(self.crop_size, MIN_CROP_SIZE)
        if self.batch_size < 1:
            raise StyleError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.base < 1:
            raise StyleError(f"base must be >= 1, got {self.base}")
        if self.style_size < MIN_CROP_SIZE:
            raise StyleError(f"style_size must be >= {MIN_CROP_SIZE}, got {self.style_size}")
        checks.check_size(self.style_size, "style_size", MIN_CROP_SIZE, MAX_CROP_SIZE)  # the style is resized to it
        check_loss_network(self)
        check_pooling(self.pooling)

    def check_inputs(self):
        """Checks that the style image loads and the content data names images.

        Cheap and TensorFlow-free for image files (tfds specs are checked when the
        dataset opens), so commands can fail fast. Returns the style image.
        """
        style = image_io.load_image(self.style_image, max_size=self.style_size)
        if data.parse_tfds_spec(self.content_data) is None:
            data.list_training_images(self.content_data)
        return style


class FastStyleTask(StyleLossTask):
    """Trains a `TransformNet(config.base)` to render content crops in one style.

    Metrics per step: "loss" and its weighted terms "content", "style", "tv" (so
    content + style + tv = loss), each a global-batch mean.
    """

    def __init__(self, config: FastStyleConfig):
        config.validate()
        self.config = config
        self.global_batch_size = config.batch_size
        self.style_image = config.check_inputs()
        self.content_layers = list(config.content_layers)
        self.style_layers = list(config.style_layers)
        self.style_layer_weights = layer_weight_map(self.style_layers, config.style_layer_weights)
        self._samples = None

    def build_model(self):
        """The TransformNet; also builds the frozen VGG loss networks and style targets."""
        import keras
        import tensorflow as tf

        from keras_style import losses
        from keras_style.models.transform_net import TransformNet
        from keras_style.vgg import VGGFeatureExtractor

        c = self.config
        if c.seed is not None:
            keras.utils.set_random_seed(c.seed)
        vgg = dict(network=c.network, pooling=c.pooling, weights=c.weights)
        layers = list(dict.fromkeys(self.style_layers + self.content_layers))
        # Graphs stop at their deepest layer: the content targets need only relu2_2.
        self.loss_net = VGGFeatureExtractor(layers, name="loss_net", **vgg)
        self.content_net = VGGFeatureExtractor(self.content_layers, name="content_net", **vgg)
        style_features = self.loss_net(tf.constant(self.style_image[None], tf.float32))
        self.style_targets = {n: tf.constant(losses.gram_matrix(style_features[n])[0]) for n in self.style_layers}
        return TransformNet(base=c.base, name="transform_net")

    def build_optimizer(self):
        """Adam, as in Johnson et al."""
        import keras

        return keras.optimizers.Adam(learning_rate=self.config.learning_rate)

    def build_inputs(self, input_context=None, step: int = 0):
        """Random content crops, per-replica batches."""
        c = self.config
        batch, seed = replica_batch_and_seed(c, input_context, step)
        return data.image_dataset(
            c.content_data, crop_size=c.crop_size, batch_size=batch, shuffle_buffer=c.shuffle_buffer,
            seed=seed, skip_flat=c.skip_flat, data_dir=c.tfds_data_dir, input_context=input_context,
        )

    def compute_losses(self, model, content):
        """(generated images, {"loss", "content", "style", "tv"}) for a content batch."""
        import tensorflow as tf

        from keras_style import losses

        c = self.config
        content_targets = self.content_net(content)
        generated = model(content, training=True)
        features = self.loss_net(generated)
        content_term = tf.add_n([losses.content_loss(features[n], content_targets[n]) for n in self.content_layers])
        style_term = losses.gram_style_loss(
            {n: features[n] for n in self.style_layers}, self.style_targets, self.style_layer_weights
        )
        pixels = tf.cast(tf.shape(generated)[1] * tf.shape(generated)[2], tf.float32)
        tv_term = losses.total_variation_loss(generated, "l1") / pixels
        terms = {
            "content": c.content_weight * content_term,
            "style": c.style_weight * style_term,
            "tv": c.tv_weight * tv_term,
        }
        return generated, {"loss": tf.add_n(list(terms.values())), **terms}

    def train_step(self, inputs, model, optimizer):
        return self.optimize(model, optimizer, inputs)

    def sample_images(self, model):
        """A few fixed content crops, stylized, plus the crops and the style image."""
        import tensorflow as tf

        if self._samples is None:
            self._samples = first_sample_batch(self.config.content_data, self.config, NUM_SAMPLE_IMAGES)
            if self._samples is None:
                return None
        return {
            "stylized": model(self._samples, training=False),
            "content": self._samples,
            "style": tf.constant(self.style_image[None]),
        }

    def export(self, model, export_dir: str, overwrite: bool = False, metadata: dict | None = None) -> str:
        """A serving SavedModel via `keras_style.export.fast_style`, named after the style
        image and recording the training settings."""
        style_name = os.path.splitext(os.path.basename(self.config.style_image))[0]
        training = training_record(self.config, metadata)
        return export_fast_style_model(
            model, export_dir, overwrite=overwrite, style_name=style_name, extra_metadata={"training": training}
        )


def train_fast_style(
    config: FastStyleConfig,
    trainer_config,
    strategy_name: str = "default",
    export_dir: str | None = None,
    on_progress: Callable | None = None,
    overwrite_export: bool = False,
) -> dict:
    """Trains (or resumes training) a fast style model; exports it if `export_dir` is given.

    Args:
      config: a `FastStyleConfig`.
      trainer_config: a `keras_style.training.trainer.TrainerConfig`.
      strategy_name: see `keras_style.training.distribute.get_strategy`.
      export_dir: where to write the serving SavedModel after training (chief only).
        An existing export there is an error unless `overwrite_export`; this is checked
        before training starts.
      on_progress: called with a `keras_style.training.trainer.Progress` after every loop.

    Returns:
      The last loop's metrics, {name: float}.
    """
    return train_task(
        lambda: FastStyleTask(config), trainer_config, strategy_name, export_dir, on_progress,
        overwrite_export,
    )
