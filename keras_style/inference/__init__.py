"""Running exported style models: SavedModels (TensorFlow) and `.tflite` files (LiteRT).

    from keras_style.inference import load_stylizer, stylize_tiled
    stylizer = load_stylizer("starry_night")          # or a SavedModel dir / FILE.tflite
    out = stylizer.stylize(image)                      # float32 (H, W, 3) in [0, 255]
    big = stylize_tiled(stylizer, image, tile=512)    # bounded memory

    adain = load_stylizer("adain")                     # any painting
    style = adain.prepare_style([painting])
    out = style.palette.apply(adain.stylize(photo, style=style, alpha=0.6))  # + the palette step

    pipeline = StylePipeline(adain, StyleOptions(styles=(painting,), alpha=0.6, compute_size=512))
    out = pipeline.stylize(photo)                      # every control, as style_transfer runs it

Nothing here imports TensorFlow until a SavedModel is loaded.
"""

from keras_style.inference.model_spec import (
    ModelSpec,
    load_stylizer,
    read_metadata,
    resolve_model,
    shipped_model_names,
    shipped_models_dirs,
)
from keras_style.inference.pipeline import StyleOptions, StylePipeline
from keras_style.inference.style_palette import StylePalette
from keras_style.inference.stylizer import Stylizer
from keras_style.inference.tiling import stylize_tiled

__all__ = [
    "ModelSpec",
    "StyleOptions",
    "StylePalette",
    "StylePipeline",
    "Stylizer",
    "load_stylizer",
    "read_metadata",
    "resolve_model",
    "shipped_model_names",
    "shipped_models_dirs",
    "stylize_tiled",
]
