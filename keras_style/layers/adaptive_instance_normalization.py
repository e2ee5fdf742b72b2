"""Adaptive instance normalisation (AdaIN) with float32 statistics."""

import keras
from keras import ops

from keras_style.layers.instance_normalization import instance_normalize


@keras.saving.register_keras_serializable(package="keras_style")
class AdaptiveInstanceNormalization(keras.layers.Layer):
    """AdaIN of Huang & Belongie, "Arbitrary Style Transfer in Real-time with
    Adaptive Instance Normalization" (ICCV 2017).

    Called as `layer([content_features, style_mean, style_std])` with
    channels-last features of shape `(N, H, W, C)` and style statistics of
    shape `(N, C)` (or `(1, C)` / `(C,)`, broadcast over the batch). Returns

        style_std * (content - mu_c) / sigma_c + style_mean,

    where `mu_c` and `sigma_c = sqrt(var_c + epsilon)` are the per-sample,
    per-channel mean and standard deviation of `content_features` over H and
    W. The output has (up to the epsilon) the style's channel means and
    standard deviations and the content's spatial structure. It has no
    weights.

    Statistics and the affine map are always computed in float32, whatever
    the layer's compute dtype: VGG relu4_1 activations of [0, 255] images are
    in the hundreds to thousands, and their squares overflow float16 (under
    `mixed_float16` the normalised features would silently become zeros or
    NaN). The result is cast to the compute dtype.

    Args:
        epsilon: added to the content variance before the square root (default
            1e-5, as in the paper's code; it matters only for nearly constant
            channels). `keras_style.losses.mean_std` uses the
            same convention for style statistics.
        **kwargs: base layer arguments (`name`, `dtype`, ...).
    """

    def __init__(self, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        # Inputs are cast to float32 explicitly; autocasting would first round
        # them (and the style statistics) to float16 under a mixed policy.
        self.autocast = False
        self.epsilon = float(epsilon)

    def call(self, inputs):
        content, style_mean, style_std = inputs
        style_mean = ops.cast(style_mean, "float32")
        style_std = ops.cast(style_std, "float32")
        # (N, C) -> (N, 1, 1, C); (C,) broadcasts as it is.
        if len(style_mean.shape) == 2:
            style_mean = style_mean[:, None, None, :]
        if len(style_std.shape) == 2:
            style_std = style_std[:, None, None, :]
        stylized = instance_normalize(content, self.epsilon, scale=style_std, offset=style_mean)
        return ops.cast(stylized, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        config = super().get_config()
        config.update({"epsilon": self.epsilon})
        return config
