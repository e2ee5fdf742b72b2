"""Exporting a fast style transfer network (Johnson's TransformNet) as a SavedModel."""

from __future__ import annotations

import os

from keras_style.errors import StyleError
from keras_style.export import base, saved_model, serving_checks, tflite

KIND = "fast_style"


def export_fast_style_model(
    model,
    export_dir: str | os.PathLike,
    overwrite: bool = False,
    *,
    style_name: str | None = None,
    extra_metadata: dict | None = None,
    weights_dtype: str = "float32",
    max_image_pixels: int = serving_checks.DEFAULT_MAX_PIXELS,
) -> str:
    """Writes a fixed-style image-to-image model as a SavedModel for TF Serving and TFLite.

    Signatures (tensor names in quotes):

    * `serving_default`: "images" uint8 [N, H, W, 3] -> "stylized" uint8
      (rounded, clipped to [0, 255]).
    * `stylize_float`: "images" float32 [N, H, W, 3] in [0, 255] ->
      "stylized" float32. Convert this one to TFLite
      (`keras_style.export.convert_saved_model_to_tflite`).
    * `stylize_bytes`: "image_bytes" string [N] (encoded JPEG / PNG / GIF /
      BMP) -> "stylized_bytes" string [N] (PNG). All images in one request
      must have the same size (they are stacked into one batch); send
      differently sized images in separate requests. Images of more than
      `max_image_pixels` pixels are refused before they are decoded.

    Every signature checks its request first (`serving_checks`): a wrong rank
    or channel count, or a NaN or infinite value, fails with InvalidArgument
    and a readable message.

    Any H and W work (`TransformNet` pads and crops inside). The directory
    also gets `keras_style.json` (kind "fast_style", base, style name, Keras
    and TensorFlow versions), which `keras_style.inference.load_stylizer`
    reads. The SavedModel is written beside `export_dir` and renamed into
    place, so a failed export leaves nothing and a watcher never sees half a
    model.

    Args:
      model: a Keras model mapping float32 [N, H, W, 3] images in [0, 255] to
        the same, e.g. `keras_style.models.TransformNet`.
      export_dir: directory to create; a missing parent is created.
      overwrite: replace an existing SavedModel there. A non-empty directory
        that holds no SavedModel is never replaced.
      style_name: recorded in the metadata (e.g. "starry_night").
      extra_metadata: further JSON-serialisable metadata fields.
      weights_dtype: "float16" stores the weights in half the bytes (read back as float32,
        `saved_model.stored_as`); "float32" as trained.
      max_image_pixels: the largest image `stylize_bytes` decodes (the commands'
        decompression-bomb limit by default), recorded in `keras_style.json`.

    Returns:
      The absolute path of the SavedModel directory.

    Raises:
      StyleError: the model does not take RGB images, or `export_dir` is
        unusable or exists (without `overwrite`).
    """
    exporter = FastStyleExporter(model, style_name=style_name)
    return exporter.export(export_dir, overwrite, extra_metadata, weights_dtype, max_image_pixels)


class FastStyleExporter(base.Exporter):
    """A fixed-style image-to-image model: the three image signatures, one `.tflite` file.

    Args:
      model: see `export_fast_style_model`; None to convert a SavedModel only.
      style_name: recorded in the metadata.
    """

    kind = KIND
    title = "a fast-style"
    accepts_unlabelled = True  # exported before keras_style.json existed

    def __init__(self, model=None, style_name: str | None = None):
        if model is not None:
            import keras

            if not isinstance(model, keras.Model):
                raise StyleError(f"export_fast_style_model needs a Keras model, got {type(model).__name__}")
            inputs = getattr(model, "inputs", None) or []
            if len(inputs) != 1 or tuple(inputs[0].shape)[-1:] != (3,) or len(inputs[0].shape) != 4:
                shapes = [tuple(i.shape) for i in inputs]
                raise StyleError(f"a fast-style model takes one (N, H, W, 3) image input; this one takes {shapes}")
        super().__init__(model)
        self.style_name = style_name

    def signatures(self):
        return saved_model.image_signatures(lambda images: self.model(images, training=False),
                                            max_pixels=self.max_image_pixels)

    def metadata(self):
        return {"base": getattr(self.model, "base", None), "style": self.style_name,
                "model_class": type(self.model).__name__}

    def parity(self, saved_model_dir, staged, content):
        result = tflite.parity_check(saved_model_dir, staged["model"], [content])
        return base.Parity(result["max_abs_diff"], result["mean_abs_diff"], result)
