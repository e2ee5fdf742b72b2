"""Exporting style models for serving: SavedModels (TF Serving) and `.tflite` files (phones).

    from keras_style.export import export_fast_style_model, convert_saved_model_to_tflite, parity_check
    export_fast_style_model(model, "exports/starry_night/saved_model", style_name="starry_night")
    convert_saved_model_to_tflite("exports/starry_night/saved_model",
                                  "exports/starry_night/starry_night_fp16.tflite", quantize="float16")

Every kind exports through one flow, `keras_style.export.base.Exporter` (subclasses
`FastStyleExporter`, `AdaINExporter`, `MetaNetExporter`). TensorFlow is imported when a
function is called, not on import.
"""

from keras_style.export.base import Exporter, ExportResult
from keras_style.export.fast_style import FastStyleExporter, export_fast_style_model
from keras_style.export.saved_model import (
    atomic_export_dir,
    check_export_dir,
    export_image_model,
    image_signatures,
)
from keras_style.export.tflite import QUANTIZE_MODES, convert_saved_model_to_tflite, parity_check

__all__ = [
    "ExportResult",
    "Exporter",
    "FastStyleExporter",
    "QUANTIZE_MODES",
    "atomic_export_dir",
    "check_export_dir",
    "convert_saved_model_to_tflite",
    "export_fast_style_model",
    "export_image_model",
    "image_signatures",
    "parity_check",
]
