"""Nearest-neighbour upsampling that keeps the channel count static."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_style")
class NearestUpsampling2D(keras.layers.Layer):
    """Repeats each pixel `size` x `size` times (channels-last).

    Keras' `UpSampling2D(interpolation="nearest")` uses `ops.repeat`, which loses the
    static channel count when H and W are dynamic; the following conv then converts to
    TFLite only as a Flex op. Broadcasting and reshaping keeps C static, so the whole
    network converts with builtin ops (BROADCAST_TO, RESHAPE), and it runs unchanged
    under every backend (`ops.image.resize` needs a static size).
    """

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        self.size = int(size)

    def call(self, inputs):
        shape = ops.shape(inputs)
        n, h, w = shape[0], shape[1], shape[2]
        c = inputs.shape[-1]
        s = self.size
        x = ops.expand_dims(ops.expand_dims(inputs, 2), 4)  # (N, H, 1, W, 1, C)
        x = ops.broadcast_to(x, (n, h, s, w, s, c))
        return ops.reshape(x, (n, h * s, w * s, c))

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        return (n, None if h is None else h * self.size, None if w is None else w * self.size, c)

    def get_config(self):
        return {**super().get_config(), "size": self.size}
