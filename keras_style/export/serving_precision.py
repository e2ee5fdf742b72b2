"""Serving copies of an exported model that compute in another precision, or store
their weights in another dtype.

    export_in_precision("saved_models/adain/saved_model", "exports/adain_bf16", "mixed_bfloat16")
    export_in_precision("exports/metanet", "saved_models/metanet/saved_model", "float32",
                        weights_dtype="float16")

writes a SavedModel with the same signatures, input and output dtypes and metadata
as the original, whose graph runs the convolutions in bfloat16 (TF Serving on CPUs with
AMX/AVX512 bfloat16 units; `mixed_float16` for GPUs), or whose weights take half the
bytes on disk. The Keras model is rebuilt from the original's metadata, its weights are
read from the SavedModel's variables by name, and the kind's own exporter writes the copy. TFLite has no bfloat16 CPU kernels: convert the
float32 SavedModel with `style_export --quantize=float16` instead.
"""

from __future__ import annotations

import os
from typing import Callable

from keras_style import files, precision, registry
from keras_style.checks import check_alpha
from keras_style.errors import StyleError
from keras_style.export import saved_model, serving_checks
from keras_style.export.adain import export_adain_model
from keras_style.export.fast_style import export_fast_style_model
from keras_style.export.metanet import export_metanet_model
from keras_style.inference.model_spec import read_metadata
from keras_style.inference.stylizer import DEFAULT_ALPHA_KEY

PRECISION_KEY = "precision"


def rebuild_fast_style(metadata: dict, export_dir: str, overwrite: bool, extra: dict):
    from keras_style.models.transform_net import TransformNet

    def build():
        return TransformNet(base=int(metadata["base"]), name="transform_net")

    def export(model, weights_dtype, max_image_pixels):
        return export_fast_style_model(model, export_dir, overwrite=overwrite, style_name=metadata.get("style"),
                                       extra_metadata=extra, weights_dtype=weights_dtype,
                                       max_image_pixels=max_image_pixels)

    return build, export


def rebuild_adain(metadata: dict, export_dir: str, overwrite: bool, extra: dict):
    from keras_style.models.adain_model import AdaINStyleTransfer

    def build():
        return AdaINStyleTransfer(encoder_weights=None, epsilon=float(metadata.get("epsilon", 1e-5)))

    def export(model, weights_dtype, max_image_pixels):
        return export_adain_model(model, export_dir, overwrite=overwrite, extra_metadata=extra,
                                  weights_dtype=weights_dtype, max_image_pixels=max_image_pixels)

    return build, export


def rebuild_metanet(metadata: dict, export_dir: str, overwrite: bool, extra: dict):
    from keras_style.metanet import statistics_extractor
    from keras_style.models.metanet_model import MetaNetStyleTransfer

    def build():
        model = MetaNetStyleTransfer(base=int(metadata["base"]), hidden_per_layer=int(metadata["hidden_per_layer"]))
        extractor = statistics_extractor(network=metadata.get("network", "vgg19"),
                                         pooling=metadata.get("pooling", "max"), weights=None)
        return model, extractor

    def export(models, weights_dtype, max_image_pixels):
        model, extractor = models
        return export_metanet_model(
            model, export_dir, network=metadata.get("network", "vgg19"), pooling=metadata.get("pooling", "max"),
            overwrite=overwrite, extractor=extractor, style_size=metadata.get("style_size"), extra_metadata=extra,
            weights_dtype=weights_dtype, max_image_pixels=max_image_pixels,
        )

    return build, export


def _rebuildable_kinds() -> tuple[str, ...]:
    """The kinds whose registry entry has a `serving_rebuilder`: (metadata, export_dir,
    overwrite, extra metadata) -> (build(), export(model, weights_dtype, max_image_pixels))."""
    return registry.names(lambda kind: kind.has("serving_rebuilder"))


def export_in_precision(saved_model_dir: str, export_dir: str, precision_name: str,
                        overwrite: bool = False, weights_dtype: str | None = None,
                        default_alpha: float | None = None, *,
                        on_loaded: Callable[[], None] | None = None,
                        max_image_pixels: int | None = None) -> str:
    """Writes a copy of a keras-style SavedModel that computes in `precision_name`.

    Args:
      saved_model_dir: a SavedModel written by `keras_style.export` (fast style, AdaIN
        or MetaNet).
      export_dir: the new SavedModel directory (see `saved_model.atomic_export_dir`).
      precision_name: float32, mixed_bfloat16 (bfloat16) or mixed_float16 (float16).
      overwrite: replace an existing SavedModel at `export_dir`.
      weights_dtype: the dtype the copy stores its weights in (float32, float16); None
        keeps the original's.
      default_alpha: arbitrary-style models: the style strength the copy runs at when a
        caller gives none (`Stylizer.default_alpha`), recorded in its `keras_style.json`;
        None keeps the original's.
      on_loaded: called once the original's weights have loaded, before the copy is
        built (so a progress line never precedes a cannot-load error).
      max_image_pixels: the largest image the copy's bytes signatures decode; None keeps
        the original's (the commands' limit for a model that recorded none).

    Returns:
      The absolute path of the new SavedModel.

    Raises:
      StyleError: not a keras-style SavedModel, a kind without a rebuilder, bad paths,
        a SavedModel that cannot be loaded (e.g. missing or truncated variables), or a
        default alpha outside [0, 1] or for a fixed-style model.
    """
    policy = precision.canonical(precision_name)
    if default_alpha is not None:
        default_alpha = check_alpha(default_alpha)
    if weights_dtype is not None:
        saved_model.check_weights_dtype(weights_dtype)
    if max_image_pixels is not None:
        serving_checks.check_max_image_pixels(max_image_pixels)
    if policy == precision.AUTO:
        raise StyleError("an export needs an explicit precision: float32, mixed_bfloat16 or mixed_float16")
    if not os.path.isfile(os.path.join(saved_model_dir, saved_model.SAVED_MODEL_FILENAME)):
        raise StyleError(f"'{saved_model_dir}' is not a SavedModel directory (no saved_model.pb)")
    metadata = read_metadata(saved_model_dir)
    kind = metadata.get("kind")
    if kind not in _rebuildable_kinds():
        raise StyleError(
            f"'{saved_model_dir}' is a {kind or 'non-keras-style'} model; precision copies can be made of "
            f"{', '.join(sorted(_rebuildable_kinds()))} models"
        )
    # Not over, around or into the SavedModel it copies, however the paths are spelled.
    files.check_not_an_input([export_dir], [("SavedModel it copies", saved_model_dir)])
    if default_alpha is not None and not registry.get(kind).takes_style:
        raise StyleError(f"'{saved_model_dir}' is a fixed-style ({kind}) model; a default alpha needs an "
                         "arbitrary-style model (adain, metanet)")
    saved_model.check_export_dir(export_dir, overwrite)
    skip = {"kind", "format_version", "keras_version", "tensorflow_version", "keras_style_version", "signatures",
            "value_range", "model_class", "base", "style", "epsilon", "statistics_size", "statistics_layout",
            "tflite_signatures", PRECISION_KEY, saved_model.WEIGHTS_DTYPE_KEY, serving_checks.MAX_PIXELS_KEY}
    extra = {k: v for k, v in metadata.items() if k not in skip}
    extra[PRECISION_KEY] = policy
    if default_alpha is not None:
        extra[DEFAULT_ALPHA_KEY] = default_alpha
    build, export = registry.get(kind).part("serving_rebuilder")(metadata, export_dir, overwrite, extra)
    weights = saved_model.saved_model_weights(saved_model_dir)
    if on_loaded is not None:
        on_loaded()
    with precision.policy_scope(policy):
        model = build()
    saved_model.assign_weights(model, weights)
    if max_image_pixels is None:
        max_image_pixels = metadata.get(serving_checks.MAX_PIXELS_KEY, serving_checks.DEFAULT_MAX_PIXELS)
    return export(model, weights_dtype or metadata.get(saved_model.WEIGHTS_DTYPE_KEY, "float32"), max_image_pixels)


CACHE_ENV = "KERAS_STYLE_CACHE"


def cache_dir() -> str:
    """Where precision copies are kept: `$KERAS_STYLE_CACHE`, else ~/.cache/keras_style."""
    return os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "keras_style")


def model_precision(metadata: dict) -> str:
    """The precision an exported model computes in (float32 unless its metadata says otherwise)."""
    return metadata.get(PRECISION_KEY, precision.FLOAT32)


def _fingerprint(saved_model_dir: str) -> str:
    """The cache key of a SavedModel's precision copy: it changes when the graph or any
    variables file does."""
    import hashlib

    digest = hashlib.sha256()
    for name in ("saved_model.pb", os.path.join("variables", "variables.index")):
        path = os.path.join(saved_model_dir, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                digest.update(f.read())
    # The index alone does not change when the weights data is rewritten (retrained,
    # copied over, truncated), which would reuse a stale copy; reading the data (tens
    # of MB) on every run is slow, so each data file's name, size and mtime stand in.
    variables = os.path.join(saved_model_dir, "variables")
    names = sorted(os.listdir(variables)) if os.path.isdir(variables) else []
    for name in names:
        if name.startswith("variables.data"):
            stat = os.stat(os.path.join(variables, name))
            digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    return digest.hexdigest()[:16]


def precision_copy(saved_model_dir: str, policy: str, log: Callable[[str], None] | None = None) -> str:
    """A SavedModel that computes in `policy`: `saved_model_dir` itself when it already
    does (or its kind has no rebuilder), else a copy made once and kept in `cache_dir()`,
    keyed by the original's graph and variables, so an updated model gets a new copy.

    `log` receives one line when a copy is made (once the original has loaded).

    Raises:
      StyleError: as `export_in_precision`, e.g. the original cannot be loaded.
    """
    policy = precision.resolve(policy)
    metadata = read_metadata(saved_model_dir)
    if model_precision(metadata) == policy or metadata.get("kind") not in _rebuildable_kinds():
        return saved_model_dir
    target = os.path.join(cache_dir(), "precision", f"{metadata['kind']}-{policy}-{_fingerprint(saved_model_dir)}")
    if os.path.isfile(os.path.join(target, "saved_model.pb")):
        return target
    def on_loaded():
        if log is not None:
            log(f"making a {policy} copy of {saved_model_dir} in {target} (once)")

    try:
        return export_in_precision(saved_model_dir, target, policy, on_loaded=on_loaded)
    except StyleError:
        # Another process made the same copy meanwhile (the export is atomic): use it.
        if os.path.isfile(os.path.join(target, "saved_model.pb")):
            return target
        raise
