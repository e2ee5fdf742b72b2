"""Custom Keras layers used by keras-style models."""

from keras_style.layers.crop_to_reference import CropToReference
from keras_style.layers.instance_normalization import InstanceNormalization
from keras_style.layers.pad_to_multiple import PadToMultiple
from keras_style.layers.reflection_padding import ReflectionPadding2D

__all__ = [
    "CropToReference",
    "InstanceNormalization",
    "PadToMultiple",
    "ReflectionPadding2D",
]
