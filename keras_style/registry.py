"""The model kinds (fast_style, adain, metanet) and where each one's parts live.

Every exported SavedModel names its kind in `keras_style.json`; the commands,
`load_stylizer`, `style_batch`, `style_export` and the serving-precision copies
look the kind up here instead of branching on its name. A kind registers, in
one `register(ModelKind(...))` call, its Keras model class, training task,
exporter (SavedModel and TFLite), stylizers (SavedModel and TFLite) and what
it can do (take a style image at run time, be rebuilt in another precision).

Parts are named as "module:attribute" strings and imported on first use:
this module imports neither TensorFlow nor Keras, so `import keras_style`
and the `.tflite` path stay TensorFlow-free.

Adding a kind: write its model, task, exporter and stylizer modules, then add
one `register(...)` call (here for the built-in kinds; anywhere for a plug-in).
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from typing import Any

from keras_style.errors import StyleError


@dataclasses.dataclass(frozen=True)
class ModelKind:
    """One model kind and its parts, each a "module:attribute" reference ("" where none).

    Attributes:
      name: the kind, as `keras_style.json` names it.
      takes_style: whether the model takes style images at run time (arbitrary style).
      model: the Keras model class.
      task: the training function (`train_...`).
      exporter: the `keras_style.export.base.Exporter` subclass: `Exporter(model).export(dir)` writes
        the SavedModel, `Exporter().export_tflite(saved_model, tflite, quantize, ...)` its `.tflite`
        file(s) (`style_export --tflite`).
      saved_model_stylizer: the `Stylizer` class for its SavedModel (`from_spec(spec)` loads it).
      tflite_stylizer: the `Stylizer` class for its `.tflite` file(s).
      tflite_pair_file: a predicate `(path) -> bool` that recognises one of the kind's `.tflite`
        files when no `keras_style.json` is near it ("" = not recognisable by name).
      pipeline_steps: the `keras_style.inference.pipeline.StyleSteps` subclass that
        `StylePipeline` runs the kind's models with (style preparation, tiles, masks,
        colour); "" = the generic fixed- or arbitrary-style steps.
      serving_rebuilder: `(metadata, export_dir, overwrite, extra) -> (build, export)` that
        rebuilds the Keras model from a SavedModel for a precision or weights-dtype copy
        ("" = not supported).
    """

    name: str
    takes_style: bool = False
    model: str = ""
    task: str = ""
    exporter: str = ""
    saved_model_stylizer: str = ""
    tflite_stylizer: str = ""
    tflite_pair_file: str = ""
    pipeline_steps: str = ""
    serving_rebuilder: str = ""

    def part(self, field: str) -> Any:
        """Imports and returns the part named by `field` (e.g. "exporter").

        Raises:
          StyleError: the kind has no such part.
        """
        reference = getattr(self, field)
        if not reference:
            raise StyleError(f"model kind '{self.name}' has no {field.replace('_', ' ')}")
        return resolve(reference)

    def has(self, field: str) -> bool:
        """Whether the kind registers the part `field`."""
        return bool(getattr(self, field))


_KINDS: dict[str, ModelKind] = {}


def resolve(reference: str) -> Any:
    """The object a "module:attribute" reference names (imports the module)."""
    module, _, attribute = reference.partition(":")
    value = importlib.import_module(module)
    for name in attribute.split(".") if attribute else ():
        value = getattr(value, name)
    return value


def register(kind: ModelKind, replace: bool = False) -> ModelKind:
    """Adds `kind`; a second kind of the same name is refused unless `replace`."""
    if not kind.name or not isinstance(kind.name, str):
        raise ValueError(f"a model kind needs a name, got {kind.name!r}")
    if kind.name in _KINDS and not replace:
        raise ValueError(f"model kind '{kind.name}' is already registered")
    _KINDS[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    """Removes kind `name` (for tests and plug-ins); no error if absent."""
    _KINDS.pop(name, None)


def get(name: str, source: str | None = None) -> ModelKind:
    """The registered kind `name`.

    Args:
      name: the kind.
      source: the model it was read from, for the message.

    Raises:
      StyleError: unknown kind (one line, listing the known ones).
    """
    kind = _KINDS.get(name)
    if kind is None:
        where = f"model '{source}' is of kind '{name}'" if source else f"unknown model kind '{name}'"
        raise StyleError(
            f"{where}, which this version of keras-style cannot run; supported: {', '.join(_KINDS)}"
        )
    return kind


def kinds() -> list[ModelKind]:
    """All registered kinds, in registration order."""
    return list(_KINDS.values())


def names(where: Callable[[ModelKind], bool] | None = None) -> tuple[str, ...]:
    """Names of the registered kinds (those for which `where(kind)` holds)."""
    return tuple(k.name for k in _KINDS.values() if where is None or where(k))


# The built-in kinds.
register(ModelKind(
    name="fast_style",
    takes_style=False,
    model="keras_style.models.transform_net:TransformNet",
    task="keras_style.tasks.fast_style:train_fast_style",
    exporter="keras_style.export.fast_style:FastStyleExporter",
    saved_model_stylizer="keras_style.inference.fast_style:FastStyleSavedModelStylizer",
    tflite_stylizer="keras_style.inference.fast_style:FastStyleTFLiteStylizer",
    serving_rebuilder="keras_style.export.serving_precision:rebuild_fast_style",
))
register(ModelKind(
    name="adain",
    takes_style=True,
    model="keras_style.models.adain_model:AdaINStyleTransfer",
    task="keras_style.tasks.adain:train_adain",
    exporter="keras_style.export.adain:AdaINExporter",
    saved_model_stylizer="keras_style.inference.adain:AdaINSavedModelStylizer",
    tflite_stylizer="keras_style.inference.adain:AdaINTFLiteStylizer",
    tflite_pair_file="keras_style.inference.adain:is_pair_file",
    pipeline_steps="keras_style.inference.pipeline:AdaINSteps",
    serving_rebuilder="keras_style.export.serving_precision:rebuild_adain",
))
register(ModelKind(
    name="metanet",
    takes_style=True,
    model="keras_style.models.metanet_model:MetaNetStyleTransfer",
    task="keras_style.tasks.metanet:train_metanet",
    exporter="keras_style.export.metanet:MetaNetExporter",
    saved_model_stylizer="keras_style.inference.metanet:MetaNetSavedModelStylizer",
    tflite_stylizer="keras_style.inference.metanet:MetaNetTFLiteStylizer",
    tflite_pair_file="keras_style.inference.metanet:is_pair_file",
    pipeline_steps="keras_style.inference.pipeline:MetaNetSteps",
    serving_rebuilder="keras_style.export.serving_precision:rebuild_metanet",
))
