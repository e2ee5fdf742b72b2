"""MetaNet of Shen et al., "Neural Style Transfer via Meta Networks" (CVPR 2018).

A MetaNet maps a style image's VGG statistics (`keras_style.metanet.
style_statistics_vector`) to the weights of the generated convs of a
`GeneratedTransformNet` (`keras_style.models.generated_transform_net` gives the
convs and the weight-vector layout):

    statistics (N, 1920) --standardised per dimension-->            "input_normalization"
      Dense(14·H, ReLU)                                             "hidden"
      --reshape--> (N, 14, H)                                       "hidden_groups"
      --times 1/sqrt(H)-->                                          "head_gain"
      --one dense head per generated conv, reading only its own H units--> z (N, P)  "heads"
      --per conv: kernel rescaled to a fixed L2 norm,
        norm scale and offset capped by tanh--> w (N, P)            "weight_bounds"

with H = `hidden_per_layer` (128 in the paper). Head l writes conv l's kernel and
the scale and offset of the instance norm after it (a `GroupedDense`: head l sees
only group l).

Why it is built so (the measurements behind each choice are in docs/design_notes.md):
* Shared and style parts: head l's bias is the style-independent network and starts
  as an ordinary TransformNet, and its kernel (the style part) starts at zero, so
  training starts where a fast-style model's does, for every style; the 1/sqrt(H)
  gain keeps the style part's Adam steps near the shared part's.
* Bounded weights: an instance norm follows every generated conv, so the kernel's
  scale is free; kernels are normalised to the He-initialisation norm
  sqrt(2·out_channels) (weight normalisation) and norm scales/offsets are capped
  (`GeneratedWeightBounds`), which bounds the whole generated vector.
* Standardised input: all styles' statistics share a large common part, so the
  first layer standardises each dimension with the training styles' mean and
  deviation (`MetaNet.set_statistics_normalization`); unset, it divides by
  `STATISTICS_SCALE`.
"""

from __future__ import annotations

import numbers

import keras
import numpy as np
from keras import ops

from keras_style.errors import StyleError
from keras_style.layers.feature_standardization import FeatureStandardization
from keras_style.models.base import FunctionalModel
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
    "GeneratedWeightBounds",
    "GroupedDense",
    "MetaNet",
    "head_gain",
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
# Generated instance-norm scales lie in 1 ± NORM_SCALE_BOUND, offsets in ±NORM_OFFSET_BOUND.
NORM_SCALE_BOUND = 2.0
NORM_OFFSET_BOUND = 2.0


def head_gain(hidden_per_layer):
    """The fixed factor 1/sqrt(h) on the hidden units the heads read (see `MetaNet`)."""
    return 1.0 / float(np.sqrt(hidden_per_layer))


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
        # TensorFlow checkpoints follow attributes, not variables inside Python lists:
        # without these the heads would restart from their initial values on resume.
        for g, kernel in enumerate(self.kernels):
            setattr(self, f"kernel_{g}", kernel)
        for g, bias in enumerate(self.biases or []):
            setattr(self, f"bias_{g}", bias)

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
class GeneratedWeightBounds(keras.layers.Layer):
    """Bounds a MetaNet's raw head output, one generated conv (slot) at a time.

    The last axis is a sequence of slots, slot g being `kernel_sizes[g]` kernel entries,
    then `channels[g]` scales (gamma) and `channels[g]` offsets (beta), as in
    `keras_style.models.generated_transform_net.weight_layout`. Per slot:

    * kernel: rescaled to the L2 norm `kernel_norms[g]` (every entry in
      [-norm, norm]); the scale of the input is dropped (the instance norm after the
      conv ignores it);
    * gamma: `1 + s · tanh(z / s)` with s = `scale_bound`, in (1 - s, 1 + s);
    * beta: `o · tanh(z / o)` with o = `offset_bound`, in (-o, o).

    The tanh maps have slope 1 at z = 0 (an untrained head's gamma 1 and beta 0 pass
    through unchanged) and cap the values. No weights.

    The kernel's norm is computed as `n · u / ‖u‖` with `u = z / max|z|`: the same
    value as `n · z / ‖z‖`, but ‖u‖² lies in [1, size] so it cannot overflow float16
    (TFLite float16 models), and an all-zero kernel (a head whose hidden group is all
    ReLU-dead) stays zero instead of 0 · rsqrt(0) = NaN.

    Args:
        kernel_sizes: kernel entries per slot.
        kernel_norms: the L2 norm of each slot's kernel (> 0).
        channels: gamma (and beta) entries per slot.
        scale_bound, offset_bound: s and o above (> 0).
    """

    def __init__(self, kernel_sizes, kernel_norms, channels, scale_bound=NORM_SCALE_BOUND,
                 offset_bound=NORM_OFFSET_BOUND, **kwargs):
        super().__init__(**kwargs)
        self.kernel_sizes = [int(n) for n in kernel_sizes]
        self.kernel_norms = [float(n) for n in kernel_norms]
        self.channels = [int(n) for n in channels]
        self.scale_bound = float(scale_bound)
        self.offset_bound = float(offset_bound)
        if not self.kernel_sizes or not len(self.kernel_sizes) == len(self.kernel_norms) == len(self.channels):
            raise ValueError("GeneratedWeightBounds needs one kernel size, norm and channel count per slot.")
        if min(self.kernel_norms) <= 0 or min(self.scale_bound, self.offset_bound) <= 0:
            raise ValueError("kernel norms and bounds must be positive.")

    @property
    def sizes(self):
        """Entries per slot: kernel + gamma + beta."""
        return [k + 2 * c for k, c in zip(self.kernel_sizes, self.channels)]

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        outputs = []
        for slot, kernel_size, norm, channels in zip(
            ops.split(x, np.cumsum(self.sizes)[:-1].tolist(), axis=-1),
            self.kernel_sizes, self.kernel_norms, self.channels,
        ):
            kernel, gamma, beta = ops.split(slot, [kernel_size, kernel_size + channels], axis=-1)
            largest = ops.max(ops.abs(kernel), axis=-1, keepdims=True)
            unit = kernel / ops.where(largest > 0, largest, ops.ones_like(largest))
            squares = ops.maximum(ops.sum(ops.square(unit), axis=-1, keepdims=True), 1.0)
            outputs.append(unit * (norm * ops.rsqrt(squares)))
            outputs.append(1.0 + self.scale_bound * ops.tanh(gamma / self.scale_bound))
            outputs.append(self.offset_bound * ops.tanh(beta / self.offset_bound))
        return ops.cast(ops.concatenate(outputs, axis=-1), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({
            "kernel_sizes": list(self.kernel_sizes), "kernel_norms": list(self.kernel_norms),
            "channels": list(self.channels), "scale_bound": self.scale_bound, "offset_bound": self.offset_bound,
        })
        return config


@keras.saving.register_keras_serializable(package="keras_style")
class MetaNet(FunctionalModel):
    """Style statistics → weights of a `GeneratedTransformNet(base)` (Shen et al. 2018).

    Input: float32 `(N, 1920)` style statistics (`keras_style.metanet.
    style_statistics_vector`: per-channel mean and std of VGG19 block1_conv2,
    block2_conv2, block3_conv3 and block4_conv3, i.e. relu1_2, relu2_2, relu3_3,
    relu4_3). Output: float32 `(N, P)` weight vectors, `P = num_generated_params(base)`,
    in the layout of `keras_style.models.generated_transform_net` (the
    `TransformNet.conv_layer_specs` order minus conv1 and conv_out; split with
    `split_weight_vector`). Each generated kernel has the fixed L2 norm
    `weight_norms(base)[conv]`; each norm scale lies in (-1, 3) and each norm offset
    in (-2, 2) (see the module docstring).

    Layers: "input_normalization" (per-dimension standardisation, see
    `set_statistics_normalization`), "hidden" (Dense, 14 ·
    `hidden_per_layer` units, ReLU), "hidden_groups" (reshape to (N, 14,
    hidden_per_layer)), "head_gain" (times `head_gain(hidden_per_layer)`), "heads"
    (`GroupedDense`: head l reads only group l; its bias is the part shared by every
    style and starts as a He-initialised TransformNet, its kernel starts at zero),
    "weight_bounds" (`GeneratedWeightBounds`). `call_with_raw` also returns the
    heads' output.

    Size: `1920·14h + 14h + (h + 1)·P` trainable parameters (plus 2·1920 for the input
    standardisation) for h = hidden_per_layer, P = 1620·base² + 98·base: with h = 128
    that is 16.9 M (68 MB) for base 8, 57.1 M (229 MB) for base 16 and 217.8 M (871 MB)
    for base 32: the heads dominate, growing as base².

    Args:
        base: the base of the `GeneratedTransformNet` whose weights it generates.
        hidden_per_layer: hidden units per generated conv (128 in the paper).
        **kwargs: `keras.Model` arguments such as `name` and `trainable`.
    """

    config_fields = ("base", "hidden_per_layer")

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
        # Each head output sums hidden_per_layer products, each moved about lr per Adam
        # step: the 1/sqrt(h) gain slows the style-dependent part of the weights to a
        # few times the pace of the shared part (the heads' biases); see `head_gain`.
        x = keras.layers.Rescaling(head_gain(hidden_per_layer), name="head_gain")(x)
        x = GroupedDense(
            [slot.size for slot in slots], group_names=[slot.name for slot in slots],
            # Zero-initialised style part (as DiT's adaLN-Zero): every style starts at the
            # shared He-initialised network, and the style part grows from there. Random
            # heads made each style a different random network at step 0; training then
            # learned the content ~3× slower (docs/design_notes.md).
            kernel_initializer="zeros", name="heads",
        )(x)
        outputs = GeneratedWeightBounds(
            [slot.kernel_entries for slot in slots], [norms[slot.name] for slot in slots],
            [slot.channels for slot in slots],
            name="weight_bounds",
        )(x)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.base = base
        self.hidden_per_layer = hidden_per_layer
        self.num_generated_params = num_generated_params(base)
        self._initialize_shared_weights(slots)
        # Until the trainer sets them: mean 0 and std 1 / STATISTICS_SCALE for every dimension.
        self.set_statistics_normalization(
            np.zeros(STATISTICS_DIM, np.float32), np.full(STATISTICS_DIM, 1.0 / STATISTICS_SCALE, np.float32)
        )

    def _initialize_shared_weights(self, slots):
        """Starts each head's bias, the weights shared by every style, as an ordinary
        TransformNet: He-normal kernels (norm about `weight_norms`), gamma 1, beta 0."""
        heads = self.get_layer("heads")
        for slot, bias in zip(slots, heads.biases):
            kernel = keras.initializers.HeNormal()(slot.kernel_shape)
            zeros = ops.zeros((2 * slot.channels,))
            bias.assign(ops.concatenate([ops.reshape(ops.cast(kernel, bias.dtype), (-1,)), zeros], axis=0))

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
        for name in ("input_normalization", "hidden", "hidden_groups", "head_gain", "heads"):
            x = self.get_layer(name)(x, training=training)
        return self.get_layer("weight_bounds")(x, training=training), x
