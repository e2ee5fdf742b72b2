"""Crops images back to the size of a reference tensor."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_style")
class CropToReference(keras.layers.Layer):
    """Crops `x` to the height and width of `reference`.

    Called as `layer([x, reference])` on channels-last tensors; returns
    `x[:, :H_ref, :W_ref, :]`, keeping the top-left corner. Undoes
    `PadToMultiple`, which pads at the bottom and right. Works with dynamic
    shapes.
    """

    def call(self, inputs):
        x, reference = inputs
        ref_shape = ops.shape(reference)
        return x[:, : ref_shape[1], : ref_shape[2], :]

    def compute_output_shape(self, input_shape):
        x_shape, ref_shape = input_shape
        return (x_shape[0], ref_shape[1], ref_shape[2], x_shape[3])
