"""Request checks inside the serving signatures, written once for every model kind.

TF Serving (and `loaded.signatures[...]`) feeds a signature whatever the client sent: the
input specs' shapes are not enforced when the graph runs, so a rank-5 image, an alpha
of shape [2] or a NaN came back as a garbage picture or as raw graph text. Each
signature therefore starts with `checked(...)`: one `tf.debugging.Assert` per rule,
run in order (so the first broken rule is the one reported), each failing with
`InvalidArgument` and a readable message ("content: expected float32 [1, H, W, 3] ...;
got shape [1 1 64 64 3]").

Shapes are read at run time from a padded `tf.shape` (`_shape`): Grappler folds
`tf.rank`, the length of `tf.shape` and the shape of a fully defined spec to the
declared ones, which would make a shape check pass on every request.

The TFLite converter drops `Assert` ops and the ops feeding only them, so the converted
tensor signatures are unchanged (their callers check inputs themselves).

`decode_image` is the bytes signatures' decoder: the decompression-bomb limit of the
commands (`keras_style.image_io.DEFAULT_MAX_PIXELS`, `style_export --max_image_pixels`)
is checked on the size in the file's header (JPEG, PNG, GIF) before anything is decoded,
and on the decoded size for the other formats.

TensorFlow is imported inside the functions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from keras_style import data as data_lib
from keras_style.checks import check_size
from keras_style.image_io import DEFAULT_MAX_PIXELS

__all__ = ["ANY", "DEFAULT_MAX_PIXELS", "MAX_PIXELS_KEY", "MAX_PIXELS_LIMIT", "Rule", "check_max_image_pixels",
           "checked", "decode_image", "dim", "encoded_size", "finite", "image", "in_range", "non_negative", "tensor",
           "unit_range"]

# keras_style.json: the pixel limit the bytes signatures enforce, and the largest one an
# export accepts (height x width is computed in int64).
MAX_PIXELS_KEY = "max_image_pixels"
MAX_PIXELS_LIMIT = 2 ** 40
# How many entries of a tensor's shape the checks read (ranks up to this are reported whole).
_SHAPE_PAD = 8
# `__call__` takes [0, 1] images; resampling may overshoot by a little.
UNIT_RANGE_SLACK = 1.0 / 255.0


def check_max_image_pixels(max_pixels) -> int:
    """`max_pixels` as an int if it can be an export's pixel limit; else StyleError."""
    return check_size(max_pixels, "the image pixel limit (max_image_pixels)", 1, MAX_PIXELS_LIMIT)


@dataclasses.dataclass(frozen=True)
class Rule:
    """One rule on a tensor: `condition(x)` (a bool scalar tensor) and the message it fails with.

    `message` may hold one `{}`, filled with the tensor's actual shape.
    """

    tensor: Any
    condition: Callable[[Any], Any]
    message: str


def _shape(x):
    """(x's run-time shape padded with -1 to `_SHAPE_PAD` entries, x's run-time shape).

    Never the declared spec's: Grappler folds `tf.shape` of a fully defined static shape
    (and `tf.rank`, and the length of any `tf.shape`) to constants. A serialize / parse
    round trip, whose output has no static shape, hides it; it copies the tensor, so it
    is used only where the spec is fully defined (alpha, statistics, weights: small).
    """
    import tensorflow as tf

    if x.shape.is_fully_defined():
        x = tf.io.parse_tensor(tf.io.serialize_tensor(x), x.dtype)
    shape = tf.shape(x, out_type=tf.int64)
    return tf.concat([shape, tf.fill([_SHAPE_PAD], tf.constant(-1, tf.int64))], 0)[:_SHAPE_PAD], shape


# A `dims` entry: a dimension of any size, 0 included (None: any size of at least 1).
ANY = "any"


def _dims_match(padded, dims: Sequence[Any]):
    """Whether the padded shape is exactly `dims` long and matches it."""
    import tensorflow as tf

    ok = [padded[len(dims)] < 0]
    for index, dim in enumerate(dims):
        if dim is None:
            ok.append(padded[index] >= 1)
        elif isinstance(dim, str) and dim == ANY:
            ok.append(padded[index] >= 0)
        else:
            ok.append(tf.equal(padded[index], tf.cast(dim, tf.int64)))
    return tf.reduce_all(tf.stack(ok))


def tensor(x, name: str, dims: Sequence[Any], expected: str, *, check_finite: bool = True) -> list[Rule]:
    """Rules: `x` has exactly `len(dims)` dimensions matching `dims` (int or scalar tensor:
    that size; None: any size of at least 1; `ANY`: any size), and, for floats, only
    finite values.

    `expected` describes the tensor in the message: "float32 [1, 1024]".
    """
    rules = [Rule(x, lambda t: _dims_match(_shape(t)[0], dims), f"{name}: expected {expected}; got shape {{}}")]
    if check_finite and x.dtype.is_floating:
        rules.extend(finite(x, name))
    return rules


def image(x, name: str, *, batch: int | None = None, value_range: str = "in [0, 255]") -> list[Rule]:
    """Rules for a batch of RGB images [N, H, W, 3] (N = `batch` if given), H and W >= 1,
    finite values for floats."""
    expected = f"{x.dtype.name} [{'N' if batch is None else batch}, H, W, 3] RGB images"
    if x.dtype.is_floating:
        expected += f" {value_range}"
    return tensor(x, name, [ANY if batch is None else batch, None, None, 3], expected)


def finite(x, name: str) -> list[Rule]:
    """Rule: no NaN or infinite value in `x`."""
    import tensorflow as tf

    def condition(t):
        return tf.reduce_all(tf.math.is_finite(tf.reshape(t, [-1])))

    return [Rule(x, condition, f"{name}: has NaN or infinite values")]


def non_negative(x, name: str) -> list[Rule]:
    """Rule: every value of `x` is at least 0."""
    import tensorflow as tf

    return [Rule(x, lambda t: tf.reduce_all(tf.reshape(t, [-1]) >= 0), f"{name}: has negative values")]


def in_range(x, name: str, low: float, high: float, hint: str = "") -> list[Rule]:
    """Rule: every value of `x` in [low, high]."""
    import tensorflow as tf

    def condition(t):
        flat = tf.reshape(t, [-1])
        return tf.logical_and(tf.reduce_all(flat >= low), tf.reduce_all(flat <= high))

    return [Rule(x, condition, f"{name}: values must be in [{low:g}, {high:g}]{hint}")]


def unit_range(x, name: str) -> list[Rule]:
    """Rule: every value of `x` in [0, 1] (up to `UNIT_RANGE_SLACK`), as TF Hub image models take."""
    rules = in_range(x, name, -UNIT_RANGE_SLACK, 1.0 + UNIT_RANGE_SLACK)
    message = f"{name}: values must be in [0, 1] (float images; divide 0..255 pixels by 255)"
    return [Rule(x, rules[0].condition, message)]


def dim(x, index: int):
    """Dimension `index` of `x` at run time as an int64 scalar, -1 if `x` has fewer: safe
    to compute on a request of any rank (a shape rule can then compare it)."""
    return _shape(x)[0][index]


def checked(*rule_lists: Sequence[Rule]):
    """Asserts every rule, in order, before any of their tensors is used; returns the
    tensors, in the order they first appear, as identities that depend on all the asserts."""
    import tensorflow as tf

    previous = []
    tensors = []
    for rules in rule_lists:
        for rule in rules:
            if not any(rule.tensor is t for t in tensors):
                tensors.append(rule.tensor)
            with tf.control_dependencies(previous):
                message = rule.message
                if "{}" in message:
                    message = tf.strings.format(message, [_shape(rule.tensor)[1]], summarize=_SHAPE_PAD)
                previous = [tf.debugging.Assert(rule.condition(rule.tensor), [message])]
    with tf.control_dependencies(previous):
        identities = [tf.identity(t) for t in tensors]
    return identities[0] if len(identities) == 1 else tuple(identities)


def encoded_size(data):
    """(height, width) int64 of one encoded image from its header, without decoding it:
    JPEG (`tf.io.extract_jpeg_shape`), PNG (the IHDR chunk), GIF (the logical screen);
    (-1, -1) for other formats and for files too short to hold the header."""
    import tensorflow as tf

    length = tf.strings.length(data)
    unknown = tf.constant([-1, -1], tf.int64)

    def png():
        # Bytes 16..23: IHDR width, height, big-endian uint32.
        width_height = tf.io.decode_raw(tf.strings.substr(data, 16, 8), tf.uint8)
        values = tf.cast(width_height, tf.int64)
        width = values[0] * 2 ** 24 + values[1] * 2 ** 16 + values[2] * 2 ** 8 + values[3]
        height = values[4] * 2 ** 24 + values[5] * 2 ** 16 + values[6] * 2 ** 8 + values[7]
        return tf.stack([height, width])

    def gif():
        # Bytes 6..9: logical screen width, height, little-endian uint16.
        values = tf.cast(tf.io.decode_raw(tf.strings.substr(data, 6, 4), tf.uint8), tf.int64)
        return tf.stack([values[2] + values[3] * 256, values[0] + values[1] * 256])

    def jpeg():
        return tf.cast(tf.io.extract_jpeg_shape(data)[:2], tf.int64)

    head = tf.strings.substr(data, 0, tf.minimum(length, 8))
    is_png = tf.logical_and(tf.equal(head, b"\x89PNG\r\n\x1a\n"), length >= 24)
    is_gif = tf.logical_and(tf.strings.regex_full_match(head, "GIF8[79]a.*"), length >= 10)
    return tf.case([(is_png, png), (is_gif, gif), (tf.io.is_jpeg(data), jpeg)], default=lambda: unknown,
                   exclusive=False)


def _pixel_rule(size, name: str, max_pixels: int):
    import tensorflow as tf

    def condition(s):
        return s[0] * s[1] <= max_pixels

    message = tf.strings.format(
        f"{name}: the image is {{}} x {{}} (width x height) = {{}} pixels, over the limit of "
        f"{max_pixels} pixels this model was exported with (style_export --max_image_pixels)",
        [size[1], size[0], size[0] * size[1]])
    return condition, message


def decode_image(data, name: str, max_pixels: int = DEFAULT_MAX_PIXELS):
    """One encoded image (a string scalar) as float32 RGB [H, W, 3] in [0, 255], as the
    commands read it: turned upright by its EXIF orientation, alpha composited onto white
    (`keras_style.image_io.load_image`); refused (InvalidArgument) when it has more than
    `max_pixels` pixels, from its header before it is decoded where the format allows."""
    import tensorflow as tf

    size = encoded_size(data)
    condition, message = _pixel_rule(size, name, max_pixels)
    header_check = tf.debugging.Assert(condition(size), [message])
    with tf.control_dependencies([header_check]):
        decoded = tf.io.decode_image(data, channels=0, dtype=tf.uint8, expand_animations=False)
    decoded_size = tf.shape(decoded, out_type=tf.int64)[:2]
    condition, message = _pixel_rule(decoded_size, name, max_pixels)
    with tf.control_dependencies([tf.debugging.Assert(condition(decoded_size), [message])]):
        decoded = tf.identity(decoded)
    upright = data_lib.apply_exif_orientation(decoded, data_lib.exif_orientation(data))
    return tf.cast(data_lib.flatten_alpha(upright), tf.float32)
