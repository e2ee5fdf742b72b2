"""Reflection padding for channels-last images."""

import keras
from keras import ops


def _normalize_padding(padding):
    """Returns `((top, bottom), (left, right))` as non-negative ints."""
    if isinstance(padding, int):
        pairs = ((padding, padding), (padding, padding))
    elif len(padding) == 2 and all(isinstance(p, int) for p in padding):
        pairs = ((padding[0], padding[0]), (padding[1], padding[1]))
    elif len(padding) == 2 and all(len(p) == 2 for p in padding):
        pairs = tuple(tuple(p) for p in padding)
    else:
        raise ValueError(
            "padding must be an int, (pad_h, pad_w) or "
            f"((top, bottom), (left, right)); got {padding!r}."
        )
    pairs = tuple(tuple(int(v) for v in pair) for pair in pairs)
    if any(v < 0 for pair in pairs for v in pair):
        raise ValueError(f"padding must be non-negative; got {padding!r}.")
    return pairs


# The most inputs of one CONCATENATION that TFLite's XNNPACK delegate runs: with 6 or more
# it leaves the op (and the slices feeding it) to TFLite's own kernels, which split the
# delegated graph and keep every tensor at the split in TFLite's arena.
MAX_CONCAT_INPUTS = 5


def concatenate(parts, axis):
    """`ops.concatenate(parts, axis)` as a tree of concatenations of at most
    `MAX_CONCAT_INPUTS` inputs each (the same values; one part is returned as is)."""
    parts = list(parts)
    while len(parts) > MAX_CONCAT_INPUTS:
        parts = [
            group[0] if len(group) == 1 else ops.concatenate(group, axis=axis)
            for group in (parts[i : i + MAX_CONCAT_INPUTS] for i in range(0, len(parts), MAX_CONCAT_INPUTS))
        ]
    return parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=axis)


def _reflect(x, before, after, axis):
    """Reflect-pads one spatial axis of a rank-4 tensor by concatenating slices."""
    if not before and not after:
        return x

    def rows(start, stop):
        index = [slice(None)] * 4
        index[axis] = slice(start, stop)
        return x[tuple(index)]

    # Before: rows before, ..., 1 (the edge row 0 is not repeated); after: rows
    # -2, ..., -(after + 1), i.e. counted back from the end, so H may be dynamic.
    # The one-row slices are joined first (small tensors), then one concatenation of
    # at most three inputs copies `x`: every op stays inside XNNPACK.
    head = [rows(i, i + 1) for i in range(before, 0, -1)]
    tail = [rows(-2 - i, -1 - i) for i in range(after)]
    parts = [concatenate(head, axis)] if head else []
    parts.append(x)
    if tail:
        parts.append(concatenate(tail, axis))
    return ops.concatenate(parts, axis=axis)


@keras.saving.register_keras_serializable(package="keras_style")
class ReflectionPadding2D(keras.layers.Layer):
    """Reflect-pads the height and width of `(N, H, W, C)` images.

    Same semantics as `np.pad(..., mode="reflect")` (the edge pixel is not
    repeated), so each padding amount must be smaller than the padded
    dimension. Reflection rather than zeros keeps image borders free of the
    dark frame that zero padding causes in style transfer.

    Built from one-row / one-column slices and a concatenation per axis, not
    `ops.pad(mode="reflect")`: that converts to TFLite's MIRROR_PAD, which the
    XNNPACK delegate does not run, so every padded conv split the delegated
    graph and MIRROR_PAD's own kernel cost about a third of a 1024² TransformNet
    run. Slices and concatenations stay inside XNNPACK; the result is identical.
    The one-row slices of each side are joined first, so no concatenation has more
    than `MAX_CONCAT_INPUTS` inputs (XNNPACK leaves larger ones, e.g. the 9 of a
    9x9 conv's padding, to TFLite's kernels).

    Args:
        padding: int (same on all four sides), `(pad_h, pad_w)` (symmetric), or
            `((top, bottom), (left, right))`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).
    """

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        self.padding = _normalize_padding(padding)

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                f"ReflectionPadding2D expects (N, H, W, C) input; got {input_shape}."
            )
        for dim, (before, after) in zip(input_shape[1:3], self.padding):
            if dim is not None and max(before, after) >= dim:
                raise ValueError(
                    f"Reflection padding {self.padding} needs spatial "
                    f"dimensions larger than each pad; got shape {input_shape}."
                )

    def call(self, inputs):
        (top, bottom), (left, right) = self.padding
        return _reflect(_reflect(inputs, top, bottom, axis=1), left, right, axis=2)

    def compute_output_shape(self, input_shape):
        (top, bottom), (left, right) = self.padding
        n, h, w, c = input_shape
        h = None if h is None else h + top + bottom
        w = None if w is None else w + left + right
        return (n, h, w, c)

    def get_config(self):
        config = super().get_config()
        # Nested lists so the JSON round trip gives back an equal config.
        config["padding"] = [list(pair) for pair in self.padding]
        return config
