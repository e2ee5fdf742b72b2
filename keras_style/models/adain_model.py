"""The complete AdaIN arbitrary style transfer network (Huang & Belongie 2017)."""

import keras
from keras import ops

from keras_style.layers.adaptive_instance_normalization import AdaptiveInstanceNormalization
from keras_style.layers.crop_to_reference import CropToReference
from keras_style.layers.pad_to_multiple import PadToMultiple
from keras_style.losses import mean_std
from keras_style.models.adain_decoder import AdaINDecoder
from keras_style.models.base import FunctionalModel
from keras_style.vgg import VGGFeatureExtractor

# relu1_1..relu4_1: the loss layers of the paper; relu4_1 is also the AdaIN layer.
ENCODER_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
ADAIN_LAYER = "relu4_1"
# relu4_1 is after three 2x2 poolings: padded content sizes must be multiples of 8
# for the decoded image to line up with the input, and at least 16 so relu4_1 is
# at least 2x2 (the decoder reflect-pads it by 1).
_SIZE_MULTIPLE = 8
_MIN_CONTENT_SIZE = 16
# A style image needs at least 8 pixels for a 1x1 relu4_1 map; smaller ones are
# reflect-padded up to 8 (only their statistics are used, so no multiple is needed).
_MIN_STYLE_SIZE = 8


@keras.saving.register_keras_serializable(package="keras_style")
class _FeatureStatistics(keras.layers.Layer):
    """(N, H, W, C) features -> float32 (mean, std), each (N, C); std = sqrt(var + eps)."""

    def __init__(self, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.autocast = False
        self.epsilon = float(epsilon)

    def call(self, features):
        # keras_style.losses.mean_std computes in float32 (float16 squares overflow).
        return mean_std(features, self.epsilon)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1]), (input_shape[0], input_shape[-1])

    def compute_output_spec(self, features):
        # Two distinct tensors: returning one spec twice would alias the outputs.
        shape = (features.shape[0], features.shape[-1])
        return keras.KerasTensor(shape, dtype="float32"), keras.KerasTensor(shape, dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update({"epsilon": self.epsilon})
        return config


@keras.saving.register_keras_serializable(package="keras_style")
class _AlphaBlend(keras.layers.Layer):
    """[content_features, target, alpha (N, 1)] -> (1 - alpha) * content + alpha * target."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.autocast = False

    def call(self, inputs):
        content, target, alpha = (ops.cast(x, "float32") for x in inputs)
        alpha = ops.reshape(alpha, (-1, 1, 1, 1))
        return ops.cast(content + alpha * (target - content), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape[0]


@keras.saving.register_keras_serializable(package="keras_style")
class AdaINStyleTransfer(FunctionalModel):
    """Arbitrary style transfer with adaptive instance normalisation: Huang &
    Belongie, "Arbitrary Style Transfer in Real-time with Adaptive Instance
    Normalization" (ICCV 2017).

    Called as `model([content, style, alpha])`:
      content: float RGB `(N, H, W, 3)` in [0, 255], any `H, W >= 1`;
      style: float RGB `(N, Hs, Ws, 3)` in [0, 255], any size;
      alpha: `(N, 1)` style strength in [0, 1].
    Returns float32 RGB `(N, H, W, 3)` on the [0, 255] scale (not clipped):

        f = encoder(content)[relu4_1];  t = AdaIN(f, mean(encoder(style)), std(...))
        output = decoder((1 - alpha) * f + alpha * t)

    The encoder is VGG19 up to relu4_1 with **max pooling**, as in the paper (its
    VGG is the ImageNet network, pooling included), frozen; only the decoder
    (`AdaINDecoder`) has trainable weights. The content is reflect-padded at the
    bottom/right to a multiple of 8 (at least 16) before encoding, and the output
    cropped back, so output size equals content size.

    Pieces for training and export code (all share this model's layers and
    weights, and work eagerly, in `tf.function` and on symbolic tensors):
      `encoder`: `VGGFeatureExtractor` returning {relu1_1..relu4_1: features};
      `decoder`: the `AdaINDecoder`;
      `adain`: the `AdaptiveInstanceNormalization` layer;
      `style_statistics(style) -> (mean, std)`, each float32 `(N, 512)`;
      `encode_content(content)`: relu4_1 features of the padded content;
      `decoder_input(content_features, mean, std, alpha)`: the blended AdaIN target;
      `feature_masks(masks)`: content-sized maps resized to the relu4_1 grid;
      `decode(features, content)`: decoder output cropped to `content`'s size;
      `stylize_from_statistics(content, mean, std, alpha)`: the output above for
        precomputed (e.g. mixed) style statistics;
      `style_statistics_graph()`, `stylize_from_statistics_graph()`: the last two
        as functional `keras.Model`s (e.g. for SavedModel / TFLite signatures).
    The decoding methods take an optional `decoder=` to use instead of `decoder`,
    e.g. a TFLite-convertible copy sharing its weights (see `decode`).

    Args:
        encoder_weights: VGG19 weights, as `VGGFeatureExtractor`'s `weights`
            ("auto", "imagenet", an HDF5 file, or None for random).
        epsilon: added to variances in AdaIN and the style statistics.
        **kwargs: `keras.Model` arguments such as `name`.
    """

    config_fields = ("encoder_weights", "epsilon")

    def __init__(self, encoder_weights="auto", epsilon=1e-5, **kwargs):
        kwargs.setdefault("name", "adain_style_transfer")
        encoder = VGGFeatureExtractor(
            list(ENCODER_LAYERS), network="vgg19", pooling="max", weights=encoder_weights, name="encoder"
        )
        decoder = AdaINDecoder(name="decoder")
        content_pad = PadToMultiple(_SIZE_MULTIPLE, min_size=_MIN_CONTENT_SIZE, name="content_pad")
        style_pad = PadToMultiple(1, min_size=_MIN_STYLE_SIZE, name="style_pad")
        statistics = _FeatureStatistics(epsilon, name="style_statistics")
        adain = AdaptiveInstanceNormalization(epsilon, name="adain")
        blend = _AlphaBlend(name="alpha_blend")
        # float32 like the decoder's output, so the model's output is float32.
        crop = CropToReference(dtype="float32", name="crop_to_content")

        content = keras.Input(shape=(None, None, 3), name="content")
        style = keras.Input(shape=(None, None, 3), name="style")
        alpha = keras.Input(shape=(1,), name="alpha")
        style_mean, style_std = statistics(encoder(style_pad(style))[ADAIN_LAYER])
        content_features = encoder(content_pad(content))[ADAIN_LAYER]
        target = adain([content_features, style_mean, style_std])
        decoded = decoder(blend([content_features, target, alpha]))
        outputs = crop([decoded, content])
        super().__init__(inputs=[content, style, alpha], outputs=outputs, **kwargs)

        self.encoder_weights = encoder_weights
        self.epsilon = float(epsilon)
        self.encoder = encoder
        self.decoder = decoder
        self.adain = adain
        self._content_pad = content_pad
        self._style_pad = style_pad
        self._statistics = statistics
        self._blend = blend
        self._crop = crop
        # A `trainable=True` from the caller propagates to sublayers; VGG stays frozen.
        self.encoder.trainable = False

    def style_statistics(self, style):
        """relu4_1 channel means and standard deviations of `(N, Hs, Ws, 3)` styles.

        Returns `(mean, std)`, each float32 `(N, 512)`, std = sqrt(var + epsilon).
        """
        return self._statistics(self.encoder(self._style_pad(style))[ADAIN_LAYER])

    def encode_content(self, content):
        """relu4_1 features `(N, h, w, 512)` of `(N, H, W, 3)` content, padded to a multiple of 8."""
        return self.encoder(self._content_pad(content))[ADAIN_LAYER]

    def decoder_input(self, content_features, mean, std, alpha):
        """(1 - alpha) * f + alpha * AdaIN(f, mean, std): what the decoder decodes.

        `alpha` has shape `(N, 1)`; `mean`, `std` `(N, 512)` (or `(1, 512)`).
        """
        target = self.adain([content_features, mean, std])
        return self._blend([content_features, target, alpha])

    def feature_masks(self, masks):
        """Resizes `(N, H, W, K)` content-sized maps to the relu4_1 grid `(N, h, w, K)`.

        The maps are padded as the content is (reflect, bottom/right) and averaged
        over each 8x8 block, i.e. an area resize: a feature pixel gets the mean of
        the image pixels it covers.
        """
        padded = self._content_pad(ops.cast(masks, "float32"))
        return ops.average_pool(padded, _SIZE_MULTIPLE, _SIZE_MULTIPLE, padding="valid")

    def decode(self, features, content, decoder=None):
        """Decodes relu4_1 `features`; crops the image to `content`'s height and width.

        `decoder` replaces `self.decoder` (e.g. a copy sharing its weights).
        """
        return self._crop([(self.decoder if decoder is None else decoder)(features), content])

    def stylize_from_statistics(self, content, mean, std, alpha, decoder=None):
        """Stylizes `(N, H, W, 3)` content with given style statistics (e.g. mixed ones).

        Equals `model([content, style, alpha])` when `(mean, std) =
        style_statistics(style)`. Returns float32 `(N, H, W, 3)`, not clipped.
        `decoder`: see `decode`.
        """
        features = self.encode_content(content)
        return self.decode(self.decoder_input(features, mean, std, alpha), content, decoder)

    def style_statistics_graph(self):
        """A functional `keras.Model`: style `(N, Hs, Ws, 3)` -> [mean, std] `(N, 512)`.

        Shares this model's layers (and so its weights); built anew on each call.
        """
        style = keras.Input(shape=(None, None, 3), name="style")
        mean, std = self.style_statistics(style)
        return keras.Model(style, [mean, std], name="adain_style_statistics")

    def stylize_from_statistics_graph(self, decoder=None):
        """A functional `keras.Model`: [content, mean, std, alpha] -> stylized image.

        Shares this model's layers (and so its weights); built anew on each call.
        `decoder`: see `decode`.
        """
        channels = self.decoder.input_shape[-1]
        content = keras.Input(shape=(None, None, 3), name="content")
        mean = keras.Input(shape=(channels,), name="style_mean")
        std = keras.Input(shape=(channels,), name="style_std")
        alpha = keras.Input(shape=(1,), name="alpha")
        outputs = self.stylize_from_statistics(content, mean, std, alpha, decoder)
        return keras.Model([content, mean, std, alpha], outputs, name="adain_stylize_from_statistics")
