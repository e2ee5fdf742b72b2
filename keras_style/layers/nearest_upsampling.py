"""Nearest-neighbour upsampling that keeps the channel count static."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_style")
class NearestUpsampling2D(keras.layers.Layer):
    """Repeats each pixel `size` x `size` times (channels-last).

    Keras' `UpSampling2D(interpolation="nearest")` uses `ops.repeat`, which loses the
    static channel count when H and W are dynamic; the following conv then converts to
    TFLite only as a Flex op. Here each pixel is repeated by concatenating the tensor
    with itself along channels (then a reshape spreads the copies along W) and each
    row by concatenating along W (then a reshape spreads them along H): C stays
    static, the network converts with builtin ops (CONCATENATION, RESHAPE), and it
    runs unchanged under every backend (`ops.image.resize` needs a static size).
    A broadcast-and-reshape version converted to BROADCAST_TO, which the XNNPACK
    delegate does not run; this one made a 1024² TransformNet run ~10% faster.

    Under the TensorFlow backend (what SavedModels and `.tflite` files are exported
    from) the copies along channels go through `tf.nn.depth_to_space` instead: the same
    values, but TFLite's DEPTH_TO_SPACE runs inside XNNPACK, whereas the RESHAPEs above
    take their shape from the input's run-time size, which XNNPACK does not accept, so
    every upsampling split the delegated graph (and TFLite's arena then held its four
    full-size tensors: ~0.3 GB at 1024² in a TransformNet, ~1 GB in the AdaIN decoder).
    """

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        self.size = int(size)

    def call(self, inputs):
        s = self.size
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            from keras_style.layers.reflection_padding import concatenate

            # Channel block (i * s + j) of depth_to_space's input becomes pixel (i, j)
            # of each s x s output block; all s*s blocks are the input itself.
            return tf.nn.depth_to_space(concatenate([inputs] * (s * s), axis=-1), s)
        shape = ops.shape(inputs)
        n, h, w = shape[0], shape[1], shape[2]
        c = inputs.shape[-1]
        x = ops.concatenate([inputs] * s, axis=-1)  # (N, H, W, s*C): each pixel s times
        x = ops.reshape(x, (n, h, w * s, c))  # the copies side by side along W
        x = ops.concatenate([x] * s, axis=2)  # (N, H, s*W*s, C): each row s times
        return ops.reshape(x, (n, h * s, w * s, c))  # the row copies one under another

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        return (n, None if h is None else h * self.size, None if w is None else w * self.size, c)

    def get_config(self):
        return {**super().get_config(), "size": self.size}
