"""MetaNet of Shen et al., "Neural Style Transfer via Meta Networks" (CVPR 2018).

A MetaNet maps a style image's VGG statistics (`keras_style.metanet.
style_statistics_vector`) to the weights of the generated convs of a
`GeneratedTransformNet` (see `keras_style.models.generated_transform_net` for which
convs and the weight-vector layout). Its structure follows the paper:

    statistics (N, 1920) --standardised per dimension-->            "input_normalization"
      Dense(14·H, ReLU)                                             "hidden"
      --reshape--> (N, 14, H)                                       "hidden_groups"
      --one dense head per generated conv, reading only its own H units--> z (N, P)  "heads"
      --each conv's kernel rescaled to a fixed L2 norm--> w (N, P)  "weight_normalization"

with H = `hidden_per_layer` (128 in the paper: 14·128 = 1792 hidden units). The heads
are one `GroupedDense` layer, so head l provably sees only group l.

Bounded weights. Every generated conv is followed by an instance norm, which cancels
the kernel's scale: the loss has no gradient along it, and nothing holds the generated
weights' size in place (the reference MetaNet's grew without bound). Here conv l's
generated kernel is `w_l = n_l · z_l / ‖z_l‖` with the fixed norm `n_l = sqrt(2 ·
out_channels_l)`, the expected norm of a He-initialised kernel, so the generated
weights have a constant norm whatever the training does (every entry lies in [-n_l,
n_l]). Because of the instance norm this changes nothing the network can express:
it only fixes the free scale (weight normalisation, Salimans & Kingma 2016).

Also considered, and measured in 200-step runs (crop 32, base 4): a bound `w = b_l · tanh(z)`. It keeps
the weights bounded, but Adam walks z along the loss's flat scale direction into
tanh's saturated tails (mean |w| / b_l was 0.77 after 40 steps, 0.95 after 200), where
the kernels become sign patterns and the gradient vanishes. With the normalisation the
free scale is moved to the raw head output z, where it only sets the effective step
size; its norm rises in the first few dozen steps and then levels off under Adam.
Training logs both norms, and `MetaNetConfig.weight_norm_penalty` can add an L2
penalty on z.

Standardised input. The statistics of all styles share a large common part (every
VGG channel mean is positive, and their sizes differ by channel far more than by
style): with a fixed global scale, the hidden layer sees mostly that common part, and a
2800-step demo run learned a near-constant MetaNet (the weight vectors of Starry Night,
the Great Wave and Auvers agreed to 0.9%; every style gave the same picture). So the
first layer is a `FeatureStandardization` whose per-dimension mean and standard
deviation the trainer sets from the training styles' statistics
(`MetaNet.set_statistics_normalization`, before the first step; they are
non-trainable weights, saved and restored with the model). An unset MetaNet divides
by the fixed `STATISTICS_SCALE` reciprocal instead, so it starts at about unit scale.
"""

from __future__ import annotations

import numbers

import keras
import numpy as np
from keras import ops

from keras_style.errors import StyleError
from keras_style.layers.feature_standardization import FeatureStandardization
from keras_style.models.generated_transform_net import (
    GeneratedTransformNet,
    num_generated_params,
    split_weight_vector,
    weight_layout,
)

__all__ = [
    "STATISTICS_CHANNELS",
    "STATISTICS_DIM",
    "STATISTICS_LAYERS",
    "STATISTICS_SCALE",
    "GeneratedTransformNet",
    "GroupedDense",
    "MetaNet",
    "SegmentNormalization",
    "num_generated_params",
    "split_weight_vector",
    "weight_norms",
    "weight_layout",
]

# VGG19 layers whose per-channel mean and std describe a style: the VGG19 counterparts
# of the VGG16 relu1_2, relu2_2, relu3_3 and relu4_3 of the paper (same Keras names).
STATISTICS_LAYERS = ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3")
STATISTICS_CHANNELS = (64, 128, 256, 512)
STATISTICS_DIM = 2 * sum(STATISTICS_CHANNELS)  # 1920
# VGG means and stds of [0, 255] images (Caffe weights) are in the tens to hundreds
# (a few above 1000); this brings them to about unit size before the hidden layer.
STATISTICS_SCALE = 1.0 / 256.0


def weight_norms(base=8):
    """{generated conv name: the L2 norm of its generated kernel}: sqrt(2 · out_channels),
    the expected norm of a He-normal kernel (entries of RMS sqrt(2 / fan_in))."""
    return {slot.name: float(np.sqrt(2.0 * slot.kernel_shape[3])) for slot in weight_layout(base)}


def _positive_int(value, what):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise StyleError(f"{what} must be a positive integer; got {value!r}.")
    return int(value)


def _group_initializer(initializer, group):
    """A copy of `initializer` for group `group`.

    A Keras initializer, seeded or not, gives the same values on every call (see
    `keras.initializers.RandomNormal`), so each group needs its own: an unseeded one
    draws a fresh seed (reproducible under `keras.utils.set_random_seed`), an integer
    seed becomes seed + group.
    """
    config = initializer.get_config()
    if "seed" not in config:  # deterministic initializers (zeros, constants)
        return initializer
    seed = getattr(initializer, "_init_seed", config["seed"])
    config["seed"] = seed + group if isinstance(seed, int) and not isinstance(seed, bool) else None
    return type(initializer).from_config(config)


@keras.saving.register_keras_serializable(package="keras_style")
class GroupedDense(keras.layers.Layer):
    """Independent dense layers on the groups of a `(N, G, D)` input.

    Output group g is `inputs[:, g, :] @ kernel_g + bias_g`, with `units[g]` units;
    the G results are concatenated into `(N, sum(units))`. Group g's output therefore
    depends only on `inputs[:, g, :]`: this is the MetaNet's per-layer heads, each
    reading only its own slice of the hidden layer. Kernels are named `kernel_<g>`
    (or `kernel_<group name>`), shape `(D, units[g])`.

    Args:
        units: list of output sizes, one per group.
        group_names: optional names for the groups (used in weight names).
        use_bias: add a bias per group.
        kernel_initializer, bias_initializer: Keras initializers.
    """

    def __init__(
        self,
        units,
        group_names=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = [int(u) for u in units]
        if not self.units or min(self.units) < 1:
            raise ValueError(f"units must be a non-empty list of positive ints; got {units!r}.")
        self.group_names = None if group_names is None else [str(n) for n in group_names]
        if self.group_names is not None and len(self.group_names) != len(self.units):
            raise ValueError(f"{len(self.group_names)} group names for {len(self.units)} groups.")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[1] != len(self.units) or input_shape[2] is None:
            raise ValueError(
                f"GroupedDense with {len(self.units)} groups expects input (N, {len(self.units)}, D); "
                f"got {input_shape}."
            )
        depth = input_shape[2]
        names = self.group_names or [str(g) for g in range(len(self.units))]
        # One initializer per group: a Keras initializer returns the same values on every
        # call, so groups of equal shape would otherwise start with identical kernels.
        self.kernels = [
            self.add_weight(
                name=f"kernel_{n}", shape=(depth, u), initializer=_group_initializer(self.kernel_initializer, g)
            )
            for g, (n, u) in enumerate(zip(names, self.units))
        ]
        self.biases = [
            self.add_weight(name=f"bias_{n}", shape=(u,), initializer=self.bias_initializer)
            for n, u in zip(names, self.units)
        ] if self.use_bias else None

    def call(self, inputs):
        outputs = []
        for g, kernel in enumerate(self.kernels):
            y = ops.matmul(inputs[:, g, :], kernel)
            if self.biases is not None:
                y = y + self.biases[g]
            outputs.append(y)
        return ops.concatenate(outputs, axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], sum(self.units))

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": list(self.units),
            "group_names": None if self.group_names is None else list(self.group_names),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        })
        return config


@keras.saving.register_keras_serializable(package="keras_style")
class SegmentNormalization(keras.layers.Layer):
    """Rescales consecutive segments of the last axis to fixed L2 norms.

    The last axis is cut into segments of `sizes[g]` elements; segment g becomes
    `norms[g] · x_g / sqrt(‖x_g‖² + epsilon)`, so its L2 norm is `norms[g]` (and each
    element lies in [-norms[g], norms[g]]) whatever the input's scale. No weights.

    Args:
        sizes: segment lengths (their sum is the last axis' length).
        norms: one positive L2 norm per segment.
        epsilon: keeps an all-zero segment finite (it stays zero).
    """

    def __init__(self, sizes, norms, epsilon=1e-12, **kwargs):
        super().__init__(**kwargs)
        self.sizes = [int(s) for s in sizes]
        self.norms = [float(n) for n in norms]
        self.epsilon = float(epsilon)
        if len(self.sizes) != len(self.norms) or not self.sizes:
            raise ValueError("SegmentNormalization needs one norm per segment.")
        if min(self.norms) <= 0:
            raise ValueError(f"norms must be positive; got {self.norms}.")

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        segments = ops.split(x, np.cumsum(self.sizes)[:-1].tolist(), axis=-1)
        outputs = [
            segment * (norm * ops.rsqrt(ops.sum(ops.square(segment), axis=-1, keepdims=True) + self.epsilon))
            for segment, norm in zip(segments, self.norms)
        ]
        return ops.cast(ops.concatenate(outputs, axis=-1), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"sizes": list(self.sizes), "norms": list(self.norms), "epsilon": self.epsilon})
        return config


@keras.saving.register_keras_serializable(package="keras_style")
class MetaNet(keras.Model):
    """Style statistics → weights of a `GeneratedTransformNet(base)` (Shen et al. 2018).

    Input: float32 `(N, 1920)` style statistics (`keras_style.metanet.
    style_statistics_vector`: per-channel mean and std of VGG19 block1_conv2,
    block2_conv2, block3_conv3 and block4_conv3, i.e. relu1_2, relu2_2, relu3_3,
    relu4_3). Output: float32 `(N, P)` weight vectors, `P = num_generated_params(base)`,
    in the layout of `keras_style.models.generated_transform_net` (the
    `TransformNet.conv_layer_specs` order minus conv1 and conv_out; split with
    `split_weight_vector`). Each generated kernel has the fixed L2 norm
    `weight_norms(base)[conv]` (see the module docstring).

    Layers: "input_normalization" (per-dimension standardisation, see
    `set_statistics_normalization`), "hidden" (Dense, 14 ·
    `hidden_per_layer` units, ReLU), "hidden_groups" (reshape to (N, 14,
    hidden_per_layer)), "heads" (`GroupedDense`: head l reads only group l),
    "weight_normalization" (`SegmentNormalization`). `call_with_raw` also returns
    the heads' output.

    Size: `1920·14h + 14h + (h + 1)·1620·base²` trainable parameters (plus 2·1920
    for the input standardisation) for h = hidden_per_layer:
    with h = 128 that is 16.8 M (67 MB) for base 8, 56.9 M (228 MB) for base 16 and
    217.4 M (870 MB) for base 32: the heads dominate, growing as base².

    Args:
        base: the base of the `GeneratedTransformNet` whose weights it generates.
        hidden_per_layer: hidden units per generated conv (128 in the paper).
        **kwargs: `keras.Model` arguments such as `name` and `trainable`.
    """

    def __init__(self, base=8, hidden_per_layer=128, **kwargs):
        base = _positive_int(base, "MetaNet base")
        hidden_per_layer = _positive_int(hidden_per_layer, "MetaNet hidden_per_layer")
        slots = weight_layout(base)
        norms = weight_norms(base)
        groups = len(slots)

        inputs = keras.Input(shape=(STATISTICS_DIM,), name="style_statistics")
        x = FeatureStandardization(name="input_normalization")(inputs)
        x = keras.layers.Dense(groups * hidden_per_layer, activation="relu", name="hidden")(x)
        x = keras.layers.Reshape((groups, hidden_per_layer), name="hidden_groups")(x)
        # LeCun-normal heads (fan_in = hidden_per_layer) start the raw kernels at about
        # unit scale, so Adam's first steps (about lr · Σ hidden units per entry) do not
        # spin their directions around.
        x = GroupedDense(
            [slot.size for slot in slots], group_names=[slot.name for slot in slots],
            kernel_initializer="lecun_normal", name="heads",
        )(x)
        outputs = SegmentNormalization(
            [slot.size for slot in slots], [norms[slot.name] for slot in slots], name="weight_normalization"
        )(x)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.base = base
        self.hidden_per_layer = hidden_per_layer
        self.num_generated_params = num_generated_params(base)
        # Until the trainer sets them: mean 0 and std 1 / STATISTICS_SCALE for every dimension.
        self.set_statistics_normalization(
            np.zeros(STATISTICS_DIM, np.float32), np.full(STATISTICS_DIM, 1.0 / STATISTICS_SCALE, np.float32)
        )

    def set_statistics_normalization(self, mean, std):
        """Sets the input standardisation: statistics become `(s - mean) / std`.

        Args:
          mean, std: (1920,) arrays, the per-dimension mean and standard deviation of
            the training styles' statistics; std must be > 0 (floor it first).
        """
        mean = np.asarray(mean, np.float32).reshape(STATISTICS_DIM)
        std = np.asarray(std, np.float32).reshape(STATISTICS_DIM)
        if not np.all(np.isfinite(mean)) or not np.all(np.isfinite(std)) or np.any(std <= 0):
            raise StyleError("statistics normalization needs finite means and positive standard deviations")
        self.get_layer("input_normalization").set_statistics(mean, std)

    def call_with_raw(self, statistics, training=None):
        """`(weights, raw)`, both (N, P): the output, and the heads' output before the
        per-layer normalisation (its norm is the one free scale; see the module doc)."""
        x = statistics
        for name in ("input_normalization", "hidden", "hidden_groups", "heads"):
            x = self.get_layer(name)(x, training=training)
        return self.get_layer("weight_normalization")(x, training=training), x

    def get_config(self):
        # Not chained to super: a functional model's config is a layer graph.
        return {
            "name": self.name,
            "trainable": self.trainable,
            "base": self.base,
            "hidden_per_layer": self.hidden_per_layer,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
