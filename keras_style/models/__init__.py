"""keras-style models."""

from keras_style.models.transform_net import TransformNet

__all__ = ["TransformNet"]
