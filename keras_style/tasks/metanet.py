"""MetaNet training (Shen et al., "Neural Style Transfer via Meta Networks", CVPR 2018).

A `MetaNet` learns to turn a style image's VGG statistics into the conv kernels of a
`GeneratedTransformNet`; both are trained together on (content crop, style image)
pairs, one style per batch, with the Johnson et al. perceptual loss of
`keras_style.tasks.fast_style` against that batch's style:

    loss = content_weight · MSE(VGG_relu2_2(out), VGG_relu2_2(content))
         + style_weight · Σ_l w_l · MSE(Gram_l(out), Gram_l(style))   l ∈ relu{1_2,2_2,3_3,4_3}
         + tv_weight · TV_l1(out) / (H·W)
         + weight_norm_penalty · mean(z²)      z: the MetaNet heads' raw output

The loss network is VGG19 with max pooling (as in the fast-style task); the same
forward pass of the style image gives its Gram targets and the MetaNet's input
statistics (`keras_style.metanet.style_statistics_vector`).

Style schedule: the style changes every `style_change_every` steps (20, as the
reference implementation did). Steps are grouped in blocks of that length; block b uses
style file `perm_e[b mod n]`, where n is the number of style files, e = b div n and
perm_e a permutation drawn from (seed, e): every style appears once per n blocks, and
the style of a step depends only on the seed and the step, so a resumed run continues
the same sequence. Each block crops its style image afresh (resized so the short side
is `style_size`, then a random `style_size`² crop).

    from keras_style.tasks.metanet import MetaNetConfig, train_metanet
    from keras_style.training.trainer import TrainerConfig
    train_metanet(MetaNetConfig("photos/", "styles/"), TrainerConfig("runs/meta"))
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import numpy as np

from keras_style import checks, data, image_io
from keras_style.errors import StyleError
from keras_style.tasks._common import (
    MAX_CROP_SIZE,
    StyleLossTask, check_crop_size, check_learning_rate, check_loss_network, check_non_negative, check_pooling,
    first_sample_batch, layer_weight_map, replica_batch_and_seed, train_task, training_record,
)
from keras_style.export.metanet import export_metanet_model
from keras_style.tasks.fast_style import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS, MIN_CROP_SIZE

# TensorFlow, Keras and the modules that load them are imported inside the methods: the
# CLI validates a config through this module, and a bad setting must be reported as one
# line before TensorFlow loads (and logs).

NUM_SAMPLE_IMAGES = 3
NUM_SAMPLE_STYLES = 2
# The MetaNet's input standardisation is estimated from at most this many style images.
MAX_NORMALIZATION_STYLES = 1000
# The style crops' seeds are offset from the content pipeline's, to keep them apart.
_STYLE_CROP_SEED_OFFSET = 104729


@dataclasses.dataclass
class MetaNetConfig:
    """Settings of a MetaNet training run.

    Attributes:
      content_data: content images: `tfds:NAME[/CONFIG][:SPLIT]` or a folder / glob /
        comma-separated files (see `keras_style.data.image_dataset`).
      style_data: style images: a folder, glob or comma-separated files.
      crop_size: side of the square content crops.
      batch_size: global batch size (split over replicas); all its images share one style.
      learning_rate: Adam learning rate.
      base: channels of the generated TransformNet's first conv.
      hidden_per_layer: MetaNet hidden units per generated conv (128 in the paper).
      content_weight, style_weight, tv_weight: loss weights (see the module docstring).
        The style weight (0.2) is below the fast-style recipes' 0.5, because the style
        changes every few steps (how it was chosen: docs/design_notes.md).
      weight_norm_penalty: weight of an L2 penalty mean(z²) on the MetaNet heads' raw
        output z. The generated kernels themselves have fixed norms (`MetaNet`
        normalises each one), so they need no penalty; z's norm is the one free scale
        (the instance norms cancel it) and only sets the MetaNet's effective step
        size. Off by default: under Adam it levels off by itself (see
        `keras_style.models.metanet`); the penalty caps it if a long run drifts.
      content_layers, style_layers: VGG19 layers (Keras or reluB_I names).
      style_layer_weights: one weight per style layer; None weighs them equally.
      style_size: style images are resized so their short side is this and cropped to
        a square of this side before their Grams and statistics are taken.
      style_change_every: steps between style changes.
      network, pooling, weights: the loss network (see `VGGFeatureExtractor`); it also
        computes the MetaNet's input statistics.
      tfds_data_dir: TensorFlow Datasets folder for `tfds:` content data.
      skip_flat: drop solid-colour content crops.
      shuffle_buffer: examples buffered for shuffling tfds data.
      seed: seeds the weights, the style sequence and the crops; None is random (then
        a resumed run does not replay the same sequence; multi-worker runs need a seed
        so that every worker trains on the same style).
    """

    content_data: str
    style_data: str
    crop_size: int = 256
    batch_size: int = 8
    learning_rate: float = 1e-3
    base: int = 8
    hidden_per_layer: int = 128
    content_weight: float = 1.0
    style_weight: float = 0.2
    tv_weight: float = 1.0
    weight_norm_penalty: float = 0.0
    content_layers: Sequence[str] = DEFAULT_CONTENT_LAYERS
    style_layers: Sequence[str] = DEFAULT_STYLE_LAYERS
    style_layer_weights: Sequence[float] | None = None
    style_size: int = 256
    style_change_every: int = 20
    network: str = "vgg19"
    pooling: str = "max"
    weights: str | None = "auto"
    tfds_data_dir: str | None = None
    skip_flat: bool = True
    shuffle_buffer: int = 1000
    seed: int | None = None

    def validate(self):
        """Checks the numbers and layer lists (not the files); raises StyleError."""
        check_non_negative(self, ("content_weight", "style_weight", "tv_weight", "weight_norm_penalty"))
        check_learning_rate(self)
        check_crop_size(self.crop_size, MIN_CROP_SIZE)
        if self.style_size < MIN_CROP_SIZE:
            raise StyleError(f"style_size must be >= {MIN_CROP_SIZE}, got {self.style_size}")
        checks.check_size(self.style_size, "style_size", MIN_CROP_SIZE, MAX_CROP_SIZE)  # a style_size² crop
        for name in ("batch_size", "base", "hidden_per_layer", "style_change_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise StyleError(f"{name} must be an integer >= 1, got {value!r}")
        check_loss_network(self)
        if self.network != "vgg19":
            # The MetaNet's input is 1920 statistics of VGG19 layers.
            raise StyleError(f"MetaNet training needs network vgg19, got '{self.network}'")
        check_pooling(self.pooling)

    def check_inputs(self) -> list[str]:
        """Checks that the style images exist (the first one loads) and the content data
        names images; returns the style files, sorted as `image_io.list_images` lists them.
        """
        styles = data.list_training_images(self.style_data)
        image_io.load_image(styles[0], max_size=self.style_size)
        if data.parse_tfds_spec(self.content_data) is None:
            data.list_training_images(self.content_data)
        return styles


def sample_style_files(style_files: Sequence[str], count: int = NUM_SAMPLE_STYLES) -> list[str]:
    """`count` style files spread evenly over the sorted list (first and last for two).

    Sorted names group similar images (a set's engravings, its wood textures), so the
    first few would show the samples of near-identical styles, and hide whether the
    pictures follow the style.
    """
    if len(style_files) <= count:
        return list(style_files)
    return [style_files[int(round(i))] for i in np.linspace(0, len(style_files) - 1, count)]


class MetaNetTask(StyleLossTask):
    """Trains a `MetaNet` and the shared weights of a `GeneratedTransformNet`.

    The model is a `MetaNetStyleTransfer` ("metanet_style_transfer") with inputs
    `[content (N, H, W, 3), style statistics (1, 1920)]` and the stylized images as
    output; its layers `"metanet"` (`MetaNet`) and `"generated_transform_net"`
    (`GeneratedTransformNet`: conv1, its instance norm and conv_out are trained here)
    hold every trainable weight. The frozen VGG nets live on the task, outside the
    model and its checkpoints.

    Inputs: `(content batch (B, crop, crop, 3), style image (style_size, style_size, 3))`
    per step, one style for the whole batch (see the module docstring).

    Metrics per step: "loss" and its weighted terms "content", "style", "tv",
    "weight_penalty" (they sum to "loss"), plus two diagnostics outside the loss:
    "weight_norm", the L2 norm of the generated weight vector (constant by
    construction: sqrt(Σ_l 2·out_channels_l)), and "raw_weight_norm", the norm of the
    heads' output before normalisation (watch it for drift).
    """

    def __init__(self, config: MetaNetConfig):
        config.validate()
        self.config = config
        self.global_batch_size = config.batch_size
        self.style_files = config.check_inputs()
        self.content_layers = list(config.content_layers)
        self.style_layers = list(config.style_layers)
        self.style_layer_weights = layer_weight_map(self.style_layers, config.style_layer_weights)
        # One seed for the style sequence, shared by every input pipeline of this process.
        self.style_seed = int(config.seed if config.seed is not None else np.random.SeedSequence().entropy % 2**31)
        self._samples = None

    # Model.

    def build_model(self):
        """The MetaNet + generated TransformNet model; also builds the frozen VGG nets."""
        import keras

        from keras_style.models.metanet import STATISTICS_LAYERS
        from keras_style.models.metanet_model import MetaNetStyleTransfer
        from keras_style.vgg import VGGFeatureExtractor

        c = self.config
        if c.seed is not None:
            keras.utils.set_random_seed(c.seed)
        vgg = dict(network=c.network, pooling=c.pooling, weights=c.weights)
        layers = list(dict.fromkeys(self.style_layers + list(STATISTICS_LAYERS) + self.content_layers))
        self.loss_net = VGGFeatureExtractor(layers, name="loss_net", **vgg)
        self.content_net = VGGFeatureExtractor(self.content_layers, name="content_net", **vgg)
        model = MetaNetStyleTransfer(base=c.base, hidden_per_layer=c.hidden_per_layer)
        model.metanet.set_statistics_normalization(*self.style_statistics_normalization())
        return model

    def style_statistics_normalization(self):
        """(mean, std), each (1920,): the MetaNet's input standardisation.

        From the statistics of up to `MAX_NORMALIZATION_STYLES` training styles (a
        seeded sample of larger sets), each cropped as in training. A dimension whose
        std is tiny (a VGG channel that hardly varies between styles) gets a floor of
        10% of the mean std, so it is not blown up at inference on a new style. On
        resume the checkpoint's values replace these. The floor is also at least 1% of
        the average statistic: with a single style (or near-copies) every std is about
        zero, and dividing by it blew the MetaNet's input up to ~1e6 (raw weight norm
        3e9 within 20 steps in a one-style test run).
        """
        import tensorflow as tf

        from keras_style.metanet import style_statistics_vector

        c = self.config
        files = list(self.style_files)
        if len(files) > MAX_NORMALIZATION_STYLES:
            rng = np.random.default_rng(self.style_seed)
            files = [files[i] for i in sorted(rng.choice(len(files), MAX_NORMALIZATION_STYLES, replace=False))]
        rows = []
        for index, path in enumerate(files):
            try:
                image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False, dtype=tf.uint8)
            except tf.errors.OpError:
                continue  # training skips unreadable style files too
            crop = data.random_resized_crop(image, c.style_size, c.style_size, c.style_size, tf.constant([index, 0]))
            rows.append(style_statistics_vector(self.loss_net(crop[None]))[0].numpy())
        if not rows:
            raise StyleError("none of the style images could be read")
        statistics = np.stack(rows).astype(np.float64)
        mean, std = statistics.mean(axis=0), statistics.std(axis=0)
        std = np.maximum(std, max(0.1 * std.mean(), 0.01 * np.abs(mean).mean()) + 1e-6)
        return mean.astype(np.float32), std.astype(np.float32)

    def build_optimizer(self):
        """Adam."""
        import keras

        return keras.optimizers.Adam(learning_rate=self.config.learning_rate)

    # Inputs.

    def style_index(self, block):
        """Index into `style_files` of the style of step block `block` (a tensor or int).

        Block b = step // style_change_every; see the module docstring.
        """
        import tensorflow as tf

        block = tf.cast(block, tf.int64)
        count = tf.constant(len(self.style_files), tf.int64)
        epoch = block // count
        keys = tf.random.stateless_uniform(
            [len(self.style_files)], seed=tf.stack([tf.constant(self.style_seed, tf.int64), epoch])
        )
        return tf.gather(tf.argsort(keys), block % count)

    def style_index_for_step(self, step: int) -> int:
        """The style file index a step trains on (eager)."""
        return int(self.style_index(step // self.config.style_change_every))

    def style_dataset(self, step: int = 0):
        """Per-step style images from `step` on: (style_size, style_size, 3) float32."""
        import tensorflow as tf

        c = self.config
        files = tf.constant(self.style_files)
        every = c.style_change_every

        def load(block):
            raw = tf.io.read_file(tf.gather(files, self.style_index(block)))
            image = tf.io.decode_image(raw, channels=3, expand_animations=False, dtype=tf.uint8)
            seed = tf.stack([block, tf.constant(self.style_seed + _STYLE_CROP_SEED_OFFSET, tf.int64)])
            return data.random_resized_crop(image, c.style_size, c.style_size, c.style_size, seed)

        # One decode per block; an unreadable style file skips its block (logged).
        blocks = tf.data.Dataset.counter(step // every).map(load)
        blocks = blocks.ignore_errors(log_warning=True)
        styles = blocks.flat_map(lambda image: tf.data.Dataset.from_tensors(image).repeat(every))
        return styles.skip(step % every)

    def build_inputs(self, input_context=None, step: int = 0):
        """(content batch, style image) per step, per replica; every replica gets the
        same style (it depends only on the seed and the step)."""
        import tensorflow as tf

        c = self.config
        batch, seed = replica_batch_and_seed(c, input_context, step)
        content = data.image_dataset(
            c.content_data, crop_size=c.crop_size, batch_size=batch, shuffle_buffer=c.shuffle_buffer,
            seed=seed, skip_flat=c.skip_flat, data_dir=c.tfds_data_dir, input_context=input_context,
        )
        return tf.data.Dataset.zip((content, self.style_dataset(step))).prefetch(tf.data.AUTOTUNE)

    # Losses and step.

    def style_targets(self, style):
        """(statistics (1, 1920), {style layer: Gram (C, C)}) of one style image."""
        import tensorflow as tf

        from keras_style import losses
        from keras_style.metanet import style_statistics_vector

        features = self.loss_net(tf.expand_dims(tf.convert_to_tensor(style, tf.float32), 0))
        statistics = style_statistics_vector(features)
        grams = {n: losses.gram_matrix(features[n])[0] for n in self.style_layers}
        return statistics, grams

    def compute_losses(self, model, content, style):
        """(generated images, metrics) for a content batch and one style image."""
        import tensorflow as tf

        from keras_style import losses

        c = self.config
        statistics, style_grams = self.style_targets(style)
        content_targets = self.content_net(content)
        weights, raw = model.metanet.call_with_raw(statistics, training=True)
        raw = tf.cast(raw, tf.float32)  # the penalty and the norms are sums: float32 under any policy
        generated = model.generated_net([content, weights], training=True)
        features = self.loss_net(generated)
        content_term = tf.add_n([losses.content_loss(features[n], content_targets[n]) for n in self.content_layers])
        style_term = losses.gram_style_loss(
            {n: features[n] for n in self.style_layers}, style_grams, self.style_layer_weights
        )
        pixels = tf.cast(tf.shape(generated)[1] * tf.shape(generated)[2], tf.float32)
        tv_term = losses.total_variation_loss(generated, "l1") / pixels
        penalty = tf.reduce_mean(tf.square(raw))
        terms = {
            "content": c.content_weight * content_term,
            "style": c.style_weight * style_term,
            "tv": c.tv_weight * tv_term,
            "weight_penalty": c.weight_norm_penalty * penalty,
        }
        metrics = {"loss": tf.add_n(list(terms.values())), **terms}
        metrics["weight_norm"] = tf.stop_gradient(tf.norm(tf.cast(weights, tf.float32)))
        metrics["raw_weight_norm"] = tf.stop_gradient(tf.norm(raw))
        return generated, metrics

    def train_step(self, inputs, model, optimizer):
        content, style = inputs
        return self.optimize(model, optimizer, content, style)

    # Samples, export.

    def generate_weights(self, model, style):
        """The (1, P) generated weights for one style image (eager)."""
        statistics, _ = self.style_targets(style)
        return model.metanet(statistics, training=False)

    def sample_images(self, model):
        """Fixed content crops stylized with the first style files, plus the crops and styles."""
        import tensorflow as tf

        c = self.config
        if self._samples is None:
            content = first_sample_batch(c.content_data, c, NUM_SAMPLE_IMAGES)
            if content is None:
                return None
            styles = []
            for path in sample_style_files(self.style_files):
                try:
                    image = image_io.load_image(path)
                except StyleError:
                    continue
                seed = tf.constant([0, self.style_seed], tf.int64)
                styles.append(data.random_resized_crop(image, c.style_size, c.style_size, c.style_size, seed))
            self._samples = content, styles
        content, styles = self._samples
        images = {"content": content}
        for i, style in enumerate(styles):
            weights = self.generate_weights(model, style)
            images[f"style_{i}"] = style[None]
            images[f"stylized_{i}"] = model.generated_net([content, weights], training=False)
        return images

    def export(self, model, export_dir: str, overwrite: bool = False, metadata: dict | None = None) -> str:
        """A serving SavedModel via `keras_style.export.metanet` (the statistics come from
        a `config.network` VGG with `config.pooling`, as in training; style images are
        resized to `config.style_size` at run time, the scale they were trained at)."""
        c = self.config
        extractor = None
        loss_net = getattr(self, "loss_net", None)
        if loss_net is not None:
            # The statistics network gets the loss network's very weights (whatever their
            # source), so the export computes the statistics the MetaNet trained on.
            from keras_style.metanet import statistics_extractor

            extractor = statistics_extractor(network=c.network, pooling=c.pooling, weights=None)
            for layer in extractor.layers:
                if layer.weights:
                    layer.set_weights(loss_net.get_layer(layer.name).get_weights())
        training = training_record(c, metadata, styles=len(self.style_files))
        return export_metanet_model(
            model, export_dir, network=c.network, pooling=c.pooling, overwrite=overwrite, vgg_weights=c.weights,
            extractor=extractor, style_size=c.style_size, extra_metadata={"training": training},
        )


def train_metanet(
    config: MetaNetConfig,
    trainer_config,
    strategy_name: str = "default",
    export_dir: str | None = None,
    on_progress: Callable | None = None,
    overwrite_export: bool = False,
) -> dict:
    """Trains (or resumes training) a MetaNet; exports it if `export_dir` is given.

    Args:
      config: a `MetaNetConfig`.
      trainer_config: a `keras_style.training.trainer.TrainerConfig`.
      strategy_name: see `keras_style.training.distribute.get_strategy`.
      export_dir: where to write the serving SavedModel after training (chief only);
        None skips the export.
      on_progress: called with a `keras_style.training.trainer.Progress` after every loop.
      overwrite_export: replace an existing SavedModel in `export_dir` (checked before
        training, so a run never ends unable to write its export).

    Returns:
      The last loop's metrics, {name: float}.
    """
    return train_task(
        lambda: MetaNetTask(config), trainer_config, strategy_name, export_dir, on_progress,
        overwrite_export,
    )
