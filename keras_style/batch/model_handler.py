"""A Beam `ModelHandler` for keras-style SavedModels (fast style, AdaIN, MetaNet).

Beam's stock `TFModelHandlerTensor` cannot load SavedModels written by Keras 3
(`keras.export.ExportArchive`), so this handler loads each model with its kind's
registered SavedModel stylizer and runs every image through
`keras_style.inference.pipeline.StylePipeline`, as `style_transfer` does.
"""

from __future__ import annotations

import os
from typing import Any, Iterable, Optional, Sequence

import numpy as np

from keras_style import checks, registry
from keras_style.errors import StyleError
from keras_style.inference.fast_style import FLOAT_SIGNATURE, UINT8_SIGNATURE
from keras_style.inference.model_spec import METADATA_FILENAME, read_metadata
from keras_style.inference.pipeline import StyleOptions, StylePipeline

try:
    from apache_beam.ml.inference.base import ModelHandler, PredictionResult
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "keras_style.batch needs Apache Beam; install it with: pip install 'keras-style[beam]'"
    ) from e

METRICS_NAMESPACE = "keras_style.batch"


def _read_metadata(model_dir: str) -> dict:
    """The SavedModel's `keras_style.json`; through tf.io.gfile for remote (gs://...) paths."""
    if "://" not in model_dir:
        return read_metadata(model_dir)
    import json

    import tensorflow as tf

    path = model_dir.rstrip("/") + "/" + METADATA_FILENAME
    try:
        with tf.io.gfile.GFile(path, "r") as f:
            data = json.loads(f.read())
    except tf.errors.NotFoundError:
        return {}
    except (tf.errors.OpError, ValueError) as e:
        raise StyleError(f"cannot read model metadata '{path}': {' '.join(str(e).split())[:200]}") from None
    return data if isinstance(data, dict) else {}


class _LoadedModel:
    """What `load_model` returns: a callable (H, W, 3) float32 -> (H, W, 3) float32."""

    def __init__(self, fn, keep_alive):
        self._fn = fn
        self._keep_alive = keep_alive  # the loaded SavedModel must outlive its signatures

    def __call__(self, image: np.ndarray) -> np.ndarray:
        return self._fn(image)


class StyleModelHandler(ModelHandler):
    """Loads an exported keras-style SavedModel once per worker and stylizes images.

    Examples are float32 (H, W, 3) RGB arrays in [0, 255] (any size; one image
    per batch, since sizes differ). Each result is a `PredictionResult` whose
    `inference` is the stylized float32 array, or, for an image the model
    cannot process (a `StyleError` or a TensorFlow op error, e.g. out of
    memory), the error message as a `str`, so one bad image does not fail a
    bulk job.

    Every kind loads through its registered SavedModel stylizer and runs through
    `StylePipeline` on whole images:

    * kind "fast_style": the `stylize_float` signature (float32 in [0, 255]),
      or `serving_default` (uint8) with `signature="serving_default"`.
    * kind "adain" / "metanet": the style image's statistics (AdaIN) or
      generated filters (MetaNet) are prepared once in `load_model`.

    The handler pickles only the path, settings and style array, so it ships
    to remote workers (Dataflow, Flink, Spark), which need the SavedModel at
    the same path (e.g. on gs://) and keras-style installed.

    Args:
      model_dir: the SavedModel directory (with its `keras_style.json`).
      style: float32 (H, W, 3) style image in [0, 255]; required for adain
        and metanet, refused for fast_style.
      alpha: style strength in [0, 1] for adain / metanet; None: the model's default
        (`Stylizer.default_alpha`: its recorded `default_alpha`, else 1).
      style_palette: adain / metanet: give each output the style image's colour mean and
        covariance, in full at any `alpha` (`keras_style.inference.style_palette.StylePalette`), as
        `style_transfer` does by default.
      signature: fast_style only: "stylize_float" (default) or "serving_default".
    """

    def __init__(self, model_dir: str, style: np.ndarray | None = None, alpha: float | None = None,
                 signature: str | None = None, style_palette: bool = True):
        super().__init__()
        self.model_dir = os.fspath(model_dir)
        self.metadata = _read_metadata(self.model_dir)
        self.kind = self.metadata.get("kind", "fast_style")
        self.style = None if style is None else np.asarray(style, np.float32)
        self.alpha = None if alpha is None else float(alpha)
        self.signature = signature
        self.style_palette = bool(style_palette)
        takes_style = registry.get(self.kind, self.model_dir).takes_style
        if takes_style and self.style is None:
            raise StyleError(f"model '{self.model_dir}' is an arbitrary-style ({self.kind}) model; pass --style=IMAGE")
        if not takes_style and self.style is not None:
            raise StyleError(
                f"model '{self.model_dir}' is a fixed-style model; --style needs an arbitrary-style model (adain, metanet)"
            )
        if self.alpha is not None and not takes_style and self.alpha != 1.0:
            raise StyleError("--alpha needs an arbitrary-style model (adain, metanet)")
        if self.alpha is not None:
            checks.check_alpha(self.alpha, "--alpha")
        if self.signature is not None and (takes_style or self.signature not in (FLOAT_SIGNATURE, UINT8_SIGNATURE)):
            raise StyleError(f"signature '{self.signature}': only fast-style models take one "
                             f"({FLOAT_SIGNATURE} or {UINT8_SIGNATURE})")
        # The pipeline's own checks, now, so a bad setting fails before a worker starts.
        self._options()

    def _options(self) -> StyleOptions:
        return StyleOptions(styles=() if self.style is None else (self.style,), alpha=self.alpha,
                            style_palette=self.style_palette, tile=0)

    def load_model(self) -> _LoadedModel:
        """Loads the SavedModel with its kind's stylizer (and prepares the style, once); raises StyleError."""
        stylizer_class = registry.get(self.kind, self.model_dir).part("saved_model_stylizer")
        kwargs = {"signature": self.signature} if self.signature else {}
        stylizer = stylizer_class(self.model_dir, metadata=self.metadata, **kwargs)
        pipeline = StylePipeline(stylizer, self._options())
        pipeline.prepare()  # once per worker, not per image
        return _LoadedModel(pipeline.stylize, pipeline)

    def run_inference(self, batch: Sequence[np.ndarray], model: _LoadedModel,
                      inference_args: Optional[dict[str, Any]] = None) -> Iterable[PredictionResult]:
        """Stylizes each image; an image the model fails on yields its error message."""
        import tensorflow as tf

        del inference_args
        for image in batch:
            try:
                result = model(image)
            except (StyleError, tf.errors.OpError) as e:
                result = f"cannot stylize it: {' '.join(str(e).split())[:300]}"
            yield PredictionResult(image, result)

    def get_num_bytes(self, batch: Sequence[np.ndarray]) -> int:
        return sum(np.asarray(image).nbytes for image in batch)

    def batch_elements_kwargs(self):
        # Images differ in size, and the signatures run one at a time anyway.
        return {"min_batch_size": 1, "max_batch_size": 1}

    def get_metrics_namespace(self) -> str:
        return METRICS_NAMESPACE
