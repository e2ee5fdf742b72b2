"""Generic SavedModel export pieces shared by every style model's exporter.

* `atomic_export_dir`: write a SavedModel into a temporary directory beside
  the target and rename it into place, so TF Serving (which watches model
  directories) never sees a half-written model, and a failed export leaves
  nothing behind.
* `image_signatures`: the three serving signatures an image-to-image model
  has (uint8 `serving_default`, float32 `stylize_float`, encoded-bytes
  `stylize_bytes`), built from one float function, with optional extra inputs.
* `write_saved_model`: signatures + `keras_style.json` metadata (what
  `keras_style.inference` reads), written atomically; what every exporter
  (`keras_style.export.base.Exporter`) ends with.
* `export_image_model`: the two together, for any image-to-image Keras model.

TensorFlow is imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

import keras_style
from keras_style.errors import StyleError
from keras_style.export import serving_checks
from keras_style.inference.model_spec import METADATA_FILENAME, SAVED_MODEL_FILENAME
from keras_style.inference.saved_model import load_or_raise

# Signature names and their tensor names, shared by all exporters.
SERVING_DEFAULT = "serving_default"
STYLIZE_FLOAT = "stylize_float"
STYLIZE_BYTES = "stylize_bytes"
IMAGES_INPUT = "images"
BYTES_INPUT = "image_bytes"
IMAGES_OUTPUT = "stylized"
BYTES_OUTPUT = "stylized_bytes"

METADATA_FORMAT_VERSION = 1
WEIGHTS_DTYPE_KEY = "weights_dtype"  # keras_style.json: the dtype the SavedModel stores its weights in

# A serving signature: its Python function and the `tf.TensorSpec`s of its inputs, in order.
Signature = tuple[Callable[..., Any], Sequence[Any]]


def saved_model_weights(saved_model_dir: str) -> dict:
    """{variable name: numpy value} of every variable a SavedModel's signatures use.

    Raises:
      StyleError: the SavedModel cannot be loaded (e.g. missing or truncated variables).
    """
    import tensorflow as tf

    loaded = load_or_raise(tf, saved_model_dir)
    weights = {}
    for function in loaded.signatures.values():
        for variable in function.variables:
            weights[variable.name.split(":")[0]] = variable.numpy()
    return weights


def assign_weights(model, weights: dict) -> None:
    """Sets every weight of `model` (a Keras model, or a tuple of them) from `weights`
    ({Keras weight path: value}); values stored in another dtype (float16) are cast.

    Raises:
      StyleError: a weight is missing or has another shape (not the same architecture).
    """
    models = model if isinstance(model, (tuple, list)) else (model,)
    for weight in (w for m in models for w in m.weights):
        value = weights.get(weight.path)
        if value is None or tuple(value.shape) != tuple(weight.shape):
            found = "missing" if value is None else f"shape {tuple(value.shape)}"
            raise StyleError(
                f"the SavedModel's weights do not fit this {type(models[0]).__name__}: weight '{weight.path}' "
                f"{tuple(weight.shape)} is {found}"
            )
        weight.assign(np.asarray(value).astype(weight.dtype))


def check_export_dir(export_dir: str | os.PathLike, overwrite: bool = False) -> str:
    """Checks that a SavedModel can be written to `export_dir`; returns its absolute path.

    The directory may be missing or empty. An existing non-empty directory is
    refused unless `overwrite`, and even then only if it holds a SavedModel
    (so a mistyped path never wipes an unrelated directory).

    Raises:
      StyleError: naming the problem and the fix.
    """
    path = os.path.abspath(os.fspath(export_dir))
    if os.path.lexists(path) and not os.path.isdir(path):
        raise StyleError(f"cannot export to '{export_dir}': it exists and is not a directory")
    if os.path.isdir(path) and os.listdir(path):
        if not overwrite:
            raise StyleError(
                f"export directory '{export_dir}' exists and is not empty; pass --overwrite to replace it"
            )
        if not os.path.isfile(os.path.join(path, SAVED_MODEL_FILENAME)):
            raise StyleError(
                f"refusing to replace '{export_dir}': it is not empty and holds no SavedModel; "
                "choose another export directory"
            )
    parent = os.path.dirname(path)
    if os.path.isdir(parent) and not os.access(parent, os.W_OK | os.X_OK):
        raise StyleError(f"cannot export to '{export_dir}': directory '{parent}' is not writable")
    return path


@contextlib.contextmanager
def atomic_export_dir(export_dir: str | os.PathLike, overwrite: bool = False) -> Iterator[str]:
    """Yields a fresh temporary directory; on success it replaces `export_dir`.

    The temporary directory is a hidden sibling of `export_dir` (same
    filesystem, so the final rename is atomic). A missing parent directory is
    created. If the block raises, the temporary directory is removed and
    `export_dir` is untouched. Replacing an existing SavedModel (`overwrite`)
    takes two renames: the old one is moved aside, the new one moved in, and
    the old one deleted.

    Raises:
      StyleError: see `check_export_dir`; or the directory cannot be written.
    """
    path = check_export_dir(export_dir, overwrite)
    parent, name = os.path.split(path)
    try:
        os.makedirs(parent, exist_ok=True)
        tmp = os.path.join(parent, f".{name}.tmp-{secrets.token_hex(6)}")
        os.mkdir(tmp)
    except OSError as e:
        raise StyleError(f"cannot export to '{export_dir}': {e.strerror or e}") from None
    try:
        yield tmp
        # Checked again: another process may have written there meanwhile.
        check_export_dir(path, overwrite)
        _move_into_place(tmp, path)
    except OSError as e:
        raise StyleError(f"cannot export to '{export_dir}': {e.strerror or e}; check free space") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _move_into_place(tmp: str, path: str) -> None:
    if os.path.isdir(path) and not os.listdir(path):
        os.rmdir(path)  # POSIX rename replaces an empty directory, Windows does not
    if not os.path.exists(path):
        os.rename(tmp, path)
        return
    parent, name = os.path.split(path)
    old = os.path.join(parent, f".{name}.old-{secrets.token_hex(6)}")
    os.rename(path, old)
    try:
        os.rename(tmp, path)
    except OSError:
        os.rename(old, path)  # put the previous model back
        raise
    shutil.rmtree(old, ignore_errors=True)


# Variables are written in shards of at most this size: the MetaNet's weights come to
# ~100 MB, and GitHub (where shipped models live) refuses files over 100 MB.
MAX_SHARD_BYTES = 50 * 1024 * 1024


def write_archive(archive, directory: str) -> None:
    """Writes a `keras.export.ExportArchive` with sharded variables, without TF's INFO logs."""
    import tensorflow as tf

    policy = tf.train.experimental.MaxShardSizePolicy(max_shard_size=MAX_SHARD_BYTES)
    with quiet_tf_logging():
        archive.write_out(directory, options=tf.saved_model.SaveOptions(experimental_sharding_callback=policy),
                          verbose=False)


def write_metadata(directory: str | os.PathLike, metadata: Mapping[str, Any]) -> str:
    """Writes `keras_style.json` (what `keras_style.inference` reads) into `directory`."""
    path = os.path.join(os.fspath(directory), METADATA_FILENAME)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(dict(metadata), f, indent=2, sort_keys=True)
        f.write("\n")
    return path


def base_metadata(kind: str, **fields: Any) -> dict:
    """Metadata every export records: kind, format version, library versions, signatures."""
    import keras
    import tensorflow as tf

    metadata = {
        "kind": kind,
        "format_version": METADATA_FORMAT_VERSION,
        "keras_version": keras.__version__,
        "tensorflow_version": tf.__version__,
        "keras_style_version": keras_style.__version__,
        "value_range": [0, 255],
        "signatures": {
            SERVING_DEFAULT: "images uint8 [N,H,W,3] -> stylized uint8",
            STYLIZE_FLOAT: "images float32 [N,H,W,3] in [0,255] -> stylized float32",
            STYLIZE_BYTES: "image_bytes string [N] (JPEG/PNG/GIF/BMP, all the same size) -> stylized_bytes PNG",
        },
    }
    metadata.update(fields)
    return metadata


def image_signatures(
    fn: Callable[..., Any],
    extra_inputs: Mapping[str, Any] | None = None,
    max_pixels: int = serving_checks.DEFAULT_MAX_PIXELS,
) -> dict[str, Signature]:
    """The three image signatures of an image-to-image model, for `write_saved_model`.

    * `serving_default`: `images` uint8 [N, H, W, 3] -> `stylized` uint8
      (rounded and clipped to [0, 255]).
    * `stylize_float`: `images` float32 [N, H, W, 3] in [0, 255] ->
      `stylized` float32. The only one that converts to TFLite.
    * `stylize_bytes`: `image_bytes` string [N] (encoded JPEG, PNG, GIF or
      BMP) -> `stylized_bytes` string [N] (PNG). Images are decoded one by one
      (`tf.map_fn`) and then stylized as one batch, so all images in one
      request must have the same size (after EXIF rotation). A JPEG is turned
      upright by its EXIF orientation, as the commands do. Grayscale becomes
      RGB; an alpha channel is composited onto white. An image of more than
      `max_pixels` pixels is refused, from its header before decoding where the
      format allows (`serving_checks.decode_image`). In TF Serving's REST API the inputs are
      `{"b64": ...}` objects and the outputs come back base64-encoded.

    Every signature checks its images' shape (and, for floats, finiteness) first
    (`serving_checks`): a bad request fails with InvalidArgument and a readable message.

    Args:
      fn: `fn(images, *extras)`: float32 [N, H, W, 3] in [0, 255] (and the
        extra inputs, in order) -> float32 [N, H, W, 3].
      extra_inputs: ordered name -> `tf.TensorSpec` of further inputs that
        every signature takes after the images, passed through to `fn` as
        they are (e.g. AdaIN's `style_images` and `alpha`). Spec names are
        set from the keys; float extras are checked to be finite.
      max_pixels: the largest image `stylize_bytes` decodes.
    """
    import tensorflow as tf

    extras = [tf.TensorSpec(spec.shape, spec.dtype, name=name) for name, spec in (extra_inputs or {}).items()]

    def checked_extras(args):
        floats = [(arg, spec) for arg, spec in zip(args, extras) if arg.dtype.is_floating]
        if not floats:
            return args
        values = serving_checks.checked(*(serving_checks.finite(arg, spec.name) for arg, spec in floats))
        values = iter(values if len(floats) > 1 else (values,))
        return tuple(next(values) if arg.dtype.is_floating else arg for arg in args)

    def to_uint8(images):
        return tf.cast(tf.round(tf.clip_by_value(images, 0.0, 255.0)), tf.uint8)

    def serving_default(images, *args):
        images = serving_checks.checked(serving_checks.image(images, IMAGES_INPUT))
        return {IMAGES_OUTPUT: to_uint8(fn(tf.cast(images, tf.float32), *checked_extras(args)))}

    def stylize_float(images, *args):
        images = serving_checks.checked(serving_checks.image(images, IMAGES_INPUT))
        return {IMAGES_OUTPUT: fn(images, *checked_extras(args))}

    def decode(data):
        return serving_checks.decode_image(data, BYTES_INPUT, max_pixels)

    def stylize_bytes(image_bytes, *args):
        image_bytes = serving_checks.checked(
            serving_checks.tensor(image_bytes, BYTES_INPUT, [None], "string [N] (one encoded image each)"))
        images = tf.map_fn(decode, image_bytes, fn_output_signature=tf.TensorSpec([None, None, 3], tf.float32))
        stylized = to_uint8(fn(images, *checked_extras(args)))
        encoded = tf.map_fn(tf.io.encode_png, stylized, fn_output_signature=tf.TensorSpec([], tf.string))
        return {BYTES_OUTPUT: encoded}

    image_shape = [None, None, None, 3]
    uint8_images = tf.TensorSpec(image_shape, tf.uint8, name=IMAGES_INPUT)
    float_images = tf.TensorSpec(image_shape, tf.float32, name=IMAGES_INPUT)
    encoded = tf.TensorSpec([None], tf.string, name=BYTES_INPUT)
    return {
        SERVING_DEFAULT: (serving_default, [uint8_images, *extras]),
        STYLIZE_FLOAT: (stylize_float, [float_images, *extras]),
        STYLIZE_BYTES: (stylize_bytes, [encoded, *extras]),
    }


WEIGHTS_DTYPES = ("float32", "float16")


def check_weights_dtype(weights_dtype: str) -> str:
    """`weights_dtype` if it is one a SavedModel can store its weights in; else StyleError."""
    if weights_dtype not in WEIGHTS_DTYPES:
        raise StyleError(f"unknown weights dtype '{weights_dtype}'; use one of {', '.join(WEIGHTS_DTYPES)}")
    return weights_dtype


def stored_as(signatures: Mapping[str, Signature], keras_variables: Sequence[Any],
              weights_dtype: str = "float32") -> dict[str, Signature]:
    """`signatures` whose float32 weights are stored in `weights_dtype`.

    With "float16", each float32 Keras variable among `keras_variables` gets a float16
    tf.Variable (named by its Keras path, so `serving_precision.saved_model_weights`
    still finds it), and every signature reads the weights through a
    `keras.StatelessScope` that maps each variable to its float16 copy cast back to
    float32. The SavedModel then holds half the bytes and computes as before, in float32
    (or in the model's mixed precision): only the weights are rounded, to 11 significant
    bits. "float32" returns `signatures` unchanged.
    """
    check_weights_dtype(weights_dtype)
    if weights_dtype == "float32":
        return dict(signatures)
    import keras
    import tensorflow as tf

    pairs, seen = [], set()
    for variable in keras_variables:
        if id(variable) in seen or variable.dtype != "float32":
            continue  # ints (seeds, counters) and non-float32 weights are stored as they are
        seen.add(id(variable))
        pairs.append((variable, tf.Variable(tf.cast(variable.value, tf.float16), trainable=False,
                                            name=variable.path)))

    def reading_stored(fn):
        def wrapped(*args):
            mapping = [(variable, tf.cast(stored, tf.float32)) for variable, stored in pairs]
            with keras.StatelessScope(state_mapping=mapping):
                return fn(*args)

        return wrapped

    return {name: (reading_stored(fn), specs) for name, (fn, specs) in signatures.items()}


def write_saved_model(
    export_dir: str | os.PathLike,
    signatures: Mapping[str, Signature],
    metadata: Mapping[str, Any],
    overwrite: bool = False,
    variable_collections: Mapping[str, Sequence[Any]] | None = None,
    call: Signature | None = None,
) -> str:
    """Traces `signatures` and writes them, with `keras_style.json`, as a SavedModel.

    The SavedModel is written beside `export_dir` and renamed into place
    (`atomic_export_dir`). The endpoints track the tf.Variables they use; the
    models are not tracked as well, since that saves every weight a second time
    (their Keras variable wrappers), doubling the SavedModel on disk.

    Args:
      export_dir: the SavedModel directory to create.
      signatures: name -> (function, input `tf.TensorSpec`s).
      metadata: written to `export_dir/keras_style.json`; include `kind`.
      overwrite: replace an existing SavedModel at `export_dir`.
      variable_collections: name -> variables saved as a named collection
        (e.g. weights a client rebuilds a network from).
      call: (function, input specs) that the loaded object itself answers
        (`tf.saved_model.load(path)(...)`, `hub.load(path)(...)`), saved as its
        `__call__`; not a signature.

    Returns:
      The absolute path of the SavedModel directory.
    """
    import keras
    import tensorflow as tf

    archive = keras.export.ExportArchive()
    for name, variables in (variable_collections or {}).items():
        archive.add_variable_collection(name, list(variables))
    for name, (fn, input_signature) in signatures.items():
        archive.add_endpoint(name, fn, input_signature=list(input_signature))
    if call is not None:
        fn, input_signature = call
        # The loaded object is callable only when the saved root has a `__call__` function
        # (a signature alone gives "'_UserObject' object is not callable"). ExportArchive has
        # no API for a non-signature function; its root is the trackable it saves. The
        # variables are those the endpoints already use, so they are tracked.
        archive._tf_trackable.__call__ = tf.function(fn, input_signature=list(input_signature), autograph=False)
    with atomic_export_dir(export_dir, overwrite) as tmp, quiet_tf_logging():
        write_archive(archive, tmp)
        write_metadata(tmp, metadata)
    return os.path.abspath(os.fspath(export_dir))


def export_image_model(
    model,
    export_dir: str | os.PathLike,
    metadata: Mapping[str, Any],
    fn: Callable[..., Any] | None = None,
    extra_inputs: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> str:
    """Exports an image-to-image Keras model as a SavedModel with the image signatures.

    Args:
      model: the Keras model; the variables the signatures use are saved.
      export_dir: the SavedModel directory to create (see `atomic_export_dir`).
      metadata: written to `export_dir/keras_style.json`; include `kind`.
      fn: `fn(images, *extras) -> images`, by default
        `model(images, training=False)`.
      extra_inputs: see `image_signatures`.
      overwrite: replace an existing SavedModel at `export_dir`.

    Returns:
      The absolute path of the SavedModel directory.
    """
    check_export_dir(export_dir, overwrite)  # before tracing, which takes seconds
    if fn is None:

        def fn(images, *args):
            return model(images, *args, training=False)

    return write_saved_model(export_dir, image_signatures(fn, extra_inputs), metadata, overwrite)


@contextlib.contextmanager
def quiet_tf_logging() -> Iterator[None]:
    """Hides TensorFlow's Python INFO logs (e.g. "Assets written to: ...") in the block.

    Also absl's: the SavedModel writer logs "Sharding callback duration", "Writing
    fingerprint" etc. through absl, which an absl command prints at INFO.
    """
    import tensorflow as tf
    from absl import logging as absl_logging

    logger = tf.get_logger()
    level = logger.level
    absl_verbosity = absl_logging.get_verbosity()
    if level < 30:  # logging.WARNING
        logger.setLevel(30)
    if absl_verbosity > absl_logging.WARNING:  # absl: higher is more verbose
        absl_logging.set_verbosity(absl_logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
        absl_logging.set_verbosity(absl_verbosity)


