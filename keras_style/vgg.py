"""VGG feature extractor with real ImageNet weights."""

from __future__ import annotations

import keras

from keras_style import weights as weights_lib
from keras_style.errors import StyleError
from keras_style.layers.caffe_preprocessing import CaffePreprocessing
from keras_style.models.base import FunctionalModel
from keras_style.vgg_layers import canonical_layer_name, min_input_side, vgg_layer_names  # noqa: F401  (public here too)


@keras.saving.register_keras_serializable(package="keras_style")
class VGGFeatureExtractor(FunctionalModel):
    """Frozen VGG16/VGG19 returning the activations of chosen layers.

    Input: RGB float images in [0, 255], shape (N, H, W, 3), any size. Caffe
    preprocessing (RGB->BGR, mean subtraction) happens inside the model.
    Output: a dict {layer name: (N, h, w, C) post-ReLU activations}, with names as
    given (Keras `block4_conv1` or paper `relu4_1` style). The graph stops at the
    deepest requested layer, so unused layers cost nothing.

    Args:
      layers: layer names to output.
      network: "vgg19" or "vgg16".
      pooling: "avg" (Gatys et al. prefer it: smoother gradients) or "max".
      weights: "auto" (cached, else fetched once; see `keras_style.weights`),
        "imagenet" (Keras' download), a Keras HDF5 weights file, or None (random).
    """

    config_fields = (("layers", "feature_layers"), "network", "pooling", ("weights", "weights_source"))

    def __init__(self, layers, network="vgg19", pooling="avg", weights="auto", **kwargs):
        layers = list(layers)
        if not layers:
            raise StyleError("no VGG layers requested")
        if pooling not in ("avg", "max"):
            raise StyleError(f"unknown pooling '{pooling}'; choose avg or max")
        all_names = vgg_layer_names(network)
        canonical = [canonical_layer_name(n) for n in layers]
        for given, name in zip(layers, canonical):
            if name not in all_names:
                raise StyleError(
                    f"unknown {network} layer '{given}'; choose from {', '.join(all_names)} "
                    "(or reluB_I names)"
                )
        deepest = max(all_names.index(n) for n in canonical)

        inputs = keras.Input(shape=(None, None, 3), name="image")
        x = CaffePreprocessing(name="caffe_preprocessing")(inputs)
        activations = {}
        conv_shapes = weights_lib.vgg_conv_shapes(network)
        for index, name in enumerate(all_names[: deepest + 1]):
            block = name.split("_")[0]
            if index > 0 and all_names[index - 1].split("_")[0] != block:
                pool = keras.layers.AveragePooling2D if pooling == "avg" else keras.layers.MaxPooling2D
                x = pool(2, strides=2, name=f"{all_names[index - 1].split('_')[0]}_pool")(x)
            x = keras.layers.Conv2D(
                conv_shapes[name][-1], 3, padding="same", activation="relu", name=name
            )(x)
            activations[name] = x
        outputs = {given: activations[name] for given, name in zip(layers, canonical)}
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        self.feature_layers = layers
        self.network = network
        self.pooling = pooling
        self.weights_source = weights
        path = weights_lib.resolve_weights(network, weights)
        if path is not None:
            loaded = weights_lib.read_keras_h5(path, network)
            for name in all_names[: deepest + 1]:
                self.get_layer(name).set_weights(list(loaded[name]))
        self.trainable = False
