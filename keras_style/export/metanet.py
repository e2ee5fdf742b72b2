"""Exporting a MetaNet (Shen et al. 2018): SavedModel, TFLite pair, standalone per-style models.

A MetaNet SavedModel holds three networks: the frozen VGG19 statistics extractor, the
`MetaNet` (statistics -> conv kernels) and the `GeneratedTransformNet` (content +
kernels -> stylized). Its signatures (tensor names in quotes):

* `style_to_weights`: "style" float32 [1, H, W, 3] in [0, 255] -> "weights" float32
  [1, P], P = 1620 · base² + 98 · base. The expensive half: VGG19 to block4_conv3, then the MetaNet.
* `stylize_with_weights`: "content" float32 [N, H, W, 3] in [0, 255] and "weights"
  float32 [1, P] -> "stylized" float32 [N, H, W, 3]. The cheap half, a TransformNet
  whose 14 inner convs take their filters from "weights"; all N images share them.
* `image_statistics`: "image" float32 [1, H, W, 3] -> "statistics" float32 [1, 1920]
  (`keras_style.metanet.style_statistics_vector`), and `statistics_to_weights`:
  "statistics" [1, 1920] -> "weights" [1, P]. `style_to_weights` is their
  composition; apart they let a client mix several styles (a convex combination of
  their statistics, as `keras_style.metanet.generate_weights` does) and apply a style
  strength alpha (mixing in the content's own statistics, as
  `keras_style.metanet.stylize` does).
* `serving_default`: "content" uint8 [N, H, W, 3] and "style" uint8 [1, H, W, 3] ->
  "stylized" uint8: the one-shot request (both halves, rounded and clipped).

Every signature checks its request first (`serving_checks`: shapes, ranks, finite
values); a bad request fails with InvalidArgument and a readable message. The loaded
SavedModel is also callable as TF Hub's arbitrary-style modules are
(`hub.load(path)(content, style)[0]`, float32 [1, H, W, 3] images in [0, 1];
`MetaNetExporter.call_function`).

Clients that stylize many images (or video frames, or tiles) with one style call
`style_to_weights` once and `stylize_with_weights` for every image. The weights of
the transform net's style-independent layers (conv1, conv_out, instance norms) are
also saved as the variable collection `generated_net_weights`, so a standalone
`TransformNet` for one style can be rebuilt from the SavedModel alone
(`extract_style_model`, command `style_metanet_extract`).

TFLite (`convert_metanet_to_tflite`) converts the two halves to two files, float16 or
dynamic-range int8, TFLite builtin ops, dynamic [1, H, W, 3] inputs:
`PREFIX_style_to_weights_<q>.tflite` (signatures style_to_weights, image_statistics,
statistics_to_weights) and `PREFIX_stylize_with_weights_<q>.tflite`. Full-integer int8 is
refused: TFLite's int8 CONV_2D needs constant filters (it checks their zero_point
when it runs), and the generated convs get theirs at run time; a standalone model
extracted for one style has constant filters and quantises to int8 like any
fast-style model.

TensorFlow is imported inside the functions.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from keras_style.checks import check_alpha
from keras_style.errors import StyleError
from keras_style.export import base, saved_model, tflite
from keras_style.export import serving_checks as checks
from keras_style.export.fast_style import export_fast_style_model
from keras_style.inference.metanet import (
    CONTENT_INPUT,
    DEFAULT_STYLE_SIZE,
    IMAGE_INPUT,
    IMAGE_STATISTICS,
    MetaNetSavedModelStylizer,
    MetaNetTFLiteStylizer,
    STATISTICS_OUTPUT,
    STATISTICS_TO_WEIGHTS,
    STYLE_INPUT,
    STYLE_TO_WEIGHTS,
    STYLIZED_OUTPUT,
    STYLIZE_WITH_WEIGHTS,
    WEIGHTS_OUTPUT,
    tflite_pair_paths,
)
from keras_style.inference.stylizer import DEFAULT_ALPHA_KEY

KIND = "metanet"
SHARED_WEIGHTS_COLLECTION = "generated_net_weights"
STYLE_HALF_SIGNATURES = (STYLE_TO_WEIGHTS, IMAGE_STATISTICS, STATISTICS_TO_WEIGHTS)
TRANSFORM_HALF_SIGNATURES = (STYLIZE_WITH_WEIGHTS,)

INT8_MESSAGE = (
    "full-integer int8 cannot run a MetaNet: TFLite's int8 conv needs constant filters (it checks "
    "their zero_point at run time) and the MetaNet's transform convs get theirs at run time; use "
    "--quantize=float16 or --quantize=dynamic, or extract a standalone model for one style "
    "(style_metanet_extract) and quantise that to int8"
)


def metanet_parts(model):
    """(MetaNet, GeneratedTransformNet) of `model`.

    `model` is a `MetaNetStyleTransfer` (what `MetaNetTask.build_model()` returns), or a
    `(metanet, generated_net)` pair.
    """
    from keras_style.models.generated_transform_net import GeneratedTransformNet
    from keras_style.models.metanet import MetaNet

    if isinstance(model, (tuple, list)) and len(model) == 2:
        metanet, generated_net = model
    else:
        try:
            metanet, generated_net = model.metanet, model.generated_net
        except AttributeError:
            raise StyleError(
                "export_metanet_model needs a MetaNetStyleTransfer or a (MetaNet, GeneratedTransformNet) "
                f"pair; got {type(model).__name__}"
            ) from None
    if not isinstance(metanet, MetaNet) or not isinstance(generated_net, GeneratedTransformNet):
        raise StyleError(
            f"expected a MetaNet and a GeneratedTransformNet, got {type(metanet).__name__} and "
            f"{type(generated_net).__name__}"
        )
    if metanet.base != generated_net.base:
        raise StyleError(f"the MetaNet generates base-{metanet.base} weights for a base-{generated_net.base} net")
    return metanet, generated_net


def _tf_variable(variable):
    """The tf.Variable behind a Keras variable (TensorFlow backend), so that the
    SavedModel stores it once."""
    inner = getattr(variable, "_value", None)
    return inner if inner is not None and hasattr(inner, "assign") else variable


def _relative_path(variable) -> str:
    """"layer/weight" of a variable ("conv1/kernel", "conv1_norm/gamma"): unique in a
    GeneratedTransformNet, whatever scopes the model was built in."""
    return "/".join(variable.path.split("/")[-2:])


def export_metanet_model(
    model,
    export_dir: str | os.PathLike,
    network: str = "vgg19",
    pooling: str = "max",
    overwrite: bool = False,
    *,
    vgg_weights: str | None = "auto",
    extractor=None,
    style_size: int | None = None,
    extra_metadata: dict | None = None,
    weights_dtype: str = "float32",
    max_image_pixels: int = checks.DEFAULT_MAX_PIXELS,
) -> str:
    """Writes a MetaNet as a SavedModel (see the module docstring for its signatures).

    The directory also gets `keras_style.json`: kind "metanet", base, P
    ("num_generated_params"), the statistics network, the style size, the names of the
    saved shared weights. Written beside `export_dir` and renamed into place.

    Args:
      model: `MetaNetTask.build_model()`'s model (trained), or a `(MetaNet,
        GeneratedTransformNet)` pair.
      export_dir: the SavedModel directory to create; a missing parent is created.
      network, pooling: the VGG that computes the statistics: the one the MetaNet was
        trained with (`MetaNetConfig.network` / `.pooling`).
      overwrite: replace an existing SavedModel at `export_dir`.
      vgg_weights: that VGG's weights (see `VGGFeatureExtractor`); "auto" is the cached
        VGG19.
      extractor: a ready statistics extractor (`keras_style.metanet.statistics_extractor`)
        instead of building one from network / pooling / vgg_weights.
      style_size: the short side style images had in training (`MetaNetConfig.style_size`),
        recorded for the runtime, which resizes style images to it (default 256).
      extra_metadata: further JSON-serialisable metadata fields.
      weights_dtype: "float16" stores the weights in half the bytes (read back as float32,
        `saved_model.stored_as`); "float32" as trained.

    Returns:
      The absolute path of the SavedModel directory.

    Raises:
      StyleError: not a MetaNet model, or `export_dir` unusable or existing (without
        `overwrite`).
    """
    exporter = MetaNetExporter(model, network, pooling, vgg_weights=vgg_weights, extractor=extractor,
                               style_size=style_size)
    return exporter.export(export_dir, overwrite, extra_metadata, weights_dtype, max_image_pixels)


class MetaNetExporter(base.Exporter):
    """A MetaNet: the five signatures of the module docstring, the transform net's shared
    weights as a variable collection; a TFLite pair (the style half, the transform half)
    checked half by half and end to end on a content and a style image.

    Args: see `export_metanet_model`; `model` None to convert a SavedModel only.
    """

    kind = KIND
    title = "a MetaNet"
    refused_quantize = {"int8": INT8_MESSAGE}
    parity_inputs = ("content", "style")

    def __init__(self, model=None, network: str = "vgg19", pooling: str = "max", *,
                 vgg_weights: str | None = "auto", extractor=None, style_size: int | None = None):
        if model is not None:
            model = metanet_parts(model)
            if network != "vgg19":
                raise StyleError(f"a MetaNet's statistics come from vgg19, not '{network}'")
        super().__init__(model)
        self.network, self.pooling, self.vgg_weights = network, pooling, vgg_weights
        self.extractor = extractor
        self.style_size = style_size

    def statistics_extractor(self):
        """The VGG statistics extractor the signatures use (built once, on first use)."""
        from keras_style.metanet import statistics_extractor

        if self.extractor is None:
            self.extractor = statistics_extractor(network=self.network, pooling=self.pooling,
                                                  weights=self.vgg_weights)
        return self.extractor

    def serving_weights(self):
        return [*super().serving_weights(), *self.statistics_extractor().weights]

    def _halves(self):
        """(statistics_of, weights_of, stylize): the graph pieces every signature and
        `__call__` are made of."""
        import tensorflow as tf

        from keras_style.metanet import style_statistics_vector

        metanet, generated_net = self.model
        extractor = self.statistics_extractor()

        # The casts keep every output float32 when a precision copy computes in bfloat16.
        def statistics_of(image):
            return tf.cast(style_statistics_vector(extractor(image, training=False)), tf.float32)

        def weights_of(statistics):
            # GeneratedWeightBounds is written to be float16-safe, so the TFLite models
            # convert the MetaNet as is.
            return tf.cast(metanet(statistics, training=False), tf.float32)

        def stylize(content, weights):
            return tf.cast(generated_net([content, weights], training=False), tf.float32)

        return statistics_of, weights_of, stylize

    def signatures(self):
        import tensorflow as tf

        from keras_style.models.metanet import STATISTICS_DIM

        generated_net = self.model[1]
        statistics_of, weights_of, stylize = self._halves()
        num_params = generated_net.num_generated_params
        params = f"float32 [1, {num_params}] (the style_to_weights output)"

        def style_to_weights(style):
            style = checks.checked(checks.image(style, STYLE_INPUT, batch=1))
            return {WEIGHTS_OUTPUT: weights_of(statistics_of(style))}

        def stylize_with_weights(content, weights):
            content, weights = checks.checked(checks.image(content, CONTENT_INPUT),
                                              checks.tensor(weights, WEIGHTS_OUTPUT, [1, num_params], params))
            return {STYLIZED_OUTPUT: stylize(content, weights)}

        def image_statistics(image):
            image = checks.checked(checks.image(image, IMAGE_INPUT, batch=1))
            return {STATISTICS_OUTPUT: statistics_of(image)}

        def statistics_to_weights(statistics):
            statistics = checks.checked(checks.tensor(
                statistics, STATISTICS_OUTPUT, [1, STATISTICS_DIM],
                f"float32 [1, {STATISTICS_DIM}] (the image_statistics output, or a convex mix of several)"))
            return {WEIGHTS_OUTPUT: weights_of(statistics)}

        def serving_default(content, style):
            content, style = checks.checked(checks.image(content, CONTENT_INPUT),
                                            checks.image(style, STYLE_INPUT, batch=1))
            weights = weights_of(statistics_of(tf.cast(style, tf.float32)))
            stylized = stylize(tf.cast(content, tf.float32), weights)
            return {STYLIZED_OUTPUT: tf.cast(tf.round(tf.clip_by_value(stylized, 0.0, 255.0)), tf.uint8)}

        image_spec = [None, None, None, 3]
        one_image = [1, None, None, 3]
        return {
            STYLE_TO_WEIGHTS: (style_to_weights, [tf.TensorSpec(one_image, tf.float32, name=STYLE_INPUT)]),
            STYLIZE_WITH_WEIGHTS: (stylize_with_weights, [
                tf.TensorSpec(image_spec, tf.float32, name=CONTENT_INPUT),
                tf.TensorSpec([1, num_params], tf.float32, name=WEIGHTS_OUTPUT),
            ]),
            IMAGE_STATISTICS: (image_statistics, [tf.TensorSpec(one_image, tf.float32, name=IMAGE_INPUT)]),
            STATISTICS_TO_WEIGHTS: (statistics_to_weights,
                                    [tf.TensorSpec([1, STATISTICS_DIM], tf.float32, name=STATISTICS_OUTPUT)]),
            saved_model.SERVING_DEFAULT: (serving_default, [
                tf.TensorSpec(image_spec, tf.uint8, name=CONTENT_INPUT),
                tf.TensorSpec(one_image, tf.uint8, name=STYLE_INPUT),
            ]),
        }

    def call_function(self, metadata):
        """TF Hub's arbitrary-style call (Magenta's module): `loaded(content, style)[0]`, float32
        [1, H, W, 3] images in [0, 1] -> a list of one [1, H, W, 3] picture in [0, 1]. As
        `style_transfer` does, the style is resized to a short side of the training style size,
        and below a default alpha of 1 the content's own statistics are mixed in."""
        import tensorflow as tf

        statistics_of, weights_of, stylize = self._halves()
        alpha = check_alpha(metadata.get(DEFAULT_ALPHA_KEY, 1.0), "the default alpha")
        style_size = int(metadata.get("style_size") or DEFAULT_STYLE_SIZE)

        def resized(style):
            size = tf.cast(tf.shape(style)[1:3], tf.float64)
            target = tf.cast(tf.maximum(tf.round(size * (style_size / tf.reduce_min(size))), 1.0), tf.int32)
            return tf.cond(tf.reduce_all(tf.equal(target, tf.shape(style)[1:3])), lambda: style,
                           lambda: tf.clip_by_value(tf.image.resize(style, target, "lanczos3", antialias=True),
                                                    0.0, 255.0))

        def hub_call(content, style):
            content, style = checks.checked(
                checks.image(content, CONTENT_INPUT, batch=1, value_range="in [0, 1]"),
                checks.unit_range(content, CONTENT_INPUT),
                checks.image(style, STYLE_INPUT, batch=1, value_range="in [0, 1]"),
                checks.unit_range(style, STYLE_INPUT))
            content = tf.clip_by_value(content, 0.0, 1.0) * 255.0
            statistics = statistics_of(resized(tf.clip_by_value(style, 0.0, 1.0) * 255.0))
            if alpha != 1.0:
                statistics = alpha * statistics + (1.0 - alpha) * statistics_of(content)
            return [tf.clip_by_value(stylize(content, weights_of(statistics)) / 255.0, 0.0, 1.0)]

        image = tf.TensorSpec([1, None, None, 3], tf.float32)
        return hub_call, [image, image]

    def variable_collections(self):
        # As tf.Variables: the Keras wrappers would be saved a second time (twice the size on disk).
        return {SHARED_WEIGHTS_COLLECTION: [_tf_variable(v) for v in self.model[1].weights]}

    def metadata(self):
        from keras_style.models.metanet import STATISTICS_DIM, STATISTICS_LAYERS

        metanet, generated_net = self.model
        num_params = generated_net.num_generated_params
        return {
            "base": generated_net.base,
            "num_generated_params": num_params,
            "hidden_per_layer": metanet.hidden_per_layer,
            "network": self.network,
            "pooling": self.pooling,
            "statistics_layers": list(STATISTICS_LAYERS),
            "statistics_dim": STATISTICS_DIM,
            "style_size": int(self.style_size or DEFAULT_STYLE_SIZE),
            "model_class": "MetaNet",
            "shared_weights": [_relative_path(v) for v in generated_net.weights],
            "signatures": {
                saved_model.SERVING_DEFAULT: "content uint8 [N,H,W,3], style uint8 [1,H,W,3] -> stylized uint8",
                STYLE_TO_WEIGHTS: f"style float32 [1,H,W,3] in [0,255] -> weights float32 [1,{num_params}]",
                STYLIZE_WITH_WEIGHTS:
                    f"content float32 [N,H,W,3], weights float32 [1,{num_params}] -> stylized float32",
                IMAGE_STATISTICS: f"image float32 [1,H,W,3] -> statistics float32 [1,{STATISTICS_DIM}]",
                STATISTICS_TO_WEIGHTS:
                    f"statistics float32 [1,{STATISTICS_DIM}] -> weights float32 [1,{num_params}]",
            },
        }

    def tflite_files(self, output, quantize):
        halves = {STYLE_TO_WEIGHTS: STYLE_HALF_SIGNATURES, STYLIZE_WITH_WEIGHTS: TRANSFORM_HALF_SIGNATURES}
        return [base.TFLiteFile(role, path, halves[role]) for role, path in tflite_pair_paths(output, quantize).items()]

    def parity(self, saved_model_dir, staged, content, style):
        result = metanet_parity_check(saved_model_dir, staged[STYLIZE_WITH_WEIGHTS], [content], [style])
        details = (f"stylize_with_weights alone max abs diff {result['transform_max_abs_diff']:.4g}, "
                   f"mean abs diff {result['transform_mean_abs_diff']:.4g}; "
                   f"weights rel diff {result['weights_rel_diff']:.3g}")
        return base.Parity(result["end_to_end_max_abs_diff"], result["end_to_end_mean_abs_diff"], result, details)


# --- Reading an exported MetaNet -------------------------------------------------------------


def load_generated_net(saved_model_dir: str | os.PathLike, loaded=None):
    """The `GeneratedTransformNet` of a MetaNet SavedModel, as a Keras model.

    Rebuilt from the metadata's base, with its style-independent weights (conv1,
    conv_out, instance norms) taken from the SavedModel's `generated_net_weights`.

    Args:
      saved_model_dir: a SavedModel from `export_metanet_model`.
      loaded: the `tf.saved_model.load` result, if already loaded.
    """
    import tensorflow as tf

    from keras_style.models.generated_transform_net import GeneratedTransformNet

    metadata = MetaNetExporter().read_saved_model(saved_model_dir)
    if loaded is None:

        loaded = tflite.load_saved_model(os.fspath(saved_model_dir))
    saved = list(getattr(loaded, SHARED_WEIGHTS_COLLECTION, None) or [])
    names = metadata.get("shared_weights") or []
    net = GeneratedTransformNet(base=int(metadata["base"]))
    by_name = {_relative_path(v): v for v in net.weights}
    if not saved or len(saved) != len(names) or sorted(names) != sorted(by_name):
        raise StyleError(
            f"MetaNet SavedModel '{saved_model_dir}' lacks the transform net's shared weights in the "
            "expected layout; re-export it with this version of keras-style"
        )
    for name, variable in zip(names, saved):
        target = by_name[name]
        if tuple(target.shape) != tuple(variable.shape):
            raise StyleError(f"shared weight '{name}' has shape {tuple(variable.shape)}, expected {target.shape}")
        target.assign(tf.convert_to_tensor(variable))
    return net


def extract_style_model(
    saved_model_dir: str | os.PathLike,
    style_images: Sequence[np.ndarray] | np.ndarray,
    export_dir: str | os.PathLike,
    style_weights: Sequence[float] | None = None,
    overwrite: bool = False,
    *,
    style_name: str | None = None,
    style_size: int | None = None,
    extra_metadata: dict | None = None,
) -> str:
    """Exports a standalone fast-style model for one style (or one mix) of a MetaNet.

    The MetaNet generates the weights once (styles mixed by their statistics vectors,
    `keras_style.metanet.mix_statistics`); `to_transform_net` bakes them into an
    ordinary `TransformNet`, exported with `export_fast_style_model`: it runs wherever
    a fast-style model runs (style_transfer, TF Serving, TFLite including full-integer
    int8), with no VGG or MetaNet inside.

    Args:
      saved_model_dir: a SavedModel from `export_metanet_model`.
      style_images: one (H, W, 3) RGB float image in [0, 255] or a list of them; each
        is resized so its short side is `style_size` (default: the model's training
        style size), as the runtime does.
      export_dir: the standalone SavedModel directory to create.
      style_weights: one non-negative weight per style (normalised); None: equal.
      overwrite: replace an existing SavedModel at `export_dir`.
      style_name: recorded in the metadata.
      extra_metadata: further metadata fields.

    Returns:
      The absolute path of the standalone SavedModel.
    """
    from keras_style.models.generated_transform_net import to_transform_net

    saved_model.check_export_dir(export_dir, overwrite)
    metadata = MetaNetExporter().read_saved_model(saved_model_dir)
    stylizer = MetaNetSavedModelStylizer(saved_model_dir, metadata=metadata, style_size=style_size)
    if isinstance(style_images, np.ndarray) and style_images.ndim == 3:
        style_images = [style_images]
    prepared = stylizer.prepare_style(list(style_images), style_weights)
    generated_net = load_generated_net(saved_model_dir, stylizer.loaded)
    net = to_transform_net(generated_net, prepared.weights, name="transform_net")
    fields = {
        "source": "metanet",
        "metanet_model": os.path.abspath(os.fspath(saved_model_dir)),
        "style_weights": [float(w) for w in prepared.mix],
        "style_size": stylizer.style_size,
    }
    fields.update(extra_metadata or {})
    return export_fast_style_model(net, export_dir, overwrite=overwrite, style_name=style_name, extra_metadata=fields)


# --- TFLite ----------------------------------------------------------------------------------


def convert_metanet_to_tflite(
    saved_model_dir: str | os.PathLike,
    output: str | os.PathLike,
    quantize: str = "float16",
    overwrite: bool = False,
) -> dict[str, str]:
    """Converts a MetaNet SavedModel to a pair of `.tflite` files, one per half.

    `output` is a directory or a file name prefix (see `tflite_pair_paths`):
    `PREFIX_style_to_weights_<q>.tflite` (signatures style_to_weights,
    image_statistics, statistics_to_weights: VGG19 to block4_conv3 + the MetaNet) and
    `PREFIX_stylize_with_weights_<q>.tflite` (signature stylize_with_weights). Builtin
    ops only, image inputs [1, None, None, 3]. Both are converted and test-run before
    either is written.

    Args:
      quantize: "none", "float16" or "dynamic" (int8 weights, float activations).
        "int8" (full-integer) raises StyleError: see the module docstring.

    Returns:
      {"style_to_weights": path, "stylize_with_weights": path}.
    """
    return MetaNetExporter().convert_tflite(saved_model_dir, output, quantize, overwrite)


def metanet_parity_check(
    saved_model_dir: str | os.PathLike,
    tflite_path: str | os.PathLike,
    content_images: Sequence[np.ndarray],
    style_images: Sequence[np.ndarray],
) -> dict:
    """Compares a MetaNet TFLite pair with its SavedModel, half by half and end to end.

    For every (content, style) pair: the weights each style half generates, the
    transform halves' outputs for the SavedModel's weights (the transform half's own
    error), and the full runs (each side's weights and transform). Images are float32
    (H, W, 3) in [0, 255], used as given (no resizing).

    Args:
      tflite_path: either file of the pair.

    Returns:
      {"weights_max_abs_diff", "weights_rel_diff" (max over styles of ‖Δw‖/‖w‖),
       "transform_max_abs_diff", "transform_mean_abs_diff",
       "end_to_end_max_abs_diff", "end_to_end_mean_abs_diff", "num_pairs"}; image
       differences on the 0..255 scale.
    """
    reference = MetaNetSavedModelStylizer(saved_model_dir)
    candidate = MetaNetTFLiteStylizer(tflite_path)
    contents = [np.asarray(c, np.float32) for c in content_images]
    styles = [np.asarray(s, np.float32) for s in style_images]
    if not contents or not styles:
        raise StyleError("the MetaNet parity check needs content and style images")
    result = {"weights_max_abs_diff": 0.0, "weights_rel_diff": 0.0, "transform_max_abs_diff": 0.0,
              "end_to_end_max_abs_diff": 0.0}
    transform_sum = end_sum = 0.0
    count = 0
    for style in styles:
        ref_weights = reference.style_to_weights(style)
        cand_weights = candidate.style_to_weights(style)
        delta = np.abs(ref_weights.astype(np.float64) - cand_weights)
        result["weights_max_abs_diff"] = max(result["weights_max_abs_diff"], float(delta.max()))
        result["weights_rel_diff"] = max(
            result["weights_rel_diff"], float(np.linalg.norm(delta) / max(np.linalg.norm(ref_weights), 1e-12))
        )
        for content in contents:
            ref = reference.stylize_with_weights(content, ref_weights).astype(np.float64)
            transform = np.abs(ref - candidate.stylize_with_weights(content, ref_weights))
            end = np.abs(ref - candidate.stylize_with_weights(content, cand_weights))
            result["transform_max_abs_diff"] = max(result["transform_max_abs_diff"], float(transform.max()))
            result["end_to_end_max_abs_diff"] = max(result["end_to_end_max_abs_diff"], float(end.max()))
            transform_sum += float(transform.mean())
            end_sum += float(end.mean())
            count += 1
    result["transform_mean_abs_diff"] = transform_sum / count
    result["end_to_end_mean_abs_diff"] = end_sum / count
    result["num_pairs"] = count
    return result
