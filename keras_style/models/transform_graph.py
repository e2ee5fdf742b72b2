"""The Johnson et al. (2016) transformation graph, built once for every network that uses it.

`transform_graph(images, base, conv_fn=..., norm_fn=...)` lays out the layers; the conv
layer and the normalisation are parameters (as Magenta's `nza_model.transform` takes its
`normalizer_fn`). `TransformNet` uses the defaults (`standard_conv`, `instance_norm`);
`GeneratedTransformNet` passes factories whose inner convs and norms read their weights
from an input vector. Both networks therefore have the same layers, names and order.
"""

from __future__ import annotations

import collections

import keras

from keras_style.layers.crop_to_reference import CropToReference
from keras_style.layers.instance_normalization import InstanceNormalization
from keras_style.layers.nearest_upsampling import NearestUpsampling2D
from keras_style.layers.pad_to_multiple import PadToMultiple
from keras_style.layers.reflection_padding import ReflectionPadding2D

NUM_RESIDUAL_BLOCKS = 5
# Two stride-2 convs: padded sizes must be multiples of 4 so the upsampled
# output lines up exactly with the input.
SIZE_MULTIPLE = 4
# The residual blocks run at 1/4 scale and reflect-pad by 1, which needs at
# least 2 pixels there, so images smaller than 8 are padded up to 8.
MIN_SIZE = 8


class ConvSpec(collections.namedtuple("ConvSpec", ["name", "kernel_size", "in_channels", "out_channels", "stride"])):
    """One conv of the graph; a tuple `(name, kernel_size, in_channels, out_channels, stride)`."""

    __slots__ = ()


def conv_layer_specs(base=32):
    """Every conv of the graph for `base`, in graph order, as `ConvSpec`s.

    Kernels have shape `(kernel_size, kernel_size, in_channels, out_channels)`; only
    `conv_out` has a bias (shape `(3,)`), the others feed instance norms.
    """
    b = base
    specs = [
        ConvSpec("conv1", 9, 3, b, 1),
        ConvSpec("conv2", 3, b, 2 * b, 2),
        ConvSpec("conv3", 3, 2 * b, 4 * b, 2),
    ]
    for i in range(1, NUM_RESIDUAL_BLOCKS + 1):
        specs.append(ConvSpec(f"res{i}_conv1", 3, 4 * b, 4 * b, 1))
        specs.append(ConvSpec(f"res{i}_conv2", 3, 4 * b, 4 * b, 1))
    specs += [
        ConvSpec("up1_conv", 3, 4 * b, 2 * b, 1),
        ConvSpec("up2_conv", 3, 2 * b, b, 1),
        ConvSpec("conv_out", 9, b, 3, 1),
    ]
    return specs


def standard_conv(x, spec, use_bias):
    """A `keras.layers.Conv2D` named `spec.name` ('valid' padding: the graph reflect-pads)."""
    return keras.layers.Conv2D(
        spec.out_channels, spec.kernel_size, strides=spec.stride, padding="valid", use_bias=use_bias,
        name=spec.name,
    )(x)


def instance_norm(x, spec):
    """An `InstanceNormalization` named `<spec.name>_norm`, with its own gamma and beta."""
    return InstanceNormalization(name=f"{spec.name}_norm")(x)


def transform_graph(images, base, conv_fn=standard_conv, norm_fn=instance_norm):
    """The image transformation graph of Johnson et al. on `images`; returns its output.

    Rescale to [-1, 1]; reflect-pad bottom/right to a multiple of `SIZE_MULTIPLE` (at
    least `MIN_SIZE`); conv1..conv3; `NUM_RESIDUAL_BLOCKS` residual blocks; two stages
    of nearest x2 upsampling + conv; conv_out; `127.5 * (1 + tanh)` in float32; crop
    back to the input's size. Every conv is preceded by a `ReflectionPadding2D`
    (`<conv>_pad`) and, except `conv_out`, followed by a norm and (outside the residual
    branch ends) a ReLU (`<conv>_relu`).

    Args:
      images: a `(N, H, W, 3)` Keras tensor, RGB in [0, 255].
      base: channels of conv1 (see `conv_layer_specs`).
      conv_fn: `conv_fn(x, spec, use_bias)` -> the conv `spec` (a `ConvSpec`) applied to
        the padded `x` with 'valid' padding, its layer named `spec.name`. `use_bias` is
        True only for `conv_out`: a bias before an instance norm is cancelled by its
        mean subtraction.
      norm_fn: `norm_fn(x, spec)` -> the normalisation after conv `spec`, its layer
        named `<spec.name>_norm`.
    """
    specs = {spec.name: spec for spec in conv_layer_specs(base)}
    used = []

    def conv(x, name, norm=True, relu=True):
        spec = specs[name]
        if x.shape[-1] != spec.in_channels:
            raise AssertionError(f"{name}: spec expects {spec.in_channels} input channels")
        used.append(name)
        x = ReflectionPadding2D(spec.kernel_size // 2, name=f"{name}_pad")(x)
        x = conv_fn(x, spec, not norm)
        if norm:
            x = norm_fn(x, spec)
        if relu:
            x = keras.layers.ReLU(name=f"{name}_relu")(x)
        return x

    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="rescale")(images)
    x = PadToMultiple(SIZE_MULTIPLE, min_size=MIN_SIZE, name="pad_to_multiple")(x)
    x = conv(x, "conv1")
    x = conv(x, "conv2")
    x = conv(x, "conv3")
    for i in range(1, NUM_RESIDUAL_BLOCKS + 1):
        y = conv(x, f"res{i}_conv1")
        y = conv(y, f"res{i}_conv2", relu=False)
        x = keras.layers.Add(name=f"res{i}_add")([x, y])
    for i in (1, 2):
        x = NearestUpsampling2D(2, name=f"up{i}_upsample")(x)
        x = conv(x, f"up{i}_conv")
    x = conv(x, "conv_out", norm=False, relu=False)
    # Output layers in float32: tanh and the [0, 255] scale need the
    # precision, and callers (losses, image writers) get float32.
    x = keras.layers.Activation("tanh", dtype="float32", name="output_tanh")(x)
    x = keras.layers.Rescaling(127.5, offset=127.5, dtype="float32", name="output_scale")(x)
    outputs = CropToReference(dtype="float32", name="crop_to_input")([x, images])
    if used != list(specs):
        raise AssertionError(f"graph convs {used} differ from conv_layer_specs")
    return outputs
