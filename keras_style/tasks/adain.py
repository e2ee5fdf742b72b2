"""AdaIN arbitrary style transfer (Huang & Belongie 2017): train the decoder.

An `AdaINStyleTransfer` network encodes content and style crops with a frozen VGG19
(to relu4_1, max pooling), aligns the content features' channel statistics with the
style's (AdaIN) and decodes the result. Only the decoder trains, with the paper's
loss (its Section 5):

    t = AdaIN(f(c), f(s))                       (a constant: no gradient flows into it)
    g = decoder(t)
    loss = content_weight · MSE(f(g), t)
         + style_weight · Σ_l w_l · (‖μ(φ_l(g)) − μ(φ_l(s))‖² + ‖σ(φ_l(g)) − σ(φ_l(s))‖²) / C_l
                                                l ∈ relu1_1, relu2_1, relu3_1, relu4_1

where f = φ_relu4_1. Content and style images are resized so their short side is a
random size in `short_side_range` (512 in the paper) and randomly cropped to
`crop_size` (256), as in the paper; the paper used MS-COCO contents and WikiArt styles.
Adam with the learning rate decayed as lr / (1 + decay · step), as in the paper's code.

This VGG takes [0, 255] Caffe-preprocessed images, not the paper's normalised VGG, so
the loss values are large (relu4_1 activations are ~1000) and the deep layers dominate
the equally weighted style sum (relu4_1's term is ~100x relu1_1's); rebalance with
`style_layer_weights` if wanted. Adam's updates do not depend on the loss scale.

    from keras_style.tasks.adain import AdaINConfig, train_adain
    from keras_style.training.trainer import TrainerConfig
    train_adain(AdaINConfig("tfds:coco/2014", "wikiart/"), TrainerConfig("runs/adain"),
                export_dir="saved_models/adain")
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

from keras_style import data
from keras_style.errors import StyleError
from keras_style.export.adain import export_adain_model
from keras_style.tasks._common import (
    MAX_SHORT_SIDE,
    StyleLossTask,
    check_crop_size,
    check_layer_weights,
    check_learning_rate,
    check_non_negative,
    first_sample_batch,
    layer_weight_map,
    replica_batch_and_seed,
    train_task,
    training_record,
)

# The layers the AdaIN encoder outputs (`adain_model.ENCODER_LAYERS`, kept here so
# validating a config needs no TensorFlow), by paper and by Keras name.
DEFAULT_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
_LAYER_ALIASES = {**{n: n for n in DEFAULT_STYLE_LAYERS}, **{f"block{b}_conv1": f"relu{b}_1" for b in (1, 2, 3, 4)}}
NUM_SAMPLE_IMAGES = 3
# The encoder pools three times before relu4_1: crops that are multiples of 8 decode
# back to their own size, and 16 keeps relu4_1 at least 2x2 for the decoder's padding.
CROP_MULTIPLE = 8
MIN_CROP_SIZE = 16
# Seeds of the style pipeline are offset from the content pipeline's, so the two
# streams differ even when both specs name the same images.
_STYLE_SEED_OFFSET = 104729


@dataclasses.dataclass
class AdaINConfig:
    """Settings of an AdaIN decoder training run.

    Attributes:
      content_data: content images: `tfds:NAME[/CONFIG][:SPLIT]` or a folder / glob /
        comma-separated files (see `keras_style.data.image_dataset`); MS-COCO in the paper.
      style_data: style images, same syntax; WikiArt in the paper (a folder: there is
        no tfds builder for it).
      crop_size: side of the square training crops; a multiple of 8.
      short_side_range: (low, high): images are resized so their short side is a random
        integer in this range, then cropped (crop_size <= low <= high).
      style_short_side_range: the same for the style images; None uses
        `short_side_range`. A wider range shows the decoder each painting's strokes at
        several scales, which makes up for a small style set.
      flip_styles: mirror half of the style crops left-right (augmentation).
      batch_size: global batch size (split over replicas); each example is one content
        and one style crop.
      learning_rate: Adam's initial learning rate.
      learning_rate_decay: the learning rate at step n is learning_rate / (1 + decay · n)
        (the paper's code uses 5e-5); 0 keeps it constant.
      style_weight: λ, the weight of the style loss.
      content_weight: the weight of the content loss.
      style_layers: VGG19 layers of the style loss, from relu1_1..relu4_1 (Keras
        `block4_conv1` names are accepted too).
      style_layer_weights: one weight per style layer; None weighs them equally.
      weights: the VGG19 weights (see `VGGFeatureExtractor`).
      tfds_data_dir: TensorFlow Datasets folder for `tfds:` data.
      skip_flat: drop solid-colour crops.
      shuffle_buffer: examples buffered for shuffling tfds data.
      seed: seeds the decoder's initialisation, the data order and the crops; None is
        random.
    """

    content_data: str
    style_data: str
    crop_size: int = 256
    short_side_range: Sequence[int] = (256, 512)
    style_short_side_range: Sequence[int] | None = None
    flip_styles: bool = False
    batch_size: int = 8
    learning_rate: float = 1e-4
    learning_rate_decay: float = 5e-5
    style_weight: float = 10.0
    content_weight: float = 1.0
    style_layers: Sequence[str] = DEFAULT_STYLE_LAYERS
    style_layer_weights: Sequence[float] | None = None
    weights: str | None = "auto"
    tfds_data_dir: str | None = None
    skip_flat: bool = True
    shuffle_buffer: int = 1000
    seed: int | None = None

    def validate(self):
        """Checks the numbers and layer lists (not the files); raises StyleError."""
        check_non_negative(self, ("content_weight", "style_weight", "learning_rate_decay"))
        check_learning_rate(self)
        if self.crop_size < MIN_CROP_SIZE or self.crop_size % CROP_MULTIPLE:
            raise StyleError(
                f"crop_size must be a multiple of {CROP_MULTIPLE} and >= {MIN_CROP_SIZE}, got {self.crop_size}"
            )
        check_crop_size(self.crop_size, MIN_CROP_SIZE)
        for name in ("short_side_range", "style_short_side_range"):
            value = getattr(self, name)
            if value is None and name == "style_short_side_range":
                continue
            if len(value) != 2:
                raise StyleError(f"{name} must be (low, high), got {tuple(value)}")
            low, high = value
            if not self.crop_size <= low <= high:
                raise StyleError(f"{name} {low}..{high} must satisfy crop_size ({self.crop_size}) <= low <= high")
            if high > MAX_SHORT_SIDE:
                raise StyleError(f"{name} {low}..{high}: high must be <= {MAX_SHORT_SIDE}; larger images do not "
                                 "fit the input pipeline's memory")
        if self.batch_size < 1:
            raise StyleError(f"batch_size must be >= 1, got {self.batch_size}")
        if not self.style_layers:
            raise StyleError("no style layers given")
        for layer in self.style_layers:
            if layer not in _LAYER_ALIASES:
                raise StyleError(
                    f"unknown AdaIN style layer '{layer}'; choose from {', '.join(DEFAULT_STYLE_LAYERS)}"
                )
        check_layer_weights(self.style_layers, self.style_layer_weights)

    def check_inputs(self):
        """Checks that the content and style specs name images (tfds specs are checked
        when the dataset opens), without TensorFlow, so commands can fail fast."""
        for spec in (self.content_data, self.style_data):
            if data.parse_tfds_spec(spec) is None:
                data.list_training_images(spec)


class AdaINTask(StyleLossTask):
    """Trains the decoder of an `AdaINStyleTransfer` on (content, style) crop pairs.

    Inputs are `(content, style)` batches; the model is the whole network (its frozen
    encoder is part of it, so checkpoints and exports hold one model), and only the
    decoder's variables are trainable. Metrics per step: "loss" and its weighted terms
    "content" and "style" (content + style = loss), each a global-batch mean.
    """

    def __init__(self, config: AdaINConfig):
        config.validate()
        config.check_inputs()
        self.config = config
        self.global_batch_size = config.batch_size
        # The encoder outputs relu names; map Keras names onto them.
        self.style_layers = [_LAYER_ALIASES[n] for n in config.style_layers]
        self.style_layer_weights = layer_weight_map(self.style_layers, config.style_layer_weights)
        self._samples = None

    def build_model(self):
        """An `AdaINStyleTransfer` with a freshly initialised decoder."""
        import keras

        from keras_style.models.adain_model import AdaINStyleTransfer

        if self.config.seed is not None:
            keras.utils.set_random_seed(self.config.seed)
        return AdaINStyleTransfer(encoder_weights=self.config.weights)

    def build_optimizer(self):
        """Adam with inverse time decay, as the paper's code."""
        import keras

        c = self.config
        learning_rate = c.learning_rate
        if c.learning_rate_decay > 0:
            learning_rate = keras.optimizers.schedules.InverseTimeDecay(
                c.learning_rate, decay_steps=1, decay_rate=c.learning_rate_decay
            )
        return keras.optimizers.Adam(learning_rate=learning_rate)

    def build_inputs(self, input_context=None, step: int = 0):
        """Zipped (content, style) random crops, per-replica batches."""
        import tensorflow as tf

        c = self.config
        batch, seed = replica_batch_and_seed(c, input_context, step)
        style_range = c.short_side_range if c.style_short_side_range is None else c.style_short_side_range
        content, style = (
            data.image_dataset(
                spec, crop_size=c.crop_size, batch_size=batch, resize="short_side_range",
                short_side_range=tuple(short_range), shuffle_buffer=c.shuffle_buffer,
                seed=None if seed is None else seed + offset, skip_flat=c.skip_flat,
                random_flip=flip, data_dir=c.tfds_data_dir, input_context=input_context,
            )
            for spec, offset, short_range, flip in (
                (c.content_data, 0, c.short_side_range, False),
                (c.style_data, _STYLE_SEED_OFFSET, style_range, c.flip_styles),
            )
        )
        return tf.data.Dataset.zip((content, style))

    def compute_losses(self, model, content, style):
        """(decoded images, {"loss", "content", "style"}) for a batch of pairs.

        `content` and `style`: float (N, S, S, 3) in [0, 255], S a multiple of 8.
        """
        import tensorflow as tf

        from keras_style import losses
        from keras_style.models.adain_model import ADAIN_LAYER

        c = self.config
        content_features = model.encoder(content)[ADAIN_LAYER]
        style_features = model.encoder(style)
        mean, std = losses.mean_std(style_features[ADAIN_LAYER], model.epsilon)
        # The paper's target t is a constant: the loss trains the decoder to invert
        # AdaIN's output, not to move it.
        target = tf.stop_gradient(model.adain([content_features, mean, std]))
        generated = model.decoder(target, training=True)
        features = model.encoder(generated)
        content_term = losses.content_loss(features[ADAIN_LAYER], target)
        style_term = losses.mean_std_style_loss(
            {n: features[n] for n in self.style_layers},
            {n: style_features[n] for n in self.style_layers},
            self.style_layer_weights,
            model.epsilon,
        )
        terms = {"content": c.content_weight * content_term, "style": c.style_weight * style_term}
        return generated, {"loss": terms["content"] + terms["style"], **terms}

    def train_step(self, inputs, model, optimizer):
        content, style = inputs
        return self.optimize(model, optimizer, content, style)  # trains the decoder's variables only

    def sample_images(self, model):
        """A few fixed content and style crops and their full-strength stylization."""
        import tensorflow as tf

        if self._samples is None:
            c = self.config
            batches = []
            for spec in (c.content_data, c.style_data):
                batch = first_sample_batch(spec, c, NUM_SAMPLE_IMAGES)
                if batch is None:
                    return None
                batches.append(batch)
            self._samples = tuple(batches)
        content, style = self._samples
        alpha = tf.ones((NUM_SAMPLE_IMAGES, 1), tf.float32)
        return {"stylized": model([content, style, alpha], training=False), "content": content, "style": style}

    def export(self, model, export_dir: str, overwrite: bool = False, metadata: dict | None = None) -> str:
        """A serving SavedModel via `keras_style.export.adain`, recording the training settings."""
        training = training_record(self.config, metadata)
        return export_adain_model(model, export_dir, overwrite=overwrite, extra_metadata={"training": training})


def train_adain(
    config: AdaINConfig,
    trainer_config,
    strategy_name: str = "default",
    export_dir: str | None = None,
    on_progress: Callable | None = None,
    overwrite_export: bool = False,
) -> dict:
    """Trains (or resumes training) an AdaIN decoder; exports the model if `export_dir` is given.

    Args:
      config: an `AdaINConfig`.
      trainer_config: a `keras_style.training.trainer.TrainerConfig`.
      strategy_name: see `keras_style.training.distribute.get_strategy`.
      export_dir: where to write the serving SavedModel after training (chief only);
        None skips the export. An existing export there is an error unless
        `overwrite_export`; this is checked before training starts.
      on_progress: called with a `keras_style.training.trainer.Progress` after every loop.
      overwrite_export: replace an existing SavedModel at `export_dir`.

    Returns:
      The last loop's metrics, {name: float}.
    """
    return train_task(
        lambda: AdaINTask(config), trainer_config, strategy_name, export_dir, on_progress,
        overwrite_export,
    )
