"""Tests for keras_style.layers."""

import keras
import numpy as np
import pytest

from keras_style.layers import (
    ConditionalInstanceNormalization,
    CropToReference,
    InstanceNormalization,
    PadToMultiple,
    ReflectionPadding2D,
)


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def _instance_norm_reference(x, gamma, beta, epsilon):
    mean = x.mean(axis=(1, 2), keepdims=True)
    var = x.var(axis=(1, 2), keepdims=True)
    return (x - mean) / np.sqrt(var + epsilon) * gamma + beta


def _assert_config_round_trip(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    # Registered under the project package, so .keras files can find it.
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"] == f"keras_style>{type(layer).__name__}"
    assert keras.saving.deserialize_keras_object(serialized).get_config() == config


def test_instance_norm_matches_numpy():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(2, 5, 6, 3)) * 3.0 + 1.0).astype("float32")
    layer = InstanceNormalization(epsilon=1e-3)
    layer.build(x.shape)
    gamma = rng.normal(size=3).astype("float32")
    beta = rng.normal(size=3).astype("float32")
    layer.set_weights([gamma, beta])
    expected = _instance_norm_reference(x.astype("float64"), gamma, beta, 1e-3)
    np.testing.assert_allclose(_np(layer(x)), expected, atol=1e-5)


def test_instance_norm_weights_and_config():
    layer = InstanceNormalization(center=False, scale=True)
    layer.build((None, None, None, 4))
    assert [w.shape for w in layer.weights] == [(4,)]
    np.testing.assert_array_equal(_np(layer.gamma), np.ones(4))
    full = InstanceNormalization()
    full.build((None, 3, 3, 2))
    np.testing.assert_array_equal(_np(full.beta), np.zeros(2))
    assert len(InstanceNormalization(center=False, scale=False, name="n").weights) == 0
    _assert_config_round_trip(InstanceNormalization(epsilon=1e-3, center=False))


def test_conditional_instance_norm_equals_instance_norm_with_those_weights():
    rng = np.random.default_rng(3)
    x = (rng.normal(size=(2, 5, 6, 3)) * 3.0 + 1.0).astype("float32")
    gamma = rng.normal(size=3).astype("float32")
    beta = rng.normal(size=3).astype("float32")
    layer = ConditionalInstanceNormalization(epsilon=1e-3)
    out = _np(layer([x, gamma, beta]))
    assert layer.weights == []
    np.testing.assert_allclose(out, _instance_norm_reference(x.astype("float64"), gamma, beta, 1e-3), atol=1e-5)
    reference = InstanceNormalization(epsilon=1e-3)
    reference.build(x.shape)
    reference.set_weights([gamma, beta])
    np.testing.assert_allclose(out, _np(reference(x)), atol=1e-6)
    # float16 compute: statistics stay float32, the result is float16.
    out16 = _np(ConditionalInstanceNormalization(epsilon=1e-3, dtype="mixed_float16")([x, gamma, beta]))
    assert out16.dtype == np.float16
    np.testing.assert_allclose(out16.astype("float32"), out, atol=2e-2)
    _assert_config_round_trip(ConditionalInstanceNormalization(epsilon=1e-4, name="c"))
    with pytest.raises(ValueError, match="gamma must have shape"):
        ConditionalInstanceNormalization()([x, gamma[:2], beta])


def test_instance_norm_float16_large_activations():
    # Activations near 300 over 64x64: float16 sums of squares would overflow.
    rng = np.random.default_rng(1)
    x16 = (300.0 + 5.0 * rng.normal(size=(2, 64, 64, 3))).astype("float16")
    mixed = InstanceNormalization(dtype="mixed_float16")
    out16 = _np(mixed(x16))
    assert out16.dtype == np.float16
    assert np.all(np.isfinite(out16))
    assert np.std(out16.astype("float32")) > 0.9

    full = InstanceNormalization(dtype="float32")
    # Same (already float16-rounded) input, so only the layer's own rounding
    # is compared.
    out32 = _np(full(x16.astype("float32")))
    np.testing.assert_allclose(out16.astype("float32"), out32, rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("padding", [1, 3, (2, 1), ((1, 2), (3, 0))])
def test_reflection_padding_matches_numpy(padding):
    x = np.random.default_rng(2).normal(size=(2, 5, 6, 3)).astype("float32")
    layer = ReflectionPadding2D(padding)
    (top, bottom), (left, right) = layer.padding
    expected = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), mode="reflect")
    out = _np(layer(x))
    np.testing.assert_array_equal(out, expected)
    assert layer.compute_output_shape(x.shape) == expected.shape
    _assert_config_round_trip(layer)


def test_reflection_padding_shapes_and_errors():
    layer = ReflectionPadding2D(((1, 2), (3, 4)))
    assert layer.compute_output_shape((None, None, 7, 3)) == (None, None, 14, 3)
    with pytest.raises(ValueError):
        ReflectionPadding2D(-1)
    with pytest.raises(ValueError):
        ReflectionPadding2D(4).build((None, 4, 8, 3))


SIZES = [(1, 1), (2, 3), (5, 7), (8, 8), (13, 2), (33, 47)]


def _expected_padded(x, multiple, min_size):
    def target(n):
        return max(-(-n // multiple) * multiple, -(-min_size // multiple) * multiple)

    h, w = x.shape[1:3]
    pads = ((0, 0), (0, target(h) - h), (0, target(w) - w), (0, 0))
    return np.pad(x, pads, mode="reflect")


@pytest.mark.parametrize("multiple,min_size", [(4, 1), (4, 8), (3, 1)])
def test_pad_to_multiple_eager(multiple, min_size):
    layer = PadToMultiple(multiple, min_size=min_size)
    rng = np.random.default_rng(3)
    for h, w in SIZES:
        x = rng.normal(size=(2, h, w, 3)).astype("float32")
        expected = _expected_padded(x, multiple, min_size)
        np.testing.assert_array_equal(_np(layer(x)), expected)
        assert layer.compute_output_shape(x.shape) == expected.shape
    assert layer.compute_output_shape((None, None, 5, 3))[1] is None
    _assert_config_round_trip(layer)


def test_pad_crop_round_trip_under_tf_function():
    if keras.config.backend() != "tensorflow":
        pytest.skip("tf.function check is TensorFlow-specific")
    import tensorflow as tf

    pad = PadToMultiple(4, min_size=8)
    crop = CropToReference()

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
    def round_trip(x):
        padded = pad(x)
        return padded, crop([padded, x])

    rng = np.random.default_rng(4)
    for h, w in SIZES:
        x = rng.normal(size=(1, h, w, 3)).astype("float32")
        padded, cropped = round_trip(x)
        np.testing.assert_array_equal(padded.numpy(), _expected_padded(x, 4, 8))
        np.testing.assert_array_equal(cropped.numpy(), x)
    # One trace served every size.
    assert round_trip.experimental_get_tracing_count() == 1


def test_crop_to_reference():
    x = np.arange(2 * 8 * 9 * 2, dtype="float32").reshape(2, 8, 9, 2)
    ref = np.zeros((2, 5, 3, 7), "float32")
    layer = CropToReference()
    np.testing.assert_array_equal(_np(layer([x, ref])), x[:, :5, :3, :])
    assert layer.compute_output_shape([(None, None, None, 2), (None, 5, None, 7)]) == (
        None,
        5,
        None,
        2,
    )
    _assert_config_round_trip(layer)
