"""style_transfer's MetaNet options: --style, --style_weights, --alpha (no --mask).

`style_transfer` calls, in order: `check_flags` (cheap, before anything is read),
`MetaNetTransfer.load_inputs` (decodes the style images; still before any output is
written), and `MetaNetTransfer.stylize` per content image, after the model is loaded
(the same protocol as `keras_style.cli.adain_transfer`).

* The transform-net filters are generated once per run (`prepare_style`: the style
  images' statistics, mixed by --style_weights, through the MetaNet) and reused for
  every content image and every tile.
* --alpha < 1 mixes each content image's own statistics into the style's
  (`keras_style.metanet.stylize`'s style strength), so the filters are generated once
  per content image, from the whole image (with --tile, from its tiles' pooled
  statistics), and shared by all its tiles.
* --mask is refused: a MetaNet draws one network per style (or mix of styles) for the
  whole image; spatial style control needs an AdaIN model.
* --preserve_color is applied to the result (luminance transfer or colour
  histogram matching of the stylized image to the content); otherwise, unless
  --nostyle_palette, the palette step gives it the style images' colours
  (`keras_style.inference.style_palette.StylePalette`, in full at any --alpha).
"""

from __future__ import annotations

import dataclasses

from keras_style import color, image_io
from keras_style.cli.common import float_list, style_weight_list
from keras_style.errors import StyleError
from keras_style.inference.metanet import convex_weights
from keras_style.inference.tiling import stylize_tiled


def check_flags(spec, styles, style_weights, alpha, masks, tile: int = 0) -> None:
    """Checks the MetaNet flags without reading any file (cheap: runs first).

    Raises:
      StyleError: no style, a weight count that differs from the style count, bad
        weights, alpha outside [0, 1], or --mask.
    """
    del tile  # any tile size works: the filters are generated before tiling
    if masks:
        raise StyleError(
            f"--mask is not supported for MetaNet model {spec.source}: it generates one network per style (or mix) "
            "for the whole image; use an AdaIN model for spatial style control, or --style_weights to mix styles"
        )
    if not styles:
        raise StyleError(f"model {spec.source} is a MetaNet (arbitrary-style) model; pass --style=IMAGE[,IMAGE...]")
    style_weight_list(style_weights, len(styles), convex_weights)
    if alpha is not None and not 0.0 <= alpha <= 1.0:  # also rejects NaN
        raise StyleError(f"--alpha must be in [0, 1], got {alpha:g}")


def transfer_from_flags(
    spec, styles, style_weights, alpha, masks, tile, preserve_color, style_palette=False
) -> "MetaNetTransfer":
    """`check_flags`, then the run's `MetaNetTransfer` (the kind's `transfer` entry in the registry)."""
    check_flags(spec, styles, style_weights, alpha, masks, tile)
    return MetaNetTransfer.from_flags(styles, style_weights, alpha, preserve_color, style_palette)


@dataclasses.dataclass
class MetaNetTransfer:
    """The checked MetaNet flags of one `style_transfer` run."""

    style_paths: list
    weights: list | None = None
    alpha: float | None = None
    preserve_color: str = "none"
    style_palette: bool = False
    styles: list = dataclasses.field(default_factory=list)
    _prepared: object = None

    @classmethod
    def from_flags(cls, styles, style_weights, alpha, preserve_color="none", style_palette=False) -> "MetaNetTransfer":
        return cls(list(styles), float_list(style_weights, "style_weights"), alpha, preserve_color, style_palette)

    def load_inputs(self, content_paths, load_kwargs) -> None:
        """Decodes the style images (a missing or unreadable one is a StyleError)."""
        del content_paths
        self.styles = [image_io.load_image(path, **load_kwargs) for path in self.style_paths]

    def stylize(self, model, content, tile: int | None = 0, overlap: int = 64, style_scale: float = 1.0):
        """Stylizes one content image (already resized by --max_size); colour handled.
        `tile` 0 or None: the whole image. `style_scale` (--compute_size's factor) is not
        used: the model resizes every style to its training style size, and the
        generated network, not the style's size, sets the texture scale."""
        del style_scale
        if self._prepared is None:
            self._prepared = model.prepare_style(self.styles, self.weights)
        style = self._prepared
        alpha = model.default_alpha if self.alpha is None else self.alpha
        if alpha != 1.0:  # filters generated once per content image, not per tile
            style = model.style_for_content(style, content, alpha, tile=tile or None)
        if tile:
            result = stylize_tiled(lambda t: model.stylize(t, style=style), content, tile=tile, overlap=overlap)
        else:
            result = model.stylize(content, style=style)
        if self.preserve_color != "none":
            result = color.preserve_color(content, result, method=self.preserve_color)
        elif self.style_palette:
            result = style.palette.apply(result)
        return result
