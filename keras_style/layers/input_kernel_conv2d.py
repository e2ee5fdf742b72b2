"""2D convolution whose kernel is an input of the layer, not a weight."""

import keras
from keras import ops

_PADDINGS = ("valid", "same")


@keras.saving.register_keras_serializable(package="keras_style")
class InputKernelConv2D(keras.layers.Layer):
    """Convolves channels-last images with a kernel given at call time.

    Called as `layer([images, kernel])` or `layer([images, kernel, bias])`:

    * `images`: `(N, H, W, C_in)`;
    * `kernel`: `(kh, kw, C_in, C_out)` (the layout of `keras.layers.Conv2D`'s
      kernel), shared by every image of the batch: one kernel per call, e.g.
      one style per batch when a MetaNet generates it;
    * `bias` (optional): `(C_out,)`.

    Returns `keras.ops.conv(images, kernel, strides, padding)` (+ bias), the same
    as a `keras.layers.Conv2D` holding that kernel, with no activation. The layer
    has no weights. Padding defaults to "valid": style networks reflect-pad
    explicitly beforehand (`ReflectionPadding2D`), as `TransformNet` does.

    The kernel (and bias) are cast to the layer's compute dtype, so the layer
    also runs under a `mixed_float16` policy.

    Args:
        strides: int or `(sh, sw)`.
        padding: "valid" (default) or "same".
        **kwargs: base layer arguments (`name`, `dtype`, ...).
    """

    def __init__(self, strides=1, padding="valid", **kwargs):
        super().__init__(**kwargs)
        if isinstance(strides, int):
            strides = (strides, strides)
        strides = tuple(int(s) for s in strides)
        if len(strides) != 2 or min(strides) < 1:
            raise ValueError(f"strides must be a positive int or a pair of them; got {strides!r}.")
        padding = str(padding).lower()
        if padding not in _PADDINGS:
            raise ValueError(f"padding must be 'valid' or 'same'; got {padding!r}.")
        self.strides = strides
        self.padding = padding

    def build(self, input_shape):
        if len(input_shape) not in (2, 3):
            raise ValueError("InputKernelConv2D is called on [images, kernel] or [images, kernel, bias].")
        images_shape, kernel_shape = input_shape[0], input_shape[1]
        if len(images_shape) != 4 or len(kernel_shape) != 4:
            raise ValueError(
                "InputKernelConv2D expects images (N, H, W, C_in) and a kernel "
                f"(kh, kw, C_in, C_out); got {images_shape} and {kernel_shape}."
            )
        if None not in (images_shape[-1], kernel_shape[2]) and images_shape[-1] != kernel_shape[2]:
            raise ValueError(
                f"the kernel {kernel_shape} expects {kernel_shape[2]} input channels; "
                f"the images have {images_shape[-1]}."
            )

    def call(self, inputs):
        images, kernel = inputs[0], inputs[1]
        kernel = ops.cast(kernel, self.compute_dtype)
        outputs = ops.conv(images, kernel, strides=self.strides, padding=self.padding)
        if len(inputs) > 2:
            outputs = outputs + ops.cast(inputs[2], self.compute_dtype)
        return outputs

    def compute_output_shape(self, input_shape):
        images_shape, kernel_shape = input_shape[0], input_shape[1]
        n, h, w, _ = images_shape
        sizes = []
        for size, k, s in zip((h, w), kernel_shape[:2], self.strides):
            if size is None or (k is None and self.padding == "valid"):
                sizes.append(None)
            elif self.padding == "same":
                sizes.append(-(-size // s))
            else:
                sizes.append((size - k) // s + 1)
        return (n, sizes[0], sizes[1], kernel_shape[3])

    def get_config(self):
        config = super().get_config()
        config.update({"strides": list(self.strides), "padding": self.padding})
        return config
