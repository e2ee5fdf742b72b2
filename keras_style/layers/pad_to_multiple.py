"""Reflect-pads images so their size is a multiple of a number."""

import keras
from keras import ops


def _reflect_indices(size, target):
    """Indices `0..target-1` folded back into `[0, size)` by reflection.

    Equals the index pattern of `np.pad(mode="reflect")` for any pad length,
    including pads longer than the axis and axes of length 1, which
    `ops.pad(mode="reflect")` rejects. `size` and `target` may be Python ints
    or scalar tensors (dynamic shapes under `tf.function`).
    """
    period = ops.maximum(2 * size - 2, 1)
    idx = ops.mod(ops.arange(target, dtype="int32"), period)
    return ops.where(idx < size, idx, period - idx)


@keras.saving.register_keras_serializable(package="keras_style")
class PadToMultiple(keras.layers.Layer):
    """Reflect-pads the bottom and right of `(N, H, W, C)` images.

    After padding, height and width are the smallest multiples of `multiple`
    that are also at least `min_size`. Works with unknown (dynamic) spatial
    sizes. Pair with `CropToReference` to get the original size back.

    Args:
        multiple: positive int; padded H and W are multiples of it.
        min_size: int; padded H and W are at least this (rounded up to a
            multiple). Lets networks whose innermost feature maps need a few
            pixels accept images as small as 1x1.
        **kwargs: base layer arguments (`name`, `dtype`, ...).
    """

    def __init__(self, multiple=4, min_size=1, **kwargs):
        super().__init__(**kwargs)
        if int(multiple) < 1:
            raise ValueError(f"multiple must be >= 1; got {multiple}.")
        self.multiple = int(multiple)
        self.min_size = int(min_size)

    def _target(self, size):
        """Padded length for `size`, an int or (under TF) a scalar tensor."""
        floor = -(-self.min_size // self.multiple) * self.multiple
        if isinstance(size, int):
            return max(size + (-size) % self.multiple, floor)
        return ops.maximum(size + ops.mod(-size, self.multiple), floor)

    def call(self, inputs):
        shape = ops.shape(inputs)
        h, w = shape[1], shape[2]
        x = ops.take(inputs, _reflect_indices(h, self._target(h)), axis=1)
        return ops.take(x, _reflect_indices(w, self._target(w)), axis=2)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        h = None if h is None else self._target(h)
        w = None if w is None else self._target(w)
        return (n, h, w, c)

    def get_config(self):
        config = super().get_config()
        config.update({"multiple": self.multiple, "min_size": self.min_size})
        return config
