"""The AdaIN decoder of Huang & Belongie (2017): VGG19 relu4_1 features -> image."""

import keras

from keras_style.layers.nearest_upsampling import NearestUpsampling2D
from keras_style.layers.reflection_padding import ReflectionPadding2D
from keras_style.models.base import FunctionalModel

# relu4_1 activations of the Caffe VGG19 on [0, 255] images have an RMS of about
# 1000 (760-1330 measured on the images in examples/). The paper's decoder reads a
# "normalised" VGG whose filters average 1, so the input is scaled to that order:
# with Keras' default initialisation an unscaled input would make the first
# outputs ~1000x too large, and every Adam step move them ~1000x too far.
FEATURE_SCALE = 1e-3
# The last conv predicts (pixel - 127.5) / 255, i.e. the paper's [0, 1] image
# centred on 0, so an untrained decoder outputs mid-grey instead of black.
OUTPUT_SCALE = 255.0
OUTPUT_OFFSET = 127.5
INPUT_CHANNELS = 512


@keras.saving.register_keras_serializable(package="keras_style")
class AdaINDecoder(FunctionalModel):
    """Decoder of Huang & Belongie, "Arbitrary Style Transfer in Real-time with
    Adaptive Instance Normalization" (ICCV 2017): VGG19 up to relu4_1, mirrored.

    Input: features of shape `(N, h, w, 512)` (VGG19 relu4_1, as
    `VGGFeatureExtractor` computes them from [0, 255] images), any `h, w >= 2`.
    Output: float32 RGB images `(N, 8h, 8w, 3)` on the [0, 255] pixel scale
    (not clipped: training needs the gradient everywhere; clip when saving).

    Architecture, exactly the paper's (its released code's) decoder; every conv
    is 3x3 with reflection padding 1 and ReLU except the last, which is linear;
    upsampling is nearest-neighbour x2; no normalisation layers:

        conv4_1 512->256, up,
        conv3_4 256->256, conv3_3 256->256, conv3_2 256->256, conv3_1 256->128, up,
        conv2_2 128->128, conv2_1 128->64, up,
        conv1_2 64->64, conv1_1 64->3 (linear)

    (3,505,219 parameters). Two parameter-free scalings adapt it to this
    library's VGG, which takes [0, 255] Caffe-preprocessed images rather than
    the paper's [0, 1] normalised VGG: the input is multiplied by
    `FEATURE_SCALE` (1e-3, so features are O(1)), and the last conv's output y
    becomes `255 * y + 127.5`, i.e. the conv predicts the paper's [0, 1] image
    shifted to be centred on 0 (an untrained decoder gives mid-grey).

    Supports mixed precision: the last conv and the output scaling run in
    float32.

    Args:
        **kwargs: `keras.Model` arguments such as `name` and `trainable`.
    """

    config_fields = ()

    def __init__(self, **kwargs):
        kwargs.setdefault("name", "adain_decoder")
        def conv(x, name, filters, relu=True, dtype=None):
            x = ReflectionPadding2D(1, name=f"{name}_pad", dtype=dtype)(x)
            return keras.layers.Conv2D(
                filters, 3, padding="valid", activation="relu" if relu else None, name=name, dtype=dtype
            )(x)

        def up(x, name):
            return NearestUpsampling2D(2, name=name)(x)

        inputs = keras.Input(shape=(None, None, INPUT_CHANNELS), name="features")
        x = keras.layers.Rescaling(FEATURE_SCALE, name="input_scale")(inputs)
        x = conv(x, "conv4_1", 256)
        x = up(x, "up3")
        x = conv(x, "conv3_4", 256)
        x = conv(x, "conv3_3", 256)
        x = conv(x, "conv3_2", 256)
        x = conv(x, "conv3_1", 128)
        x = up(x, "up2")
        x = conv(x, "conv2_2", 128)
        x = conv(x, "conv2_1", 64)
        x = up(x, "up1")
        x = conv(x, "conv1_2", 64)
        # float32 output layers: callers (losses, image writers) get float32 pixels.
        x = conv(x, "conv1_1", 3, relu=False, dtype="float32")
        outputs = keras.layers.Rescaling(
            OUTPUT_SCALE, offset=OUTPUT_OFFSET, dtype="float32", name="output_scale"
        )(x)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
