"""Johnson et al. (2016) fast style transfer network."""

import numbers

import keras

from keras_style.errors import StyleError
from keras_style.layers.crop_to_reference import CropToReference
from keras_style.layers.instance_normalization import InstanceNormalization
from keras_style.layers.nearest_upsampling import NearestUpsampling2D
from keras_style.layers.pad_to_multiple import PadToMultiple
from keras_style.layers.reflection_padding import ReflectionPadding2D
from keras_style.models.base import FunctionalModel

NUM_RESIDUAL_BLOCKS = 5
# Two stride-2 convs: padded sizes must be multiples of 4 so the upsampled
# output lines up exactly with the input.
_SIZE_MULTIPLE = 4
# The residual blocks run at 1/4 scale and reflect-pad by 1, which needs at
# least 2 pixels there, so images smaller than 8 are padded up to 8.
_MIN_SIZE = 8


@keras.saving.register_keras_serializable(package="keras_style")
class TransformNet(FunctionalModel):
    """Image transformation network of Johnson et al., "Perceptual Losses for
    Real-Time Style Transfer and Super-Resolution" (2016), with instance
    normalisation (Ulyanov et al. 2016) and reflection padding.

    Input: float32 RGB images of shape `(N, H, W, 3)` with values in
    `[0, 255]`, any `H, W >= 1`. Output: float32 RGB images of the same shape
    with values in `(0, 255)` (`127.5 * (1 + tanh(x))`).

    Inside the graph the input is rescaled to `[-1, 1]`, reflect-padded at the
    bottom/right to a multiple of 4 (at least 8), and the output is cropped
    back, so any image size works and output size equals input size.

    Architecture (`b = base`): conv 9x9 b; conv 3x3 2b stride 2; conv 3x3 4b
    stride 2; 5 residual blocks at 4b; two stages of nearest x2 upsampling +
    conv 3x3 (2b, then b); conv 9x9 to 3 channels. Every conv is preceded by
    reflection padding and, except the last, followed by instance norm (and
    ReLU outside the residual branch ends). The convs are named as listed by
    `conv_layer_specs()`; each is followed by an `InstanceNormalization` named
    `<conv name>_norm`, except `conv_out`, the only conv with a bias.

    Supports mixed precision (`keras.mixed_precision.set_dtype_policy(
    "mixed_float16")` before construction): instance-norm statistics are taken
    in float32 and the output layers run in float32.

    Args:
        base: int, number of channels of the first conv (32 in the paper).
        **kwargs: `keras.Model` arguments such as `name` and `trainable`.
    """

    config_fields = ("base",)

    def __init__(self, base=32, **kwargs):
        if isinstance(base, bool) or not isinstance(base, numbers.Integral) or base < 1:
            raise StyleError(f"TransformNet base must be a positive integer; got {base!r}.")
        base = int(base)
        specs = {spec[0]: spec for spec in self.conv_layer_specs(base)}
        used = []

        def conv(x, name, norm=True, relu=True):
            """Reflect-pad + conv (+ IN (+ ReLU)) built from `specs[name]`."""
            _, kernel_size, in_channels, out_channels, stride = specs[name]
            if x.shape[-1] != in_channels:
                raise AssertionError(f"{name}: spec expects {in_channels} input channels")
            used.append(name)
            x = ReflectionPadding2D(kernel_size // 2, name=f"{name}_pad")(x)
            x = keras.layers.Conv2D(
                out_channels,
                kernel_size,
                strides=stride,
                padding="valid",
                # A bias before instance norm is cancelled by its mean
                # subtraction, so only the final conv keeps one.
                use_bias=not norm,
                name=name,
            )(x)
            if norm:
                x = InstanceNormalization(name=f"{name}_norm")(x)
            if relu:
                x = keras.layers.ReLU(name=f"{name}_relu")(x)
            return x

        inputs = keras.Input(shape=(None, None, 3), name="image")
        x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="rescale")(inputs)
        x = PadToMultiple(_SIZE_MULTIPLE, min_size=_MIN_SIZE, name="pad_to_multiple")(x)
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
        outputs = CropToReference(dtype="float32", name="crop_to_input")([x, inputs])
        if used != list(specs):
            raise AssertionError(f"graph convs {used} differ from conv_layer_specs")

        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.base = base

    @staticmethod
    def conv_layer_specs(base=32):
        """Every conv of a `TransformNet(base)`, in graph order.

        Returns a list of `(name, kernel_size, in_channels, out_channels,
        stride)` tuples. The network builds itself from this list, so code that
        generates conv weights (e.g. a MetaNet) can rely on it. Kernels have
        shape `(kernel_size, kernel_size, in_channels, out_channels)`; only
        `conv_out` has a bias (shape `(3,)`), the others feed instance norms.
        """
        b = base
        specs = [
            ("conv1", 9, 3, b, 1),
            ("conv2", 3, b, 2 * b, 2),
            ("conv3", 3, 2 * b, 4 * b, 2),
        ]
        for i in range(1, NUM_RESIDUAL_BLOCKS + 1):
            specs.append((f"res{i}_conv1", 3, 4 * b, 4 * b, 1))
            specs.append((f"res{i}_conv2", 3, 4 * b, 4 * b, 1))
        specs += [
            ("up1_conv", 3, 4 * b, 2 * b, 1),
            ("up2_conv", 3, 2 * b, b, 1),
            ("conv_out", 9, b, 3, 1),
        ]
        return specs
