"""Instance normalisation with float32 statistics."""

import keras
from keras import ops


def instance_normalize(inputs, epsilon):
    """`(x - mean) / sqrt(var + epsilon)` per sample and channel over the spatial
    axes (every axis but the first and last), computed and returned in float32."""
    x = ops.cast(inputs, "float32")
    axes = list(range(1, len(x.shape) - 1))
    mean = ops.mean(x, axis=axes, keepdims=True)
    # Two-pass variance: E[(x - mean)^2] avoids the cancellation of
    # E[x^2] - mean^2 for large, nearly constant activations.
    variance = ops.mean(ops.square(x - mean), axis=axes, keepdims=True)
    return (x - mean) * ops.rsqrt(variance + epsilon)


@keras.saving.register_keras_serializable(package="keras_style")
class InstanceNormalization(keras.layers.Layer):
    """Per-sample, per-channel normalisation over the spatial axes.

    For channels-last input of shape `(N, H, W, C)` each sample's channel is
    normalised with its own mean and variance over `H` and `W`, then scaled by
    `gamma` and shifted by `beta` (both of shape `(C,)`), as in Ulyanov et al.
    2016. Input of any rank >= 3 is accepted; every axis except the first
    (batch) and the last (channels) is treated as spatial.

    Statistics are always computed in float32, whatever the layer's compute
    dtype: under `mixed_float16` the squares of activations of a few hundred
    overflow float16, and the layer would otherwise silently output zeros.
    The result is cast back to the compute dtype.

    Args:
        epsilon: small float added to the variance to avoid dividing by zero.
        center: if True, add the learned offset `beta` (initialised to zeros).
        scale: if True, multiply by the learned scale `gamma` (initialised to
            ones).
        **kwargs: base layer arguments (`name`, `dtype`, `trainable`, ...).
    """

    def __init__(self, epsilon=1e-5, center=True, scale=True, **kwargs):
        super().__init__(**kwargs)
        # gamma/beta are applied in float32; autocasting would round them to
        # float16 first under a mixed policy.
        self.autocast = False
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)

    def build(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(
                "InstanceNormalization expects input of rank >= 3 "
                f"(batch, spatial..., channels); got shape {input_shape}."
            )
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(
                "InstanceNormalization needs a known channel (last) dimension; "
                f"got shape {input_shape}."
            )
        self.gamma = None
        self.beta = None
        if self.scale:
            self.gamma = self.add_weight(
                name="gamma", shape=(channels,), initializer="ones"
            )
        if self.center:
            self.beta = self.add_weight(
                name="beta", shape=(channels,), initializer="zeros"
            )

    def call(self, inputs):
        y = instance_normalize(inputs, self.epsilon)
        if self.gamma is not None:
            y = y * ops.cast(self.gamma, "float32")
        if self.beta is not None:
            y = y + ops.cast(self.beta, "float32")
        return ops.cast(y, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {"epsilon": self.epsilon, "center": self.center, "scale": self.scale}
        )
        return config
