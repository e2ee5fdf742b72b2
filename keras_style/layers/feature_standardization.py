"""Per-feature standardisation with fixed (data-derived, non-trainable) statistics."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_style")
class FeatureStandardization(keras.layers.Layer):
    """`(x - mean) * inv_std` over the last axis, with non-trainable `mean` and `inv_std`.

    Like `keras.layers.Normalization`, but the call reads the two variables directly,
    so values set or restored after tracing (a checkpoint restore, `set_weights`) are
    the ones used; Keras' layer bakes its statistics into constants in
    `finalize_state`. Starts as the identity (mean 0, inv_std 1); set the statistics
    with `set_statistics` (or `set_weights([mean, inv_std])`).
    """

    def build(self, input_shape):
        dim = input_shape[-1]
        if dim is None:
            raise ValueError(f"FeatureStandardization needs a known last dimension; got {input_shape}.")
        self.mean = self.add_weight(name="mean", shape=(dim,), initializer="zeros", trainable=False)
        self.inv_std = self.add_weight(name="inv_std", shape=(dim,), initializer="ones", trainable=False)

    def set_statistics(self, mean, std):
        """Sets the per-feature mean and standard deviation (std must be > 0)."""
        self.mean.assign(ops.convert_to_tensor(mean, "float32"))
        self.inv_std.assign(1.0 / ops.convert_to_tensor(std, "float32"))

    def call(self, inputs):
        return (ops.cast(inputs, self.compute_dtype) - ops.cast(self.mean, self.compute_dtype)) * ops.cast(
            self.inv_std, self.compute_dtype
        )

    def compute_output_shape(self, input_shape):
        return input_shape
