"""Losses against plain numpy references."""

import numpy as np
import pytest

from keras_style import losses


def _np_gram(f):
    n, h, w, c = f.shape
    flat = f.reshape(n, h * w, c)
    return np.einsum("nxc,nxd->ncd", flat, flat) / (h * w * c)


@pytest.fixture
def feats():
    rng = np.random.default_rng(0)
    return rng.normal(size=(2, 5, 7, 4)).astype(np.float32) * 10, rng.normal(size=(2, 5, 7, 4)).astype(np.float32)


def test_gram_matrix_matches_numpy(feats):
    a, _ = feats
    np.testing.assert_allclose(np.asarray(losses.gram_matrix(a)), _np_gram(a), rtol=1e-5)


def test_gram_matrix_is_symmetric_and_float32_for_float16_input(feats):
    a, _ = feats
    g = np.asarray(losses.gram_matrix(a.astype(np.float16) * 30))
    assert g.dtype == np.float32 and np.all(np.isfinite(g))
    np.testing.assert_allclose(g, np.swapaxes(g, 1, 2))


@pytest.mark.parametrize("side", [16, 256])
def test_gram_matrix_of_bfloat16_features_sums_in_float32(side):
    """bfloat16 features: a float32 result within one bfloat16 step (2^-8 relative) of
    the exact Gram of the rounded features, at 256 and at 65536 pixels of one sign
    alike, on every machine: multiplied in bfloat16 where the products sum in float32
    (oneDNN with bfloat16 units; measured at most 0.0034 off), else in float32 (Eigen's
    bfloat16 products were up to 0.0046 off at 256 pixels; sums kept in bfloat16 drift
    with the pixel count: 81% off after 4096 sequential adds)."""
    import tensorflow as tf

    rng = np.random.default_rng(1)
    a = rng.uniform(100, 300, size=(1, side, side, 4)).astype(np.float32)
    rounded = tf.cast(tf.cast(a, tf.bfloat16), tf.float64).numpy()
    g = np.asarray(losses.gram_matrix(tf.cast(a, tf.bfloat16)))
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, _np_gram(rounded), rtol=2.0**-8)


def test_gram_matrix_of_bfloat16_features_without_float32_sums_multiplies_in_float32(monkeypatch):
    import tensorflow as tf

    from keras_style import precision

    monkeypatch.setattr(precision, "bfloat16_products_sum_in_float32", lambda: False)
    a = tf.cast(np.random.default_rng(2).uniform(100, 300, size=(1, 64, 64, 4)), tf.bfloat16)
    np.testing.assert_allclose(np.asarray(losses.gram_matrix(a)), np.asarray(losses.gram_matrix(tf.cast(a, tf.float32))),
                               rtol=1e-6)


def test_content_loss_is_mse(feats):
    a, b = feats
    np.testing.assert_allclose(float(losses.content_loss(a, b)), np.mean((a - b) ** 2), rtol=1e-5)


def test_gram_style_loss_with_layer_weights(feats):
    a, b = feats
    targets = {"x": _np_gram(b)[0], "y": _np_gram(a)[0]}
    got = float(losses.gram_style_loss({"x": a[:1], "y": b[:1]}, targets, {"x": 2.0, "y": 0.5}))
    want = 2.0 * np.mean((_np_gram(a[:1]) - _np_gram(b[:1])) ** 2) + 0.5 * np.mean((_np_gram(b[:1]) - _np_gram(a[:1])) ** 2)
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_mean_std_and_style_loss(feats):
    a, b = feats
    mean, std = losses.mean_std(a, epsilon=1e-5)
    np.testing.assert_allclose(np.asarray(mean), a.mean(axis=(1, 2)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(std), np.sqrt(a.var(axis=(1, 2)) + 1e-5), rtol=1e-5)
    want = np.mean((a.mean((1, 2)) - b.mean((1, 2))) ** 2) + np.mean(
        (np.sqrt(a.var((1, 2)) + 1e-5) - np.sqrt(b.var((1, 2)) + 1e-5)) ** 2
    )
    np.testing.assert_allclose(float(losses.mean_std_style_loss([a], [b])), want, rtol=1e-4)
    assert float(losses.mean_std_style_loss({"l": a}, {"l": a})) == pytest.approx(0.0, abs=1e-6)


def test_total_variation_l1_matches_numpy_and_tf(feats):
    import tensorflow as tf

    a, _ = feats
    want = np.abs(np.diff(a, axis=1)).sum((1, 2, 3)) + np.abs(np.diff(a, axis=2)).sum((1, 2, 3))
    np.testing.assert_allclose(float(losses.total_variation_loss(a, "l1")), want.mean(), rtol=1e-5)
    np.testing.assert_allclose(float(losses.total_variation_loss(a, "l1")), float(tf.reduce_mean(tf.image.total_variation(tf.constant(a)))), rtol=1e-5)


def test_total_variation_pow125_matches_numpy(feats):
    a, _ = feats
    dh = a[:, 1:, :-1, :] - a[:, :-1, :-1, :]
    dw = a[:, :-1, 1:, :] - a[:, :-1, :-1, :]
    want = ((dh**2 + dw**2) ** 1.25).sum((1, 2, 3)).mean()
    np.testing.assert_allclose(float(losses.total_variation_loss(a, "pow1.25")), want, rtol=1e-4)


def test_total_variation_of_constant_image_is_zero():
    assert float(losses.total_variation_loss(np.full((1, 8, 8, 3), 7.0, np.float32))) == 0.0
    with pytest.raises(ValueError):
        losses.total_variation_loss(np.zeros((1, 4, 4, 3), np.float32), "l2")
