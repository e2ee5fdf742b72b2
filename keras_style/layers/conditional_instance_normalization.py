"""Instance normalisation whose scale and offset are inputs, not weights."""

import keras

from keras_style.layers.adaptive_instance_normalization import AdaptiveInstanceNormalization


@keras.saving.register_keras_serializable(package="keras_style")
class ConditionalInstanceNormalization(AdaptiveInstanceNormalization):
    """Instance norm with a per-call `gamma` and `beta` (Dumoulin et al. 2017).

    Called as `layer([x, gamma, beta])` with `x` of shape `(N, ..., C)` and
    `gamma`, `beta` of shape `(C,)`: normalises each sample's channels over the
    spatial axes as `InstanceNormalization` does (float32 statistics), then returns
    `gamma * x_hat + beta`. One `gamma`/`beta` pair serves the whole batch: in a
    `GeneratedTransformNet` they come from the style's generated weight vector
    (one style per batch). The layer has no weights. It is AdaIN with the scale and
    offset given instead of measured on a style, hence the subclass.

    Args:
        epsilon: small float added to the variance to avoid dividing by zero.
        **kwargs: base layer arguments (`name`, `dtype`, ...).
    """

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError("ConditionalInstanceNormalization is called on [x, gamma, beta].")
        x_shape, gamma_shape, beta_shape = input_shape
        if len(x_shape) < 3 or x_shape[-1] is None:
            raise ValueError(f"x must have rank >= 3 and known channels; got {x_shape}.")
        for what, shape in (("gamma", gamma_shape), ("beta", beta_shape)):
            if tuple(shape) != (x_shape[-1],):
                raise ValueError(f"{what} must have shape ({x_shape[-1]},); got {tuple(shape)}.")

    def call(self, inputs):
        x, gamma, beta = inputs
        # AdaIN's affine map with the generated scale and offset for the style's std and mean.
        return super().call([x, beta, gamma])
