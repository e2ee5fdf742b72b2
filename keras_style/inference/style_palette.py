"""The palette step of the arbitrary-style models (AdaIN, MetaNet).

The networks match VGG feature statistics, not colours, and render the colours of
paintings they never saw faded. After the network (and after any tiling), the output is
given the style images' RGB mean and covariance by one affine colour map: Gatys et al.'s
colour histogram matching (`keras_style.color.match_color_moments`) aimed at the painting
instead of the photo. Numpy only; `style_transfer`, `style_batch` and `style_evaluate`
apply it by default, and a TF Serving client can apply it to a signature's output:

    palette = StylePalette.of([style_image], [1.0])
    coloured = palette.apply(stylized)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from keras_style import color
from keras_style.checks import mask_coefficients


@dataclasses.dataclass(frozen=True)
class StylePalette:
    """The style images' colours, for the palette step of the arbitrary-style models.

    `apply` gives a stylized image the colour mean and covariance of the styles (mixed by
    their weights); with masks, each style's colours in its own region. It does not
    follow the style strength alpha: alpha sets how much of the painting's texture the
    network draws, and the colours come through in full at any alpha (alpha 0 gives
    the photo, recoloured; `docs/design_notes.md`, "The style palette step"). The
    arbitrary-style stylizers' `prepare_style` computes one, and `style_transfer`,
    `style_batch` and `style_evaluate` apply it after the model (and after stitching
    tiles: the map is one affine colour transform for the whole image, so tiles cannot
    disagree).

    Attributes:
      moments: one `keras_style.color.ColorMoments` per style image.
      weights: the styles' weights, normalised to sum to 1.
    """

    moments: tuple
    weights: tuple

    @classmethod
    def of(cls, styles: Sequence[np.ndarray], weights: Sequence[float]) -> "StylePalette":
        """From the style images (float (Hs, Ws, 3) in [0, 255]) and their normalised weights."""
        return cls(tuple(color.ColorMoments.of(s) for s in styles), tuple(float(w) for w in weights))

    def apply(self, image: np.ndarray, masks: Sequence[np.ndarray] | None = None) -> np.ndarray:
        """`image` (H, W, 3) in the styles' colours; float32 in [0, 255].

        Args:
          image: a stylized image.
          masks: None, or one (H, W) mask in [0, 1] per style: each pixel gets each
            style's map by `keras_style.checks.mask_coefficients`, as AdaIN blends its
            targets; pixels no mask covers keep their colours.
        """
        image = np.asarray(image, np.float64)
        if masks is None:
            return color.match_color_moments(image, color.ColorMoments.mix(self.moments, self.weights))
        coefficients = mask_coefficients(np.stack([np.asarray(m, np.float64) for m in masks], axis=-1), self.weights)
        matched = image * (1.0 - coefficients.sum(axis=-1, keepdims=True))
        for k, moments in enumerate(self.moments):
            if coefficients[..., k].sum() > 0:
                matched += coefficients[..., k : k + 1] * color.match_color_moments(
                    image, moments, pixel_weights=coefficients[..., k]
                )
        return np.clip(matched, 0.0, 255.0).astype(np.float32)
