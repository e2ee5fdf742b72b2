"""Exporting style models for serving: SavedModels (TF Serving) and `.tflite` files (phones).

    from keras_style.export import export_fast_style_model, convert_saved_model_to_tflite, parity_check
    export_fast_style_model(model, "exports/starry_night/saved_model", style_name="starry_night")
    convert_saved_model_to_tflite("exports/starry_night/saved_model",
                                  "exports/starry_night/starry_night_fp16.tflite", quantize="float16")

TensorFlow is imported when a function is called, not on import.
"""

from keras_style.export.fast_style import export_fast_style_model
from keras_style.export.saved_model import (
    add_image_signatures,
    atomic_export_dir,
    check_export_dir,
    export_image_model,
)
from keras_style.export.tflite import QUANTIZE_MODES, convert_saved_model_to_tflite, parity_check

__all__ = [
    "QUANTIZE_MODES",
    "add_image_signatures",
    "atomic_export_dir",
    "check_export_dir",
    "convert_saved_model_to_tflite",
    "export_fast_style_model",
    "export_image_model",
    "parity_check",
]
