"""VGG feature extractor with real ImageNet weights."""

from __future__ import annotations

import re

import keras

from keras_style import weights as weights_lib
from keras_style.errors import StyleError
from keras_style.layers.caffe_preprocessing import CaffePreprocessing
from keras_style.models.base import FunctionalModel

_RELU_ALIAS = re.compile(r"^(?:relu|conv)(\d)_(\d)$")


def canonical_layer_name(name: str) -> str:
    """Maps `relu4_1` / `conv4_1` (paper names) to Keras' `block4_conv1`.

    Keras' VGG convs include their ReLU, so `blockB_convI` *is* reluB_I.
    """
    match = _RELU_ALIAS.match(name)
    if match:
        return f"block{match.group(1)}_conv{match.group(2)}"
    return name


def vgg_layer_names(network: str = "vgg19") -> list[str]:
    """Names of the conv (conv + ReLU) layers of `network`, input to output."""
    if network not in weights_lib.VGG_BLOCKS:
        raise StyleError(f"unknown network '{network}'; choose vgg16 or vgg19")
    return list(weights_lib.vgg_conv_shapes(network))


def min_input_side(layers, network: str = "vgg19") -> int:
    """Smallest image side, in pixels, from which `network` computes every one of `layers`.

    Each 2x2 pooling before a layer halves the side, rounding down, and a side that
    reaches 0 fails deep inside TensorFlow; so a layer of block B needs 2**(B-1) pixels
    on each side (16 for block5 layers, measured). Unknown names are left to
    `VGGFeatureExtractor`'s own error.
    """
    names = vgg_layer_names(network)
    blocks = [
        int(name.split("_")[0].removeprefix("block"))
        for name in map(canonical_layer_name, layers)
        if name in names
    ]
    return 2 ** (max(blocks, default=1) - 1)


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
