"""Fast style transfer (Johnson et al. 2016) with a trained `TransformNet`, from Python.

    from keras_style import fast_style, image_io
    model = keras.saving.load_model("starry_night.keras")   # a TransformNet
    out = fast_style.stylize(model, image_io.load_image("photo.jpg"))

The style is trained into the network, so `stylize` takes no style images and no
style strength: it has the same leading parameters as `gatys.stylize`,
`adain.stylize` and `metanet.stylize` and refuses what a fixed style cannot do.
Images are float (H, W, 3) RGB arrays in [0, 255], as `keras_style.image_io` reads
them; the network pads and crops inside its graph, so any size works.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from keras_style import checks
from keras_style.errors import StyleError


def stylize(
    model,
    content: np.ndarray,
    styles: Sequence[np.ndarray] | None = None,
    *,
    style_weights: Sequence[float] | None = None,
    alpha: float = 1.0,
) -> np.ndarray:
    """Renders `content` in the style `model` was trained on.

    Args:
      model: a `keras_style.models.TransformNet` (or any Keras model mapping
        (1, H, W, 3) images in [0, 255] to the same shape).
      content: float (H, W, 3) RGB in [0, 255], any size.
      styles: must be None: the style is fixed (arbitrary styles need AdaIN or MetaNet).
      style_weights: must be None (no styles to weigh).
      alpha: must be 1: a fixed-style network has one strength.

    Returns:
      float32 (H, W, 3) RGB, clipped to [0, 255].

    Raises:
      StyleError: a bad image, or style images, weights or an alpha below 1.
    """
    import keras

    content = checks.as_image(content, "content image")
    if styles is not None or style_weights is not None:
        raise StyleError(
            "a fast-style network has a fixed style; style images need an arbitrary-style model (adain, metanet)"
        )
    if checks.check_alpha(alpha) != 1.0:
        raise StyleError(f"a fast-style network has one style strength; alpha must be 1, got {float(alpha):g}")
    out = keras.ops.convert_to_numpy(model(content[None], training=False))[0]
    return np.clip(out, 0.0, 255.0).astype(np.float32)
