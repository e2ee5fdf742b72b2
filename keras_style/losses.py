"""Style-transfer losses, written with `keras.ops` so they run under any backend.

Feature maps are channels-last (N, H, W, C). Every loss returns a scalar (summed over
layers, averaged over the batch) and computes in float32, whatever the input dtype:
Gram matrices and moments of activations in the hundreds overflow float16. (Where
TensorFlow's bfloat16 matrix products sum in float32, the Gram products of bfloat16
features are left to them; see `gram_matrix`.)
"""

from __future__ import annotations

from typing import Mapping, Sequence

import keras
from keras import ops

from keras_style import precision


def _f32(x):
    return ops.cast(x, "float32")


def content_loss(features, target):
    """Mean squared error between two feature maps (or images)."""
    return ops.mean(ops.square(_f32(features) - _f32(target)))


def gram_matrix(features):
    """Gram matrices of (N, H, W, C) features, normalised by C·H·W: shape (N, C, C), float32.

    bfloat16 features (the `mixed_bfloat16` policy) are multiplied as they are where
    TensorFlow's bfloat16 matrix products sum in float32 and round only the finished sums
    to bfloat16 (oneDNN on a CPU with bfloat16 units:
    `precision.bfloat16_products_sum_in_float32`; `tests/test_losses.py` checks the
    result), and in float32 everywhere else. That rounding was not measurable in
    results: 100 Gatys evaluations reached the same float32-scored loss either way
    (256 px: 1.367e5 both; 512 px: 9.383e4, against 9.378e4 for an all-float32 run and
    9.426e4 with float32 Grams on bfloat16 features), while on an AMX CPU float32 Grams
    took 0.165 s of a 0.46 s bfloat16 evaluation at 512 px and bfloat16 ones 0.05 s.
    Every other dtype is multiplied in float32: float16 sums of activations in the
    hundreds overflow.
    """
    if not (
        keras.backend.standardize_dtype(features.dtype) == "bfloat16"
        and keras.backend.backend() == "tensorflow"
        and precision.bfloat16_products_sum_in_float32()
    ):
        features = _f32(features)
    shape = ops.shape(features)
    n, c = shape[0], shape[3]
    flat = ops.reshape(features, (n, -1, c))  # (N, HW, C)
    size = ops.cast(shape[1] * shape[2] * c, "float32")
    return _f32(ops.matmul(ops.transpose(flat, (0, 2, 1)), flat)) / size


def gram_style_loss(
    features: Mapping[str, object],
    target_grams: Mapping[str, object],
    layer_weights: Mapping[str, float] | None = None,
):
    """Σ_l w_l · mean((G(F_l) − G_target,l)²), the Gatys et al. style loss.

    Args:
      features: {layer: (N, H, W, C) features of the image being optimised}.
      target_grams: {layer: (C, C) or (N, C, C) Gram matrices of the style}.
      layer_weights: {layer: weight}; missing layers weigh 1.
    """
    total = 0.0
    for name, feats in features.items():
        weight = 1.0 if layer_weights is None else float(layer_weights.get(name, 1.0))
        total = total + weight * ops.mean(ops.square(gram_matrix(feats) - _f32(target_grams[name])))
    return total


def mean_std(features, epsilon=1e-5):
    """Per-sample, per-channel mean and standard deviation over H and W: (N, C) each."""
    features = _f32(features)
    mean = ops.mean(features, axis=(1, 2))
    variance = ops.var(features, axis=(1, 2))
    return mean, ops.sqrt(variance + epsilon)


def mean_std_style_loss(
    features: Mapping[str, object] | Sequence,
    targets: Mapping[str, object] | Sequence,
    layer_weights: Mapping[str, float] | None = None,
    epsilon=1e-5,
):
    """Σ_l w_l · (‖μ(F_l) − μ(S_l)‖² + ‖σ(F_l) − σ(S_l)‖²) / C, the AdaIN style loss.

    Squared distances are averaged over channels and batch (Huang & Belongie use the
    summed L2 norm; the mean only rescales λ). Accepts dicts or parallel sequences of
    (N, H, W, C) feature maps.
    """
    if not isinstance(features, Mapping):
        features = dict(enumerate(features))
        targets = dict(enumerate(targets))
    total = 0.0
    for name, feats in features.items():
        weight = 1.0 if layer_weights is None else float(layer_weights.get(name, 1.0))
        mean, std = mean_std(feats, epsilon)
        target_mean, target_std = mean_std(targets[name], epsilon)
        total = total + weight * (
            ops.mean(ops.square(mean - target_mean)) + ops.mean(ops.square(std - target_std))
        )
    return total


def total_variation_loss(images, form="l1"):
    """Total variation of (N, H, W, C) images, averaged over the batch.

    Args:
      form: "l1" — anisotropic Σ|x[i+1,j]−x[i,j]| + |x[i,j+1]−x[i,j]| (as
        `tf.image.total_variation`), or "pow1.25" — Σ ((Δh)² + (Δw)²)^1.25 over the
        pixels where both differences exist (the form of the Keras neural style example).
    """
    images = _f32(images)
    dh = images[:, 1:, :, :] - images[:, :-1, :, :]
    dw = images[:, :, 1:, :] - images[:, :, :-1, :]
    if form == "l1":
        per_image = ops.sum(ops.abs(dh), axis=(1, 2, 3)) + ops.sum(ops.abs(dw), axis=(1, 2, 3))
    elif form == "pow1.25":
        a = ops.square(dh[:, :, :-1, :])
        b = ops.square(dw[:, :-1, :, :])
        per_image = ops.sum(ops.power(a + b, 1.25), axis=(1, 2, 3))
    else:
        raise ValueError(f"unknown total variation form '{form}'; choose l1 or pow1.25")
    return ops.mean(per_image)
