"""A Johnson TransformNet whose inner convs take their weights from an input vector.

The network a MetaNet (Shen et al., "Neural Style Transfer via Meta Networks", CVPR
2018) drives: `keras_style.models.MetaNet` turns a style's VGG statistics into one flat
vector holding the weights of every *generated* conv, and `GeneratedTransformNet`
runs with them. This module also defines that vector's layout, which both models
share:

* the generated convs are every conv of `transform_graph.conv_layer_specs(base)` except
  the first (`conv1`) and the last (`conv_out`), which are ordinary weights shared by
  all styles: `conv2, conv3, res1_conv1, res1_conv2, ..., res5_conv2, up1_conv,
  up2_conv` (14 layers);
* in that order, each contributes its kernel flattened in C (row-major) order of its
  `(kernel_size, kernel_size, in_channels, out_channels)` shape (the layout of a
  `keras.layers.Conv2D` kernel), then the scale (gamma) and then the offset (beta)
  of the instance norm that follows it, `out_channels` values each.

Why the norms' gamma and beta and not a conv bias: each generated conv feeds an
instance norm, which subtracts the per-channel mean, so a conv bias would be cancelled;
the norm's affine is where a layer's "bias" acts. It is also where a style's colours and
contrast live (conditional instance norm, Dumoulin et al. 2017): with shared norms a
2800-step MetaNet produced the same grey-yellow palette for every style (see
saved_models/README.md).

A `TransformNet(base)` has `1620 * base**2 + 98 * base` generated parameters (26,312
for base 4, 104,464 for base 8, 1,662,016 for base 32).
"""

from __future__ import annotations

import collections
import numbers

import keras
import numpy as np
from keras import ops

from keras_style.errors import StyleError
from keras_style.layers.conditional_instance_normalization import ConditionalInstanceNormalization
from keras_style.layers.input_kernel_conv2d import InputKernelConv2D
from keras_style.models import transform_graph
from keras_style.models.base import FunctionalModel
from keras_style.models.transform_net import TransformNet

# Convs of a TransformNet that keep ordinary, style-independent weights.
SHARED_CONVS = ("conv1", "conv_out")

class WeightSlot(collections.namedtuple("WeightSlot", ["name", "offset", "size", "kernel_shape", "stride", "channels"])):
    """Where one generated conv's weights lie in the flat weight vector.

    `vector[offset:offset + size]` holds the kernel (C order, shape `kernel_shape`), then
    the following instance norm's gamma and beta (`channels` values each, `channels` being
    the conv's output channels); `size = kernel_entries + 2 * channels`."""

    __slots__ = ()

    @property
    def kernel_entries(self) -> int:
        """Number of kernel values, `prod(kernel_shape)` (gamma starts at this offset in the slot)."""
        return int(np.prod(self.kernel_shape))


def _check_base(base):
    if isinstance(base, bool) or not isinstance(base, numbers.Integral) or base < 1:
        raise StyleError(f"base must be a positive integer; got {base!r}.")
    return int(base)


def generated_conv_specs(base=8):
    """The `transform_graph.conv_layer_specs(base)` entries whose kernels are generated,
    in weight-vector order: every conv except `conv1` and `conv_out`."""
    base = _check_base(base)
    return [spec for spec in transform_graph.conv_layer_specs(base) if spec.name not in SHARED_CONVS]


def weight_layout(base=8):
    """`WeightSlot`s of the generated convs of a `TransformNet(base)`, in vector order."""
    slots = []
    offset = 0
    for name, kernel_size, in_channels, out_channels, stride in generated_conv_specs(base):
        kernel_shape = (kernel_size, kernel_size, in_channels, out_channels)
        size = int(np.prod(kernel_shape)) + 2 * out_channels
        slots.append(WeightSlot(name, offset, size, kernel_shape, stride, out_channels))
        offset += size
    return slots


def num_generated_params(base=8) -> int:
    """Length P of the weight vector for `TransformNet(base)` (1620 * base**2 + 98 * base)."""
    slots = weight_layout(base)
    return slots[-1].offset + slots[-1].size


def split_weight_vector(weight_vector, base=8) -> dict:
    """Splits a weight vector of shape (P,) or (1, P) into per-layer weights.

    Returns `{conv name: (kernel, gamma, beta)}` as numpy arrays, in weight-vector
    order: the conv's kernel (`keras.layers.Conv2D` layout) and its instance norm's
    scale and offset (`InstanceNormalization.set_weights` order).
    """
    vector = np.asarray(keras.ops.convert_to_numpy(weight_vector))
    expected = num_generated_params(base)
    if vector.ndim == 2 and vector.shape[0] == 1:
        vector = vector[0]
    if vector.shape != (expected,):
        raise StyleError(
            f"a base-{base} weight vector has shape ({expected},) or (1, {expected}); got {vector.shape}"
        )
    weights = {}
    for slot in weight_layout(base):
        chunk = vector[slot.offset: slot.offset + slot.size]
        k = slot.kernel_entries
        kernel = chunk[:k].reshape(slot.kernel_shape)
        gamma = chunk[k: k + slot.channels]
        beta = chunk[k + slot.channels:]
        weights[slot.name] = (kernel, gamma, beta)
    return weights


@keras.saving.register_keras_serializable(package="keras_style")
class WeightVectorSlice(keras.layers.Layer):
    """Cuts one tensor (e.g. a conv kernel) out of a flat weight vector.

    Called on a weight vector of shape `(1, P)` or `(P,)`; returns
    `vector[offset:offset + prod(shape)]` reshaped (C order) to `shape`. With a
    `(B, P)` input only the first row is used (one style per batch).

    Args:
        offset: start index in the vector.
        shape: shape of the result, e.g. a kernel's `(kh, kw, C_in, C_out)`.
    """

    def __init__(self, offset, shape, **kwargs):
        super().__init__(**kwargs)
        self.offset = int(offset)
        self.target_shape = tuple(int(d) for d in shape)
        self.size = int(np.prod(self.target_shape))

    def call(self, weights):
        if len(weights.shape) == 2:
            weights = weights[0]
        return ops.reshape(weights[self.offset: self.offset + self.size], self.target_shape)

    def compute_output_shape(self, input_shape):
        return self.target_shape

    def get_config(self):
        config = super().get_config()
        config.update({"offset": self.offset, "shape": list(self.target_shape)})
        return config


@keras.saving.register_keras_serializable(package="keras_style")
class GeneratedTransformNet(FunctionalModel):
    """`TransformNet(base)` whose inner convs take their kernels from an input vector.

    The graph of `keras_style.models.TransformNet` (`transform_graph.transform_graph`
    with a conv and a norm factory of its own: rescale to [-1, 1], reflect-pad to
    a multiple of 4 (at least 8), reflection padding before every conv, instance
    norms, 5 residual blocks, nearest x2 upsampling, `127.5 * (1 + tanh)` output,
    crop back), with the same layer names, but the 14 convs listed by
    `generated_conv_specs(base)` are `InputKernelConv2D` layers fed by
    `WeightVectorSlice` layers (named `<conv>_kernel`) of the weight input, and their
    instance norms are `ConditionalInstanceNormalization` layers whose gamma and beta
    are slices too (`<conv>_gamma`, `<conv>_beta`). `conv1`, its norm and `conv_out`
    are ordinary layers with weights: these are the style-independent weights a
    MetaNet trains alongside itself.

    Inputs: `[images, weights]`:
      * images: float32 `(N, H, W, 3)` RGB in [0, 255], any `H, W >= 1`;
      * weights: float32 `(1, P)` or `(P,)`, `P = num_generated_params(base)`, laid
        out as described in this module's docstring (a `MetaNet`'s output). One
        style per batch: all N images use these kernels (of a `(B, P)` input only
        row 0 is used).

    Output: float32 `(N, H, W, 3)` in (0, 255). `to_transform_net` turns a
    (network, weight vector) pair into an ordinary `TransformNet`.

    Args:
        base: int, channels of the first conv (as `TransformNet`'s base).
        **kwargs: `keras.Model` arguments such as `name` and `trainable`.
    """

    config_fields = ("base",)

    def __init__(self, base=8, **kwargs):
        base = _check_base(base)
        slots = {slot.name: slot for slot in weight_layout(base)}
        num_params = num_generated_params(base)

        images = keras.Input(shape=(None, None, 3), name="image")
        weights = keras.Input(shape=(num_params,), name="weights")

        def conv(x, spec, use_bias):
            """A generated conv reads its kernel from `weights`; conv1 and conv_out are ordinary."""
            slot = slots.get(spec.name)
            if slot is None:
                return transform_graph.standard_conv(x, spec, use_bias)
            kernel = WeightVectorSlice(slot.offset, slot.kernel_shape, name=f"{spec.name}_kernel")(weights)
            return InputKernelConv2D(strides=spec.stride, padding="valid", name=spec.name)([x, kernel])

        def norm(x, spec):
            """A generated conv's norm reads gamma and beta from `weights`; conv1's has its own."""
            slot = slots.get(spec.name)
            if slot is None:
                return transform_graph.instance_norm(x, spec)
            gamma_offset = slot.offset + slot.kernel_entries
            gamma = WeightVectorSlice(gamma_offset, (slot.channels,), name=f"{spec.name}_gamma")(weights)
            beta = WeightVectorSlice(gamma_offset + slot.channels, (slot.channels,), name=f"{spec.name}_beta")(weights)
            return ConditionalInstanceNormalization(name=f"{spec.name}_norm")([x, gamma, beta])

        outputs = transform_graph.transform_graph(images, base, conv_fn=conv, norm_fn=norm)
        super().__init__(inputs=[images, weights], outputs=outputs, **kwargs)
        self.base = base
        self.num_generated_params = num_params

    def call(self, inputs, training=None, mask=None):
        # A (P,) weight vector is accepted as (1, P).
        images, weights = inputs
        if len(weights.shape) == 1:
            weights = ops.expand_dims(weights, 0)
        return super().call([images, weights], training=training, mask=mask)


def to_transform_net(generated_net: GeneratedTransformNet, weight_vector, name=None) -> TransformNet:
    """A standalone `TransformNet` equal to `generated_net` run with `weight_vector`.

    Builds `TransformNet(generated_net.base)` and copies into it: `conv1`, its norm and
    `conv_out` from `generated_net`, and each generated conv's kernel and its norm's
    gamma and beta from `weight_vector` ((P,) or (1, P)). The result needs no weight input, so
    it exports, converts and serves like any fast-style model.

    Raises:
      StyleError: the vector does not fit the network's base.
    """
    base = generated_net.base
    per_layer = split_weight_vector(weight_vector, base)
    net = TransformNet(base=base, name=name or "transform_net")
    for conv_name, *_ in TransformNet.conv_layer_specs(base):
        if conv_name in per_layer:
            kernel, gamma, beta = per_layer[conv_name]
            net.get_layer(conv_name).set_weights([kernel])
            net.get_layer(f"{conv_name}_norm").set_weights([gamma, beta])
            continue
        net.get_layer(conv_name).set_weights(generated_net.get_layer(conv_name).get_weights())
        if conv_name != "conv_out":
            norm = f"{conv_name}_norm"
            net.get_layer(norm).set_weights(generated_net.get_layer(norm).get_weights())
    return net
