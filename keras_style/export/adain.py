"""Exporting an AdaIN arbitrary-style model as a SavedModel, and its TFLite pair.

    from keras_style.export.adain import export_adain_model, convert_adain_to_tflite
    export_adain_model(model, "saved_models/adain/saved_model")
    convert_adain_to_tflite("saved_models/adain/saved_model", "saved_models/adain/", quantize="float16")
    # -> saved_models/adain/adain_style_encode_fp16.tflite + adain_stylize_fp16.tflite

Signatures (tensor names in quotes; every batch dimension is 1, H and W are free):

* `serving_default`: "content" uint8 [1, H, W, 3], "style" uint8 [1, Hs, Ws, 3],
  "alpha" float32 [1] -> "stylized" uint8 [1, H, W, 3]. One request, one image.
* `stylize_bytes`: "content_bytes", "style_bytes" string [1] (JPEG / PNG / GIF /
  BMP), "alpha" float32 [1] -> "stylized_bytes" string [1] (PNG). JPEGs are
  turned upright by their EXIF orientation, as the commands do.
* `style_encode`: "style" float32 [1, Hs, Ws, 3] in [0, 255] ->
  "style_statistics" float32 [1, 1024]: the relu4_1 channel means (512) then
  standard deviations (512). Compute it once per style; statistics of several
  styles mix linearly (`keras_style.adain.mix_statistics`: weighted sums of the
  vectors, weights summing to 1).
* `stylize`: "content" float32 [1, H, W, 3] in [0, 255], "style_statistics"
  float32 [1, 1024], "alpha" float32 [1] -> "stylized" float32 [1, H, W, 3] (not
  clipped).
* `stylize_masked` (spatial control, SavedModel only): "content" float32
  [1, H, W, 3], "style_statistics" float32 [K, 1024] (one row per style),
  "masks" float32 [1, H, W, K] in [0, 1] (content-sized, one channel per style),
  "style_weights" float32 [K], "alpha" float32 [1] -> "stylized" float32. The
  paper's feature-space blending, exactly as `keras_style.adain.stylize` with
  `masks`: the masks are area-resized to the relu4_1 grid, scaled by the weights
  and normalised per feature pixel; each pixel's AdaIN target uses the blend of
  the styles' statistics there, and pixels no mask covers keep the content's
  features. One decoder pass for any number of styles.

`alpha` is the style strength, clipped to [0, 1] in the graph (the command-line
tools reject values outside).

Every signature checks its request first (`serving_checks`): shapes and ranks as
above, finite values, masks in [0, 1], non-negative style weights, and at most the
export's `max_image_pixels` per encoded image; a bad request fails with InvalidArgument
and a readable message. The loaded SavedModel is also callable as TF Hub's arbitrary
style modules are (`hub.load(path)(content, style)[0]`: float32 [1, H, W, 3] images in
[0, 1] -> a list of one [1, H, W, 3] picture in [0, 1], at the model's default alpha). With `alpha` of shape [1], every input has batch
dimension 1, so TF Serving's REST row format works:
`{"instances": [{"content": [[[r, g, b], ...]], "style": ..., "alpha": 0.8}]}`.

TFLite (`convert_adain_to_tflite`): `style_encode` and `stylize` are converted
into two files, each holding one signature of TFLite builtin ops with dynamic
[1, None, None, 3] images: `<prefix>_style_encode_<q>.tflite` and
`<prefix>_stylize_<q>.tflite`, with <q> fp32 / fp16 / dynamic for `quantize`
none / float16 / dynamic. A phone runs `style_encode` once per style (or ships
precomputed statistics) and `stylize` once per frame. Full-integer int8 is not
offered: the style statistics and features span 0..~5000, and calibration
would need representative content, style and statistics triples.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from keras_style.errors import StyleError
from keras_style.checks import check_alpha
from keras_style.export import base, saved_model, tflite
from keras_style.export import serving_checks as checks
from keras_style.inference.adain import (
    STATISTICS,
    STYLE_ENCODE,
    STYLIZE,
    STYLIZE_MASKED,
    AdaINSavedModelStylizer,
    AdaINTFLiteStylizer,
    tflite_pair_paths,
)
from keras_style.inference.stylizer import DEFAULT_ALPHA_KEY

KIND = "adain"
SERVING_DEFAULT = saved_model.SERVING_DEFAULT
STYLIZE_BYTES = saved_model.STYLIZE_BYTES
STYLIZED = saved_model.IMAGES_OUTPUT
STYLIZED_BYTES = saved_model.BYTES_OUTPUT
# The signatures `convert_adain_to_tflite` converts, one file each.
TFLITE_SIGNATURES = (STYLE_ENCODE, STYLIZE)

_SIGNATURE_DOCS = {
    SERVING_DEFAULT: "content uint8 [1,H,W,3], style uint8 [1,Hs,Ws,3], alpha float32 [1] -> stylized uint8",
    STYLIZE_BYTES: "content_bytes, style_bytes string [1] (JPEG/PNG/GIF/BMP), alpha float32 [1] -> "
    "stylized_bytes PNG [1]",
    STYLE_ENCODE: "style float32 [1,Hs,Ws,3] in [0,255] -> style_statistics float32 [1,1024] "
    "(relu4_1 channel means, then standard deviations)",
    STYLIZE: "content float32 [1,H,W,3], style_statistics float32 [1,1024], alpha float32 [1] -> "
    "stylized float32",
    STYLIZE_MASKED: "content float32 [1,H,W,3], style_statistics float32 [K,1024], masks float32 [1,H,W,K] "
    "in [0,1], style_weights float32 [K], alpha float32 [1] -> stylized float32 (feature-space blending)",
}


def export_adain_model(
    model,
    export_dir: str | os.PathLike,
    overwrite: bool = False,
    *,
    extra_metadata: dict | None = None,
    weights_dtype: str = "float32",
    max_image_pixels: int = checks.DEFAULT_MAX_PIXELS,
) -> str:
    """Writes an `AdaINStyleTransfer` as a SavedModel for TF Serving and TFLite.

    See the module docstring for the signatures. The directory also gets
    `keras_style.json` (kind "adain", the statistics layout, versions), which
    `keras_style.inference.load_stylizer` reads. Written beside `export_dir`
    and renamed into place (`saved_model.atomic_export_dir`): a failed export
    leaves nothing, and a watcher never sees half a model.

    Args:
      model: a `keras_style.models.adain_model.AdaINStyleTransfer`.
      export_dir: directory to create; a missing parent is created.
      overwrite: replace an existing SavedModel there (a non-empty directory
        holding no SavedModel is never replaced).
      extra_metadata: further JSON-serialisable metadata (e.g. training settings).
      weights_dtype: "float16" stores the weights in half the bytes (read back as float32,
        `saved_model.stored_as`); "float32" as trained.
      max_image_pixels: the largest image `stylize_bytes` decodes (the commands'
        decompression-bomb limit by default), recorded in `keras_style.json`.

    Returns:
      The absolute path of the SavedModel directory.

    Raises:
      StyleError: `model` is not an AdaIN model, or `export_dir` is unusable or
        exists (without `overwrite`).
    """
    return AdaINExporter(model).export(export_dir, overwrite, extra_metadata, weights_dtype, max_image_pixels)


class AdaINExporter(base.Exporter):
    """An AdaIN model: the five signatures of the module docstring; a TFLite pair
    (`style_encode`, `stylize`) checked end to end on a content and a style image."""

    kind = KIND
    title = "an AdaIN"
    refused_quantize = {"int8": (
        "--quantize=int8 (full-integer) is not supported for AdaIN models; use float16 or dynamic "
        "(dynamic-range int8 weights)"
    )}
    parity_inputs = ("content", "style")

    def __init__(self, model=None):
        if model is not None:
            from keras_style.models.adain_model import AdaINStyleTransfer

            if not isinstance(model, AdaINStyleTransfer):
                raise StyleError(f"export_adain_model needs an AdaINStyleTransfer, got {type(model).__name__}")
        super().__init__(model)

    @property
    def channels(self) -> int:
        return int(self.model.decoder.input_shape[-1])

    def signatures(self):
        import tensorflow as tf

        functions = _serving_functions(self.model, self.channels, self.max_image_pixels)
        image = [1, None, None, 3]
        alpha = tf.TensorSpec([1], tf.float32, name="alpha")
        statistics = tf.TensorSpec([1, 2 * self.channels], tf.float32, name=STATISTICS)
        return {
            SERVING_DEFAULT: (functions["serving_default"], [
                tf.TensorSpec(image, tf.uint8, name="content"), tf.TensorSpec(image, tf.uint8, name="style"), alpha]),
            STYLIZE_BYTES: (functions["stylize_bytes"], [
                tf.TensorSpec([1], tf.string, name="content_bytes"), tf.TensorSpec([1], tf.string, name="style_bytes"),
                alpha]),
            STYLE_ENCODE: (functions["style_encode"], [tf.TensorSpec(image, tf.float32, name="style")]),
            STYLIZE: (functions["stylize"], [tf.TensorSpec(image, tf.float32, name="content"), statistics, alpha]),
            STYLIZE_MASKED: (functions["stylize_masked"], [
                tf.TensorSpec(image, tf.float32, name="content"),
                tf.TensorSpec([None, 2 * self.channels], tf.float32, name=STATISTICS),
                tf.TensorSpec([1, None, None, None], tf.float32, name="masks"),
                tf.TensorSpec([None], tf.float32, name="style_weights"),
                alpha,
            ]),
        }

    def call_function(self, metadata):
        import tensorflow as tf

        alpha = check_alpha(metadata.get(DEFAULT_ALPHA_KEY, 1.0), "the default alpha")
        functions = _serving_functions(self.model, self.channels, self.max_image_pixels, alpha)
        image = tf.TensorSpec([1, None, None, 3], tf.float32)
        return functions[base.CALL], [image, image]

    def metadata(self):
        channels = self.channels
        return {
            "model_class": type(self.model).__name__,
            "epsilon": self.model.epsilon,
            "statistics_size": 2 * channels,
            "statistics_layout":
                f"relu4_1 channel means [0:{channels}], standard deviations [{channels}:{2 * channels}]",
            "signatures": dict(_SIGNATURE_DOCS),
            "tflite_signatures": list(TFLITE_SIGNATURES),
        }

    def tflite_files(self, output, quantize):
        return [base.TFLiteFile(key, path, (key,)) for key, path in tflite_pair_paths(output, quantize).items()]

    def parity(self, saved_model_dir, staged, content, style):
        result = parity_check_pair(saved_model_dir, staged[STYLE_ENCODE], staged[STYLIZE], [content], [style])
        details = (f"stylize alone max abs diff {result['stylize_max_abs_diff']:.4g}, "
                   f"mean abs diff {result['stylize_mean_abs_diff']:.4g}; "
                   f"style statistics max rel diff {result['statistics_max_rel_diff']:.3g}")
        return base.Parity(result["max_abs_diff"], result["mean_abs_diff"], result, details)


def _serving_functions(model, channels: int, max_pixels: int = checks.DEFAULT_MAX_PIXELS,
                       default_alpha: float = 1.0) -> dict:
    """The signatures' Python functions, built from the model's shared pieces; each checks
    its request first (`serving_checks`)."""
    import tensorflow as tf

    size = 2 * channels

    def alpha_column(alpha):
        return tf.reshape(tf.clip_by_value(tf.cast(alpha, tf.float32), 0.0, 1.0), [1, 1])

    def alpha_rules(alpha):
        return checks.tensor(alpha, "alpha", [1], "float32 [1], the style strength from 0 to 1")

    def statistics_rules(statistics, rows, rows_text):
        return checks.tensor(statistics, STATISTICS, [rows, size],
                             f"float32 [{rows_text}, {size}] (the style_encode output: channel means, then "
                             "standard deviations)")

    def to_uint8(images):
        return tf.cast(tf.round(tf.clip_by_value(images, 0.0, 255.0)), tf.uint8)

    def one_shot(content, style, alpha):
        # The Keras model itself: what training's sample images and `model(...)` compute.
        return tf.cast(model([content, style, alpha_column(alpha)], training=False), tf.float32)

    def encode(style):
        mean, std = model.style_statistics(style)
        return tf.cast(tf.concat([mean, std], axis=-1), tf.float32)

    def stylize_from(content, statistics, alpha):
        return tf.cast(model.stylize_from_statistics(
            content, statistics[:, :channels], statistics[:, channels:], alpha_column(alpha)
        ), tf.float32)

    def decode_image(data, name):
        return checks.decode_image(data[0], name, max_pixels)[None]

    def serving_default(content, style, alpha):
        content, style, alpha = checks.checked(
            checks.image(content, "content", batch=1), checks.image(style, "style", batch=1), alpha_rules(alpha))
        return {STYLIZED: to_uint8(one_shot(tf.cast(content, tf.float32), tf.cast(style, tf.float32), alpha))}

    def stylize_bytes(content_bytes, style_bytes, alpha):
        content_bytes, style_bytes, alpha = checks.checked(
            checks.tensor(content_bytes, "content_bytes", [1], "string [1] (one encoded image)"),
            checks.tensor(style_bytes, "style_bytes", [1], "string [1] (one encoded image)"), alpha_rules(alpha))
        content = decode_image(content_bytes, "content_bytes")
        style = decode_image(style_bytes, "style_bytes")
        stylized = to_uint8(one_shot(content, style, alpha))
        return {STYLIZED_BYTES: tf.io.encode_png(stylized[0])[None]}

    def style_encode(style):
        style = checks.checked(checks.image(style, "style", batch=1))
        return {STATISTICS: encode(style)}

    def stylize(content, style_statistics, alpha):
        content, style_statistics, alpha = checks.checked(
            checks.image(content, "content", batch=1), statistics_rules(style_statistics, 1, "1"), alpha_rules(alpha))
        return {STYLIZED: stylize_from(content, style_statistics, alpha)}

    def stylize_masked(content, style_statistics, masks, style_weights, alpha):
        # Read from the padded run-time shapes: any rank is safe to measure.
        count = checks.dim(style_statistics, 0)
        content, style_statistics, masks, style_weights, alpha = checks.checked(
            checks.image(content, "content", batch=1),
            statistics_rules(style_statistics, None, "K"),
            checks.tensor(masks, "masks", [1, checks.dim(content, 1), checks.dim(content, 2), count],
                          "float32 [1, H, W, K]: the content height and width, one channel per style_statistics "
                          "row"),
            checks.in_range(masks, "masks", 0.0, 1.0),
            checks.tensor(style_weights, "style_weights", [count], "float32 [K], one per style_statistics row"),
            checks.non_negative(style_weights, "style_weights"),
            alpha_rules(alpha),
        )
        # Blending is done in float32 whatever the model computes in (a bfloat16 copy's
        # layers return bfloat16).
        features = tf.cast(model.encode_content(content), tf.float32)  # (1, h, w, C)
        # (1, h, w, K): area-resized masks, scaled by the weights, normalised to sum to 1.
        coefficients = tf.cast(model.feature_masks(masks), tf.float32) * tf.reshape(style_weights, [1, 1, 1, -1])
        total = tf.reduce_sum(coefficients, axis=-1, keepdims=True)
        covered = total > 0.0
        coefficients = tf.where(covered, coefficients / tf.where(covered, total, tf.ones_like(total)), 0.0)
        # Σ_k c_k AdaIN(f, mean_k, std_k) = n(f) · Σ_k c_k std_k + Σ_k c_k mean_k (AdaIN is affine in
        # the statistics), with n(f) the instance-normalised features.
        mean_map = tf.einsum("nhwk,kc->nhwc", coefficients, style_statistics[:, :channels])
        std_map = tf.einsum("nhwk,kc->nhwc", coefficients, style_statistics[:, channels:])
        normalized = tf.cast(model.adain([features, tf.zeros([1, channels]), tf.ones([1, channels])]), tf.float32)
        target = tf.where(covered, normalized * std_map + mean_map, features)
        alpha = tf.reshape(alpha_column(alpha), [1, 1, 1, 1])
        decoded = model.decode(features + alpha * (target - features), content)
        return {STYLIZED: tf.cast(decoded, tf.float32)}

    def hub_call(content, style):
        # TF Hub's arbitrary-style convention (Magenta's module): [0, 1] images in, a list
        # holding the [0, 1] picture out; the style strength is the model's default alpha,
        # as `style_transfer` runs it.
        content, style = checks.checked(
            checks.image(content, "content", batch=1, value_range="in [0, 1]"), checks.unit_range(content, "content"),
            checks.image(style, "style", batch=1, value_range="in [0, 1]"), checks.unit_range(style, "style"))
        statistics = encode(tf.clip_by_value(style, 0.0, 1.0) * 255.0)
        alpha = tf.constant([default_alpha], tf.float32)
        stylized = stylize_from(tf.clip_by_value(content, 0.0, 1.0) * 255.0, statistics, alpha)
        return [tf.clip_by_value(stylized / 255.0, 0.0, 1.0)]

    return {
        "serving_default": serving_default,
        "stylize_bytes": stylize_bytes,
        "style_encode": style_encode,
        "stylize": stylize,
        "stylize_masked": stylize_masked,
        base.CALL: hub_call,
    }


# --- TFLite -------------------------------------------------------------------------------------


def convert_adain_to_tflite(
    saved_model_dir: str | os.PathLike,
    output: str | os.PathLike,
    quantize: str = "float16",
    overwrite: bool = False,
) -> dict[str, str]:
    """Converts an AdaIN SavedModel's `style_encode` and `stylize` into two `.tflite` files.

    Both use TFLite builtin ops only, take `[1, None, None, 3]` images of any size
    and keep their signature and tensor names. See `tflite_pair_paths` for the
    file names. Both files are checked (paths, conversion, a test run) before
    either is written.

    Args:
      saved_model_dir: a SavedModel written by `export_adain_model`.
      output: a directory (existing, or ending in a path separator) or a file
        name prefix; see `tflite_pair_paths`.
      quantize: "none", "float16" or "dynamic" (dynamic-range int8 weights).
      overwrite: replace existing files.

    Returns:
      {"style_encode": path, "stylize": path}.

    Raises:
      StyleError: bad arguments, not an AdaIN SavedModel, or a failed conversion.
    """
    return AdaINExporter().convert_tflite(saved_model_dir, output, quantize, overwrite)


def parity_check_pair(
    saved_model_dir: str | os.PathLike,
    style_encode_path: str | os.PathLike,
    stylize_path: str | os.PathLike,
    contents: Sequence[np.ndarray],
    styles: Sequence[np.ndarray],
    alpha: float = 1.0,
) -> dict:
    """Compares a TFLite pair with the SavedModel it came from.

    For each (content, style) pair:
      * `style_encode`: TFLite statistics vs the SavedModel's (largest absolute
        difference, and relative to the largest statistic);
      * `stylize`: both `stylize` signatures fed the SavedModel's statistics
        (the decoder path alone), image difference on the 0..255 scale;
      * end to end: TFLite encode + TFLite stylize vs the SavedModel's
        `style_encode` + `stylize` (what a phone gets vs the server).

    Returns:
      {"statistics_max_abs_diff", "statistics_max_rel_diff", "stylize_max_abs_diff",
       "stylize_mean_abs_diff", "max_abs_diff", "mean_abs_diff", "num_images"}:
      `max_abs_diff` / `mean_abs_diff` are the end-to-end image figures.
    """
    contents = [tflite.check_rgb_image(c) for c in contents]
    styles = [tflite.check_rgb_image(s) for s in styles]
    if not contents or len(contents) != len(styles):
        raise StyleError("parity_check_pair needs as many style images as content images, at least one")
    reference = AdaINSavedModelStylizer(os.fspath(saved_model_dir))
    candidate = AdaINTFLiteStylizer(os.fspath(style_encode_path), stylize_path=os.fspath(stylize_path))
    stats_abs, stats_rel, dec_max, dec_sum, e2e_max, e2e_sum, count = 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0
    for content, style in zip(contents, styles):
        ref_stats = reference.encode_style(style)
        tfl_stats = candidate.encode_style(style)
        diff = np.abs(ref_stats.astype(np.float64) - tfl_stats)
        stats_abs = max(stats_abs, float(diff.max()))
        stats_rel = max(stats_rel, float(diff.max() / max(np.abs(ref_stats).max(), 1e-6)))
        ref_image = reference.stylize_statistics(content, ref_stats, alpha)
        dec = np.abs(ref_image.astype(np.float64) - candidate.stylize_statistics(content, ref_stats, alpha))
        e2e = np.abs(ref_image.astype(np.float64) - candidate.stylize_statistics(content, tfl_stats, alpha))
        dec_max, e2e_max = max(dec_max, float(dec.max())), max(e2e_max, float(e2e.max()))
        dec_sum, e2e_sum, count = dec_sum + float(dec.sum()), e2e_sum + float(e2e.sum()), count + dec.size
    return {
        "statistics_max_abs_diff": stats_abs,
        "statistics_max_rel_diff": stats_rel,
        "stylize_max_abs_diff": dec_max,
        "stylize_mean_abs_diff": dec_sum / count,
        "max_abs_diff": e2e_max,
        "mean_abs_diff": e2e_sum / count,
        "num_images": len(contents),
    }
