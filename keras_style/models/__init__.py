"""keras-style models."""

from keras_style.models.metanet import GeneratedTransformNet, MetaNet
from keras_style.models.metanet_model import MetaNetStyleTransfer
from keras_style.models.transform_net import TransformNet

__all__ = ["GeneratedTransformNet", "MetaNet", "MetaNetStyleTransfer", "TransformNet"]
