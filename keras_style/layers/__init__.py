"""Custom Keras layers used by keras-style models."""

from keras_style.layers.adaptive_instance_normalization import AdaptiveInstanceNormalization
from keras_style.layers.conditional_instance_normalization import ConditionalInstanceNormalization
from keras_style.layers.crop_to_reference import CropToReference
from keras_style.layers.feature_standardization import FeatureStandardization
from keras_style.layers.input_kernel_conv2d import InputKernelConv2D
from keras_style.layers.instance_normalization import InstanceNormalization
from keras_style.layers.nearest_upsampling import NearestUpsampling2D
from keras_style.layers.pad_to_multiple import PadToMultiple
from keras_style.layers.reflection_padding import ReflectionPadding2D

__all__ = [
    "AdaptiveInstanceNormalization",
    "ConditionalInstanceNormalization",
    "CropToReference",
    "FeatureStandardization",
    "InputKernelConv2D",
    "InstanceNormalization",
    "NearestUpsampling2D",
    "PadToMultiple",
    "ReflectionPadding2D",
]
