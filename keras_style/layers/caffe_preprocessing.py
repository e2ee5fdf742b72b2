"""Caffe-style VGG input preprocessing as a layer."""

import keras
from keras import ops

# ImageNet channel means in BGR order, as the Caffe VGG models were trained.
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="keras_style")
class CaffePreprocessing(keras.layers.Layer):
    """RGB in [0, 255] -> BGR minus the ImageNet mean, the input the VGG weights expect.

    The VGG weights were converted from Caffe: feeding [0, 1] RGB (a common bug in
    style-transfer code) silently gives weak, wrong features.
    """

    def call(self, inputs):
        bgr = ops.flip(inputs, axis=-1)
        mean = ops.convert_to_tensor(CAFFE_BGR_MEAN, dtype=bgr.dtype)
        return bgr - mean

    def compute_output_shape(self, input_shape):
        return input_shape
