"""Using a MetaNet (Shen et al. 2018): style statistics, weight generation, mixing, stylizing.

    from keras_style import metanet
    extractor = metanet.statistics_extractor()          # frozen VGG19, 4 layers
    weights = metanet.generate_weights(meta, extractor, [starry, wave], [0.7, 0.3])
    out = metanet.stylize(model, content, [starry, wave], style_weights=[0.7, 0.3], extractor=extractor)

Style statistics: for each of VGG19's `block1_conv2, block2_conv2, block3_conv3,
block4_conv3` (relu1_2, relu2_2, relu3_3, relu4_3: the VGG19 layers that carry the
names of the VGG16 layers the paper used), the per-channel mean and standard deviation
over the image (`keras_style.losses.mean_std`), concatenated layer by layer as
[means, stds]: (64 + 128 + 256 + 512) · 2 = 1920 values per image.

Mixing styles is done on these statistics vectors: `generate_weights` takes a convex
combination of the styles' vectors and asks the MetaNet for the network of that mix
(the MetaNet's first layer is affine, so this is also the convex combination of its
pre-activations). Statistics, not weight vectors, are mixed because the weight space
has symmetries (channel permutations, and the kernel scales that the instance norms
cancel) under which averaging two generated networks need not give a network at all,
whereas a mix of statistics is a style the MetaNet can answer for.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from keras_style import checks
from keras_style.errors import StyleError
from keras_style.inference.metanet import convex_weights
from keras_style.inference.metanet import mix_statistics as _mix_statistics
from keras_style.models.metanet import STATISTICS_DIM, STATISTICS_LAYERS

__all__ = [
    "STATISTICS_DIM",
    "STATISTICS_LAYERS",
    "generate_weights",
    "mix_statistics",
    "statistics_extractor",
    "style_statistics",
    "style_statistics_vector",
    "stylize",
]


def style_statistics_vector(extractor_outputs, layers: Sequence[str] = STATISTICS_LAYERS, epsilon=1e-5):
    """The (N, 1920) MetaNet input from VGG feature maps.

    Args:
      extractor_outputs: {layer name: (N, H, W, C) features}, e.g. the output of a
        `VGGFeatureExtractor` that includes `STATISTICS_LAYERS` (VGG19
        block1_conv2, block2_conv2, block3_conv3, block4_conv3).
      layers: the layers to use, in order (default `STATISTICS_LAYERS`; a MetaNet
        takes exactly those).
      epsilon: added to the variance before its square root.

    Returns:
      float32 (N, 1920): for each layer in order, its C channel means then its C
      channel standard deviations (over H and W).
    """
    from keras import ops

    from keras_style import losses

    parts = []
    for name in layers:
        if name not in extractor_outputs:
            raise StyleError(f"the VGG features lack layer '{name}'; extract {', '.join(layers)}")
        mean, std = losses.mean_std(extractor_outputs[name], epsilon)
        parts += [mean, std]
    return ops.concatenate(parts, axis=-1)


def statistics_extractor(network="vgg19", pooling="max", weights="auto", name="statistics_extractor"):
    """A frozen `VGGFeatureExtractor` for `STATISTICS_LAYERS` (max pooling: the VGG a
    `MetaNetTask` trains with). Input RGB float [0, 255]."""
    from keras_style.vgg import VGGFeatureExtractor

    return VGGFeatureExtractor(list(STATISTICS_LAYERS), network=network, pooling=pooling, weights=weights, name=name)


def _as_batch(image):
    image = np.asarray(image, dtype="float32")
    if image.ndim == 3:
        image = image[None]
    if image.ndim != 4 or image.shape[-1] != 3:
        raise StyleError(f"expected an RGB image (H, W, 3) or batch (N, H, W, 3); got shape {image.shape}")
    return image


def style_statistics(extractor, style_images, style_weights=None) -> np.ndarray:
    """(1, 1920) statistics of one style image, or the convex mix of several.

    Args:
      extractor: a VGG feature extractor with `STATISTICS_LAYERS` among its outputs
        (`statistics_extractor()`).
      style_images: one RGB image (H, W, 3) float [0, 255], or a list of them (sizes
        may differ).
      style_weights: one non-negative weight per image (normalised to sum 1); None
        weighs them equally.
    """
    if isinstance(style_images, np.ndarray) and style_images.ndim == 3:
        style_images = [style_images]
    style_images = list(style_images)
    if not style_images:
        raise StyleError("no style images given")
    mix = convex_weights(style_weights, len(style_images))
    vectors = []
    for image in style_images:
        batch = _as_batch(image)
        if batch.shape[0] != 1:
            raise StyleError("pass style images one by one (a list), not as a batch")
        vectors.append(np.asarray(style_statistics_vector(extractor(batch)))[0].astype("float64"))
    return mix_statistics(vectors, mix)


def mix_statistics(vectors, weights=None) -> np.ndarray:
    """Convex combination Σ w_i · s_i of (1920,) or (1, 1920) statistics vectors, as (1, 1920)."""
    vectors = [np.asarray(v, dtype="float64").reshape(-1) for v in vectors]
    if not vectors or any(v.shape != (STATISTICS_DIM,) for v in vectors):
        raise StyleError(f"statistics vectors have {STATISTICS_DIM} values")
    return _mix_statistics(vectors, weights)


def generate_weights(metanet, extractor, style_images, style_weights=None) -> np.ndarray:
    """The (1, P) weight vector that `metanet` generates for a style or a mix of styles.

    Styles are mixed by a convex combination of their statistics vectors (see the
    module docstring), weighted by `style_weights` (normalised to sum 1; None: equal).

    Args:
      metanet: a `keras_style.models.MetaNet`.
      extractor: VGG features including `STATISTICS_LAYERS` (`statistics_extractor()`).
      style_images: an (H, W, 3) RGB float [0, 255] image or a list of them.
      style_weights: one non-negative weight per style image.
    """
    statistics = style_statistics(extractor, style_images, style_weights)
    return np.asarray(metanet(statistics, training=False))


def stylize(
    model,
    content,
    styles,
    *,
    style_weights=None,
    alpha: float = 1.0,
    extractor=None,
) -> np.ndarray:
    """Renders `content` in the style (or mix) of `styles` with a trained MetaNet.

    The MetaNet generates the transform net's filters for the styles' statistics
    (mixed by `style_weights`, see `generate_weights`), and the transform net runs
    with them. `alpha` in [0, 1] is the style strength, taken in statistics space:
    the filters are the MetaNet's answer to `alpha · s_style + (1 - alpha) · s(c)`,
    where s(c) are the content image's own statistics. alpha = 0 asks for the
    network of the content's own "style", which re-renders the image in its own
    colours and textures (not an identity: it is what the MetaNet learnt to draw for
    those statistics).

    Args:
      model: a `keras_style.models.MetaNetStyleTransfer` (what `MetaNetTask.build_model()`
        returns), or anything with its `metanet` and `generated_net` parts.
      content: float (H, W, 3) RGB in [0, 255], any size.
      styles: one (Hs, Ws, 3) RGB float [0, 255] style image or a list of them, used
        at their given sizes.
      style_weights: one non-negative weight per style (normalised to sum 1); None: equal.
      alpha: style strength in [0, 1].
      extractor: the VGG statistics extractor (`statistics_extractor()`, built when None).

    Returns:
      float32 (H, W, 3) RGB, clipped to [0, 255].

    Raises:
      StyleError: bad images, weights or alpha, or a model without the two sublayers.
    """
    import tensorflow as tf

    alpha = checks.check_alpha(alpha)
    content = checks.as_image(content, "content image")
    try:
        metanet, generated_net = model.metanet, model.generated_net
    except AttributeError:
        raise StyleError(
            f"metanet.stylize needs a MetaNetStyleTransfer (MetaNetTask.build_model()), got {type(model).__name__}"
        ) from None
    if extractor is None:
        extractor = statistics_extractor()
    statistics = style_statistics(extractor, styles, style_weights)
    if alpha != 1.0:
        own = np.asarray(style_statistics_vector(extractor(content[None])))
        statistics = mix_statistics([statistics, own], [alpha, 1.0 - alpha])
    weights = metanet(statistics, training=False)
    out = np.asarray(generated_net([tf.constant(content[None]), weights], training=False))[0]
    return np.clip(out, 0.0, 255.0).astype(np.float32)
