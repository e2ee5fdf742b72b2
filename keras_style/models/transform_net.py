"""Johnson et al. (2016) fast style transfer network."""

import numbers

import keras

from keras_style.errors import StyleError
from keras_style.models import transform_graph
from keras_style.models.base import FunctionalModel


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
    `<conv name>_norm`, except `conv_out`, the only conv with a bias. The graph
    is `keras_style.models.transform_graph.transform_graph` with its default
    conv and norm, the graph `GeneratedTransformNet` shares.

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
        inputs = keras.Input(shape=(None, None, 3), name="image")
        outputs = transform_graph.transform_graph(inputs, base)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.base = base

    @staticmethod
    def conv_layer_specs(base=32):
        """Every conv of a `TransformNet(base)`, in graph order.

        Returns a list of `(name, kernel_size, in_channels, out_channels,
        stride)` tuples (`transform_graph.ConvSpec`). The network builds itself from this list, so code that
        generates conv weights (e.g. a MetaNet) can rely on it. Kernels have
        shape `(kernel_size, kernel_size, in_channels, out_channels)`; only
        `conv_out` has a bias (shape `(3,)`), the others feed instance norms.
        """
        return transform_graph.conv_layer_specs(base)
