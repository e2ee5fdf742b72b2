"""keras-style: neural style transfer for TensorFlow / Keras 3.

Submodules are imported on demand (`from keras_style import gatys`), so that light
paths such as running a `.tflite` model never import TensorFlow.
"""

__version__ = "0.1.0"
