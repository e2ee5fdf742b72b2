"""style_transfer's AdaIN options: --style, --style_weights, --alpha, --mask, --preserve_color,
--style_palette.

`style_transfer` calls, in order: `check_flags` (cheap, before anything is read),
`AdaINTransfer.load_inputs` (decodes the style images and masks, checks the masks
against every content image; still before any output is written), and
`AdaINTransfer.stylize` per content image, after the model is loaded.

* The style statistics are computed once per run (`prepare_style`: one
  `style_encode` per style image, mixed by --style_weights) and reused for every
  content image and every tile. With --preserve_color=histogram the style images
  are first recoloured to each content image's colour mean and covariance (the
  paper's method), so the statistics are computed once per content image.
* Unless --preserve_color or --nostyle_palette, the palette step gives each result
  the style images' colours (`keras_style.inference.style_palette.StylePalette`: mixed by
  --style_weights, each style in its --mask region; in full at any --alpha), once
  the tiles are stitched, so that tiles share one colour map.
* --mask (one grayscale image per style, the content's size; white = apply that
  style) runs the SavedModel's `stylize_masked` signature: feature-space
  blending, as `keras_style.adain.stylize` does. It needs the SavedModel (the
  .tflite pair has no masked signature) and whole images (no --tile: the masks
  are not cut into tiles).
* Style images larger than `STYLE_MAX_SIZE` on their long side are scaled down to
  it (the paper's test-time default): only their statistics are used, and those
  of a 4000-pixel scan mostly measure its resolution, not its style.
* With --compute_size the style images are scaled by the same factor as the
  content (`style_scale`; not below `MIN_SCALED_STYLE_SIZE`): VGG statistics
  depend on scale, and a style kept at full size is matched at the small size and
  then enlarged with the result. On the examples the scaled run is as close to a
  full-size run, and encoding the style costs a sixth
  (benchmarks/compute_size_benchmark.py).
"""

from __future__ import annotations

import dataclasses
import math
import sys

import numpy as np

from keras_style import color, image_io
from keras_style.checks import normalised_weights
from keras_style.cli.common import float_list, style_weight_list
from keras_style.errors import StyleError
from keras_style.inference.tiling import stylize_tiled

STYLE_MAX_SIZE = 512
# Below this long side a style leaves too few relu4_1 positions (8x8 here) for its statistics.
MIN_SCALED_STYLE_SIZE = 64

# Without --tile, an AdaIN run picks a tile size from the image size that keeps the whole
# process under AUTO_TILE_BUDGET_MB MiB resident (a 1024² photo untiled took 1.6 GiB with
# the .tflite pair, 1.9 GiB with the SavedModel). Peak memory as (fixed MiB, KiB per pixel
# of a tile), fitted to `style_transfer --tile=N` runs on a 1024² photo on the project's
# 2-core CPU machine (TensorFlow 2.21, ai-edge-litert 2.3; BUILD.md, "Cold start and
# memory"): the .tflite pair 160 MiB (Python, LiteRT, both interpreters; the style
# encoder's own peak, ~0.25 GiB for a 512² style, is over before stylizing) + 1.25 KiB per
# tile pixel (XNNPACK's activations and indirection buffers for the VGG encoder and the
# decoder); a SavedModel 900 MiB (TensorFlow's import alone is ~0.7 GiB resident) + 0.8 KiB
# per tile pixel. Whole-image buffers (float32 content, output, blend weights) add 28 bytes
# per image pixel.
AUTO_TILE_BUDGET_MB = 950
_MEMORY_MODEL = {"tflite": (160.0, 1.25), "saved_model": (900.0, 0.8)}
_IMAGE_BYTES_PER_PIXEL = 28
MIN_AUTO_TILE = 256


def auto_tile(backend: str, height: int, width: int, overlap: int = 64) -> int:
    """The tile size an AdaIN run uses without --tile: 0 (whole image) if the image fits the
    memory budget, else the smallest tile (`tiling.balanced_tile`) needing no more tiles
    than the largest tile that fits, that largest tile taken as at least `MIN_AUTO_TILE`
    (and 4 x `overlap`), below which the overlaps would cost more than the memory saved.
    Balancing can return less than `MIN_AUTO_TILE` (a 512² image with the SavedModel: 3
    tiles of 216 rather than 3 of 256), never more tiles."""
    from keras_style.inference.tiling import balanced_tile

    fixed_mb, kb_per_pixel = _MEMORY_MODEL.get(backend, _MEMORY_MODEL["saved_model"])
    free_mb = AUTO_TILE_BUDGET_MB - fixed_mb - _IMAGE_BYTES_PER_PIXEL * height * width / 2**20
    max_pixels = max(free_mb, 0.0) * 1024 / kb_per_pixel  # of one stylize call
    if height * width <= max_pixels:
        return 0
    return balanced_tile(height, width, max(int(math.sqrt(max_pixels)), MIN_AUTO_TILE, 4 * overlap), overlap)


def check_flags(spec, styles, style_weights, alpha, masks, tile: int) -> None:
    """Checks the AdaIN flags without reading any file (cheap: runs first).

    Raises:
      StyleError: no style, a weight or mask count that differs from the style
        count, bad weights, alpha outside [0, 1], masks with --tile or a .tflite model.
    """
    if not styles:
        raise StyleError(
            f"model {spec.source} is an AdaIN (arbitrary-style) model; pass --style=IMAGE[,IMAGE...]"
        )
    style_weight_list(style_weights, len(styles), normalised_weights)
    if alpha is not None and not 0.0 <= alpha <= 1.0:  # also rejects NaN
        raise StyleError(f"--alpha must be in [0, 1], got {alpha:g}")
    if masks:
        if len(masks) != len(styles):
            raise StyleError(
                f"--mask has {len(masks)} file(s) for {len(styles)} --style image(s); give one mask per style"
            )
        if tile:
            raise StyleError("--mask works on whole images; drop --tile (or use --max_size to bound memory)")
        if spec.format != "saved_model":
            raise StyleError(
                f"--mask needs the AdaIN SavedModel (the .tflite pair has no masked signature); "
                f"model {spec.source} is a {spec.format} model"
            )


def transfer_from_flags(
    spec, styles, style_weights, alpha, masks, tile, preserve_color, style_palette=False
) -> "AdaINTransfer":
    """`check_flags`, then the run's `AdaINTransfer` (the kind's `transfer` entry in the registry)."""
    check_flags(spec, styles, style_weights, alpha, masks, tile)
    return AdaINTransfer.from_flags(styles, style_weights, alpha, masks, preserve_color, style_palette)


@dataclasses.dataclass
class AdaINTransfer:
    """The checked AdaIN flags of one `style_transfer` run."""

    style_paths: list
    weights: list | None = None
    alpha: float | None = None
    mask_paths: list | None = None
    preserve_color: str = "none"
    style_palette: bool = False
    styles: list = dataclasses.field(default_factory=list)
    masks: list | None = None
    _prepared: dict = dataclasses.field(default_factory=dict)  # the scaled styles' shapes -> prepared style

    @classmethod
    def from_flags(cls, styles, style_weights, alpha, masks, preserve_color, style_palette=False) -> "AdaINTransfer":
        return cls(list(styles), float_list(style_weights, "style_weights"), alpha, list(masks or []) or None,
                   preserve_color, style_palette)

    def load_inputs(self, content_paths, load_kwargs) -> None:
        """Decodes the style images and masks; checks each mask against each content image.

        Raises:
          StyleError: a missing or unreadable file, or a mask whose size differs
            from a content image's ("mask is HxW, content is HxW").
        """
        self.styles = []
        for path in self.style_paths:
            style = image_io.load_image(path, **load_kwargs)
            if max(style.shape[:2]) > STYLE_MAX_SIZE:
                style = np.clip(image_io.resize_long_side(style, STYLE_MAX_SIZE), 0.0, 255.0)
            self.styles.append(style)
        if not self.mask_paths:
            return
        # Masks: grayscale (a colour image is averaged over its channels), 0..255 -> 0..1.
        self.masks = [image_io.load_image(path, **load_kwargs).mean(axis=-1) / 255.0 for path in self.mask_paths]
        for content_path in content_paths:
            height, width = _image_size(content_path)
            for mask_path, mask in zip(self.mask_paths, self.masks):
                if mask.shape != (height, width):
                    raise StyleError(
                        f"mask is {mask.shape[0]}x{mask.shape[1]}, content is {height}x{width} (height x width): "
                        f"--mask '{mask_path}' must be the size of --content '{content_path}'"
                    )

    def stylize(
        self, model, content: np.ndarray, tile: int | None = 0, overlap: int = 64, style_scale: float = 1.0
    ) -> np.ndarray:
        """Stylizes one content image (already resized by --max_size); colour handled.

        The masks, checked against the full-size content, are resized with it.
        `tile`: 0 for the whole image, None for `auto_tile`'s choice (whole images with masks).
        `style_scale`: below 1, `content` was scaled down by it (--compute_size) and the
        style images are scaled alike (`scaled_styles`).
        """
        if tile is None:
            tile = 0 if self.masks else auto_tile(model.backend, content.shape[0], content.shape[1], overlap)
            if tile:
                print(f"AdaIN: {content.shape[1]}x{content.shape[0]} image in tiles of {tile} px to stay under "
                      f"~{AUTO_TILE_BUDGET_MB / 1000:.0f} GB of memory (--tile=0: whole image)",
                      file=sys.stderr, flush=True)
        styles = scaled_styles(self.styles, style_scale)
        if self.preserve_color == "histogram":
            # The paper's colour preservation: recolour the styles to this content, then stylize.
            styles = [color.match_color_histogram(s, content) for s in styles]
            prepared = model.prepare_style(styles, self.weights)
        else:
            key = tuple(s.shape for s in styles)
            if key not in self._prepared:
                self._prepared[key] = model.prepare_style(styles, self.weights)
            prepared = self._prepared[key]
        masks = None
        if self.masks:
            masks = [
                m if m.shape == content.shape[:2]
                else np.clip(image_io.resize_image(m[..., None], content.shape[:2])[..., 0], 0.0, 1.0)
                for m in self.masks
            ]
            result = model.stylize(content, style=prepared, alpha=self.alpha, masks=masks)
        elif tile:
            result = stylize_tiled(
                lambda t: model.stylize(t, style=prepared, alpha=self.alpha), content, tile=tile, overlap=overlap
            )
        else:
            result = model.stylize(content, style=prepared, alpha=self.alpha)
        if self.preserve_color == "luminance":
            result = color.preserve_color(content, result, method="luminance")
        elif self.style_palette:
            result = prepared.palette.apply(result, masks=masks)
        return result


def scaled_styles(styles: list, scale: float) -> list:
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


def _image_size(path) -> tuple[int, int]:
    """(height, width) of an image file as `load_image` returns it (EXIF rotation applied),
    from its header: cheap, the command has already decoded every content image once."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            width, height = image.size
            if image.getexif().get(0x0112) in (5, 6, 7, 8):  # rotated by 90 degrees
                width, height = height, width
    except OSError as e:
        raise StyleError(f"cannot read image '{path}': {e}") from None
    return height, width
