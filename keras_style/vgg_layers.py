"""VGG layer names and the smallest input each needs, without Keras.

Separate from `keras_style.vgg` (the Keras network) so that commands check layer
names and image sizes before TensorFlow is imported.
"""

from __future__ import annotations

import re

from keras_style import weights as weights_lib
from keras_style.errors import StyleError

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
