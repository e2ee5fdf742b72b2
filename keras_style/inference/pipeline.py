"""One pipeline: a loaded `Stylizer` on any number of images, with every control.

    from keras_style.inference import load_stylizer
    from keras_style.inference.pipeline import StyleOptions, StylePipeline

    pipeline = StylePipeline(load_stylizer("adain"), StyleOptions(styles=(painting,), alpha=0.8, compute_size=512))
    for photo in photos:
        out = pipeline.stylize(photo)  # float32 (H, W, 3), the photo's size

`style_transfer`, `style_batch` (`keras_style.batch.model_handler`) and `style_evaluate`
all run images through `StylePipeline`, so each control means the same everywhere:

* compute size: an image longer than `compute_size` is stylized at that long side and
  the result resized (Lanczos) back to the image's size; an AdaIN model's style images
  are scaled by the same factor (`scaled_styles`), as VGG statistics depend on scale.
* tiles: `tile` 0 is whole images, a size stylizes in overlapping tiles
  (`tiling.stylize_tiled`), None lets the kind choose (AdaIN: `auto_tile`, a size that
  keeps the run under about 1 GB; other kinds: whole images).
* masks (AdaIN SavedModel): one (H, W) map per style, the content's size.
* colour: `preserve_color` keeps the content's colours (luminance, or histogram: AdaIN
  recolours its styles to each content image first, the paper's method); otherwise,
  with `style_palette`, the arbitrary-style result gets the style images' colours
  (`StylePalette`), after the tiles are stitched.

The style is prepared once per pipeline (AdaIN's statistics, MetaNet's generated
filters; once per style scale with `compute_size`) and reused for every image and
every tile, so a video can keep one pipeline for a whole clip. `replace(alpha=...)`
gives a pipeline with other settings that shares the prepared styles.

What differs per model kind lives in its `pipeline_steps` class (`keras_style.registry`):
`StyleSteps` for fixed-style models, `AdaINSteps`, `MetaNetSteps`. Every argument rule
is a `keras_style.checks` function, called when `StyleOptions` is built. No TensorFlow
import here: the `.tflite` path stays TensorFlow-free.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from keras_style import checks, color, image_io, registry
from keras_style.errors import StyleError
from keras_style.inference.tiling import balanced_tile, stylize_tiled

PRESERVE_COLOR_MODES = ("none", *color.METHODS)

# Below this long side a style leaves too few relu4_1 positions (8x8 here) for its statistics.
MIN_SCALED_STYLE_SIZE = 64

# With no tile size given, an AdaIN run picks one from the image size that keeps the whole
# process under AUTO_TILE_BUDGET_MB MiB resident (a 1024² photo untiled took 1.6 GiB with
# the .tflite pair, 1.9 GiB with the SavedModel). Peak memory as (fixed MiB, KiB per pixel
# of a tile), fitted to `style_transfer --tile=N` runs on a 1024² photo (BUILD.md, "Cold
# start and memory"): the .tflite pair 160 MiB (Python, LiteRT, both interpreters; the style
# encoder's own peak, ~0.25 GiB for a 512² style, is over before stylizing) + 1.25 KiB per
# tile pixel (XNNPACK's activations and indirection buffers for the VGG encoder and the
# decoder); a SavedModel 900 MiB (TensorFlow's import alone is ~0.7 GiB resident) + 0.8 KiB
# per tile pixel. Whole-image buffers (float32 content, output, blend weights) add 28 bytes
# per image pixel.
AUTO_TILE_BUDGET_MB = 950
MEMORY_MODEL = {"tflite": (160.0, 1.25), "saved_model": (900.0, 0.8)}
IMAGE_BYTES_PER_PIXEL = 28
MIN_AUTO_TILE = 256


def auto_tile(backend: str, height: int, width: int, overlap: int = 64) -> int:
    """The tile size an AdaIN run uses when none is given: 0 (whole image) if the image
    fits the memory budget, else the smallest tile (`tiling.balanced_tile`) needing no
    more tiles than the largest tile that fits, that largest tile taken as at least
    `MIN_AUTO_TILE` (and 4 x `overlap`), below which the overlaps would cost more than
    the memory saved. Balancing can return less than `MIN_AUTO_TILE` (a 512² image with
    the SavedModel: 3 tiles of 216 rather than 3 of 256), never more tiles."""
    fixed_mb, kb_per_pixel = MEMORY_MODEL.get(backend, MEMORY_MODEL["saved_model"])
    free_mb = AUTO_TILE_BUDGET_MB - fixed_mb - IMAGE_BYTES_PER_PIXEL * height * width / 2**20
    max_pixels = max(free_mb, 0.0) * 1024 / kb_per_pixel  # of one stylize call
    if height * width <= max_pixels:
        return 0
    return balanced_tile(height, width, max(int(math.sqrt(max_pixels)), MIN_AUTO_TILE, 4 * overlap), overlap)


def scaled_styles(styles, scale: float) -> list:
    """`styles` scaled by `scale` (Lanczos) when it is below 1, each kept at least
    `MIN_SCALED_STYLE_SIZE` on its long side (or its own size, if smaller)."""
    if scale >= 1.0:
        return list(styles)
    out = []
    for style in styles:
        long_side = max(style.shape[:2])
        size = min(long_side, max(round(long_side * scale), MIN_SCALED_STYLE_SIZE))
        out.append(style if size == long_side else np.clip(image_io.resize_long_side(style, size), 0.0, 255.0))
    return out


@dataclasses.dataclass(frozen=True, eq=False)
class StyleOptions:
    """What a run applies around the model, checked when built (`keras_style.checks`).

    Attributes:
      styles: style images, float (Hs, Ws, 3) RGB in [0, 255] (arbitrary-style models).
      style_weights: one weight >= 0 per style (normalised when the style is prepared);
        None: equal.
      alpha: style strength in [0, 1]; None: the model's `default_alpha`.
      masks: None, or one (H, W) map in [0, 1] per style, the content's size (AdaIN
        SavedModel; whole images only).
      style_palette: arbitrary-style models: give the result the styles' colours (unless
        `preserve_color`).
      preserve_color: "none", "luminance" or "histogram".
      tile: None (the kind chooses), 0 (whole images) or the largest tile side in pixels.
      overlap: tile overlap in pixels.
      compute_size: stylize at most this long side and resize back; None: full size.

    Raises:
      StyleError: a bad value (the `keras_style.checks` message).
    """

    styles: tuple = ()
    style_weights: tuple | None = None
    alpha: float | None = None
    masks: tuple | None = None
    style_palette: bool = True
    preserve_color: str = "none"
    tile: int | None = 0
    overlap: int = 64
    compute_size: int | None = None

    def __post_init__(self):
        def set_field(name, value):
            object.__setattr__(self, name, value)

        styles = self.styles
        if isinstance(styles, np.ndarray) and styles.ndim == 3:
            styles = (styles,)
        set_field("styles", tuple(checks.as_image(s, f"style image {k + 1}") for k, s in enumerate(styles or ())))
        if self.style_weights is not None:
            checks.normalised_weights(self.style_weights, len(self.styles))
            set_field("style_weights", tuple(float(w) for w in np.ravel(np.asarray(self.style_weights, np.float64))))
        if self.alpha is not None:
            set_field("alpha", checks.check_alpha(self.alpha))
        if self.masks is not None:
            masks = list(self.masks)
            size = np.shape(masks[0])[:2] if masks else (0, 0)
            set_field("masks", tuple(checks.check_masks(masks, len(self.styles), size)))
        if self.preserve_color not in PRESERVE_COLOR_MODES:
            raise StyleError(f"preserve_color must be one of {', '.join(PRESERVE_COLOR_MODES)}, "
                             f"got '{self.preserve_color}'")
        set_field("style_palette", bool(self.style_palette))
        tile, overlap = checks.check_tile(self.tile, self.overlap, masks=self.masks is not None)
        set_field("tile", tile)
        set_field("overlap", overlap)
        set_field("compute_size", checks.check_compute_size(self.compute_size))

    @property
    def palette(self) -> bool:
        """Whether the palette step runs: `style_palette`, unless the content's colours are kept."""
        return self.style_palette and self.preserve_color == "none"


class StyleSteps:
    """What a model kind does inside `StylePipeline`; this base is a fixed-style model's
    (no styles, no alpha, no masks; whole images unless a tile size is given; colours
    kept, if asked, from the full-size content after the compute-size resize)."""

    def check(self, stylizer, options: StyleOptions) -> None:
        """Refuses options the model cannot apply, before any image is stylized."""
        if options.styles or options.masks is not None or options.alpha not in (None, 1.0):
            raise StyleError(
                f"model '{stylizer.name}' is a fixed-style model; style images, masks and an alpha "
                "need an arbitrary-style model (adain, metanet)"
            )

    def base_styles(self, styles) -> list:
        """The style images the run keeps (AdaIN caps their size)."""
        return list(styles)

    def stylize(self, pipeline: "StylePipeline", work: np.ndarray, masks, scale: float) -> np.ndarray:
        """The result for `work` (the content at its compute size; `scale` of the full size)."""
        del masks, scale
        tile, stylizer = pipeline.options.tile or 0, pipeline.stylizer
        return stylize_tiled(stylizer, work, tile=tile, overlap=pipeline.options.overlap) if tile \
            else stylizer.stylize(work)

    def finish(self, pipeline: "StylePipeline", content: np.ndarray, result: np.ndarray) -> np.ndarray:
        """The result at the content's full size, colours kept if asked."""
        if pipeline.options.preserve_color != "none":
            return color.preserve_color(content, result, method=pipeline.options.preserve_color)
        return result


class ArbitraryStyleSteps(StyleSteps):
    """An arbitrary-style model: the style prepared once (per style scale), alpha, the
    palette step or colour preservation at the compute size, before the resize back."""

    # How messages name the kind; why its models take no masks ("" where some do).
    title = ""
    no_masks_reason = ""
    # True: histogram colour preservation recolours the style images to each content image
    # before the model (AdaIN, the paper's method); False: it recolours the result.
    recolours_styles = False

    def check(self, stylizer, options):
        if not options.styles:
            raise StyleError(
                f"model '{stylizer.name}' is an arbitrary-style ({stylizer.kind}) model; give at least one style image"
            )
        if options.masks is not None and not stylizer.supports_masks:
            raise StyleError(
                f"model '{stylizer.name}' cannot apply masks (spatial style control); use an AdaIN SavedModel"
            )

    def style_images(self, styles: list, scale: float) -> list:
        """The style images to prepare for content stylized at `scale` of its size."""
        del scale
        return styles

    def choose_tile(self, pipeline: "StylePipeline", work: np.ndarray, masks) -> int:
        del work, masks
        return pipeline.options.tile or 0

    def bind(self, stylizer, prepared, work: np.ndarray, alpha: float | None, tile: int):
        """(style, alpha) to pass to every `stylize` call for `work` and its tiles."""
        del stylizer, work, tile
        return prepared, alpha

    def stylize(self, pipeline, work, masks, scale):
        options, stylizer = pipeline.options, pipeline.stylizer
        tile = self.choose_tile(pipeline, work, masks)
        styles = self.style_images(pipeline.options.styles, scale)
        if options.preserve_color == "histogram" and self.recolours_styles:
            # Recoloured to this content: prepared once per content image.
            styles = [color.match_color_histogram(s, work) for s in styles]
            prepared = pipeline.prepare_style(styles, cache=False)
        else:
            prepared = pipeline.prepare_style(styles)
        style, alpha = self.bind(stylizer, prepared, work, options.alpha, tile)
        if masks is not None:
            result = stylizer.stylize(work, style=style, alpha=alpha, masks=masks)
        elif tile:
            result = stylize_tiled(lambda t: stylizer.stylize(t, style=style, alpha=alpha), work,
                                   tile=tile, overlap=options.overlap)
        else:
            result = stylizer.stylize(work, style=style, alpha=alpha)
        if options.preserve_color == "luminance" or (options.preserve_color == "histogram"
                                                     and not self.recolours_styles):
            result = color.preserve_color(work, result, method=options.preserve_color)
        elif options.palette:
            result = prepared.palette.apply(result, masks=masks)
        return result

    def finish(self, pipeline, content, result):
        del pipeline, content
        return result


class AdaINSteps(ArbitraryStyleSteps):
    """AdaIN: styles capped at `inference.adain.STYLE_MAX_SIZE` and scaled with the content's compute
    size; masks; `auto_tile` when no tile size is given (whole images with masks)."""

    title = "AdaIN"
    recolours_styles = True

    def base_styles(self, styles):
        # The one AdaIN style rule (`inference.adain.fit_style`): capped, and a sliver refused.
        from keras_style.inference.adain import fit_style

        return [fit_style(s, f"style image {k + 1}") for k, s in enumerate(styles)]

    def style_images(self, styles, scale):
        # VGG statistics depend on scale: a style kept at full size would be matched at the
        # small size and then enlarged with the result.
        return scaled_styles(styles, scale)

    def choose_tile(self, pipeline, work, masks):
        tile = pipeline.options.tile
        if tile is not None:
            return tile
        if masks is not None:
            return 0
        tile = auto_tile(pipeline.stylizer.backend, work.shape[0], work.shape[1], pipeline.options.overlap)
        if tile:
            pipeline.note(f"AdaIN: {work.shape[1]}x{work.shape[0]} image in tiles of {tile} px to stay under "
                          f"~{AUTO_TILE_BUDGET_MB / 1000:.0f} GB of memory")
        return tile


class MetaNetSteps(ArbitraryStyleSteps):
    """MetaNet: the filters generated once per run; with alpha < 1 once more per content
    image, from the whole image's statistics (with tiles, the tiles' pooled ones), shared
    by all its tiles. The style's size is the model's own (its training style size), so
    the compute size does not scale it."""

    title = "MetaNet"
    no_masks_reason = ("it generates one network per style (or mix) for the whole image; use an AdaIN model "
                       "for spatial style control, or style weights to mix styles")

    def bind(self, stylizer, prepared, work, alpha, tile):
        alpha = stylizer.default_alpha if alpha is None else alpha
        if alpha != 1.0:
            return stylizer.style_for_content(prepared, work, alpha, tile=tile or None), None
        return prepared, None


def steps_class(kind: registry.ModelKind, takes_style: bool) -> type[StyleSteps]:
    """The kind's registered `pipeline_steps`; the generic fixed- or arbitrary-style
    steps for a kind that registers none."""
    if kind.has("pipeline_steps"):
        return kind.part("pipeline_steps")
    return ArbitraryStyleSteps if takes_style else StyleSteps


def steps_for(stylizer) -> StyleSteps:
    """The steps of the stylizer's registered kind (`steps_class`)."""
    return steps_class(registry.get(stylizer.kind, stylizer.name), stylizer.takes_style)()


class StylePipeline:
    """Runs one loaded `Stylizer` with `StyleOptions` on any number of content images.

    Args:
      stylizer: a loaded `keras_style.inference.Stylizer`.
      options: the run's `StyleOptions`.
      note: called with a one-line note on a choice made for an image (AdaIN's automatic
        tile size); None: silent.

    Raises:
      StyleError: options the model cannot apply (a style for a fixed-style model, masks
        for a model without them, no style for an arbitrary-style one).
    """

    def __init__(self, stylizer, options: StyleOptions | None = None, note: Callable[[str], None] | None = None,
                 _shared: tuple | None = None):
        self.stylizer = stylizer
        self.options = StyleOptions() if options is None else options
        self._note = note
        if _shared is None:
            self.steps = steps_for(stylizer)
            self._prepared: dict = {}  # the prepared style's image shapes -> prepared style
        else:
            self.steps, self._prepared = _shared
        self.steps.check(stylizer, self.options)
        styles = self.steps.base_styles(self.options.styles)
        if any(a is not b for a, b in zip(styles, self.options.styles)):
            # Only the kept (capped) styles are held from here on, not the caller's originals.
            self.options = dataclasses.replace(self.options, styles=tuple(styles))

    def note(self, line: str) -> None:
        if self._note is not None:
            self._note(line)

    def replace(self, **changes) -> "StylePipeline":
        """A pipeline with some options changed (`dataclasses.replace`); it shares the
        prepared styles unless `styles` or `style_weights` change."""
        options = dataclasses.replace(self.options, **changes)
        if "styles" in changes or "style_weights" in changes:
            return StylePipeline(self.stylizer, options, self._note)
        return StylePipeline(self.stylizer, options, self._note, _shared=(self.steps, self._prepared))

    def prepare_style(self, styles: list, cache: bool = True) -> Any:
        """`stylizer.prepare_style(styles, weights)`, once per set of style image shapes."""
        if not cache:
            return self.stylizer.prepare_style(styles, self.options.style_weights)
        key = tuple(s.shape for s in styles)
        if key not in self._prepared:
            self._prepared[key] = self.stylizer.prepare_style(styles, self.options.style_weights)
        return self._prepared[key]

    def prepare(self, content: np.ndarray | None = None) -> None:
        """Prepares the style now (e.g. outside a timed call) for `content`'s compute size
        (None: full size); `stylize` would do it on first use."""
        if not self.stylizer.takes_style or (self.options.preserve_color == "histogram"
                                             and self.steps.recolours_styles):
            return
        scale = 1.0
        if content is not None:
            content = checks.as_image(content, "content image")
            scale = max(self._work(content).shape[:2]) / max(content.shape[:2])
        self.prepare_style(self.steps.style_images(list(self.options.styles), scale))

    def _work(self, content: np.ndarray) -> np.ndarray:
        """`content` at the compute size (itself when it is no longer)."""
        limit = self.options.compute_size
        if limit and max(content.shape[:2]) > limit:
            return np.clip(image_io.resize_long_side(content, limit), 0.0, 255.0)
        return content

    def stylize(self, content: np.ndarray) -> np.ndarray:
        """Stylizes one float (H, W, 3) image in [0, 255]; float32 of its size.

        Raises:
          StyleError: a bad image, masks not of its size, or what the model refuses.
        """
        content = checks.as_image(content, "content image")
        options = self.options
        masks = None
        if options.masks is not None:
            masks = checks.check_masks(options.masks, len(options.styles), content.shape[:2])
        work = self._work(content)
        if work is not content:
            if masks is not None:  # checked at the full size, resized with the content
                masks = [np.clip(image_io.resize_image(m[..., None], work.shape[:2])[..., 0], 0.0, 1.0)
                         for m in masks]
        scale = max(work.shape[:2]) / max(content.shape[:2])
        result = self.steps.stylize(self, work, masks, scale)
        if work is not content:
            result = np.clip(image_io.resize_image(result, content.shape[:2]), 0.0, 255.0)
        return self.steps.finish(self, content, result)
