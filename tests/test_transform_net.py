"""Tests for keras_style.models.TransformNet."""

import keras
import numpy as np
import pytest
from model_test_utils import (
    assert_mixed_precision,
    assert_output_shape,
    assert_serialization_round_trip,
)

from keras_style.errors import StyleError
from keras_style.layers import InstanceNormalization
from keras_style.models import TransformNet

BASE = 4


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return TransformNet(base=BASE)


def _images(shape, seed=0):
    return np.random.default_rng(seed).uniform(0.0, 255.0, size=shape).astype("float32")


@pytest.mark.parametrize("size", [(1, 1), (1, 6), (5, 7), (17, 16), (33, 47)])
def test_output_shape_equals_input_shape(model, size):
    shape = (2, *size, 3)
    out = assert_output_shape(model, shape, shape, high=255.0)
    assert out.dtype == np.float32
    assert np.all(out > 0.0) and np.all(out < 255.0)


def test_dynamic_sizes_under_tf_function(model):
    if keras.config.backend() != "tensorflow":
        pytest.skip("tf.function check is TensorFlow-specific")
    import tensorflow as tf

    fn = tf.function(
        model.__call__,
        input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)],
    )
    for size in [(5, 7), (33, 47)]:
        x = _images((1, *size, 3))
        np.testing.assert_allclose(fn(x).numpy(), keras.ops.convert_to_numpy(model(x)), atol=1e-4)


def test_gradients_reach_every_weight(model):
    if keras.config.backend() != "tensorflow":
        pytest.skip("uses tf.GradientTape")
    import tensorflow as tf

    x = tf.constant(_images((1, 13, 10, 3)))
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x, training=True) - 100.0))
    grads = tape.gradient(loss, model.trainable_variables)
    assert len(grads) == len(model.trainable_variables)
    for variable, grad in zip(model.trainable_variables, grads):
        assert grad is not None, variable.path
        assert np.all(np.isfinite(grad.numpy())), variable.path


def test_conv_layer_specs_match_model(model):
    specs = TransformNet.conv_layer_specs(BASE)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.name for c in convs] == [s[0] for s in specs]
    for (name, kernel, c_in, c_out, stride), conv in zip(specs, convs):
        assert tuple(conv.kernel.shape) == (kernel, kernel, c_in, c_out)
        assert tuple(conv.strides) == (stride, stride)
        if name == "conv_out":
            assert tuple(conv.bias.shape) == (3,)
        else:
            assert not conv.use_bias
            norm = model.get_layer(f"{name}_norm")
            assert isinstance(norm, InstanceNormalization)
            assert tuple(norm.gamma.shape) == (c_out,)
    names = [s[0] for s in specs]
    assert names[:3] == ["conv1", "conv2", "conv3"]
    assert names[-3:] == ["up1_conv", "up2_conv", "conv_out"]
    assert names[3:-3] == [f"res{i}_conv{j}" for i in range(1, 6) for j in (1, 2)]


def test_parameter_count_base_32():
    base = 32
    specs = TransformNet.conv_layer_specs(base)
    expected = 0
    for name, kernel, c_in, c_out, _ in specs:
        expected += kernel * kernel * c_in * c_out
        # conv_out has a bias; every other conv feeds an IN with gamma and beta.
        expected += c_out if name == "conv_out" else 2 * c_out
    assert expected == 1620 * base**2 + 586 * base + 3 == 1_677_635
    assert TransformNet(base=base).count_params() == expected


def test_config_and_keras_file_round_trip(model):
    assert model.get_config() == {"name": model.name, "trainable": True, "base": BASE}
    assert_serialization_round_trip(model, _images((1, 9, 11, 3)), atol=1e-5)


def test_mixed_precision():
    keras.utils.set_random_seed(1)
    _, (mixed,) = assert_mixed_precision(
        lambda: TransformNet(base=BASE), _images((1, 20, 24, 3)), rtol=2e-2
    )
    assert mixed.dtype == np.float32
    assert mixed.std() > 1.0


@pytest.mark.parametrize("base", [0, -2, 2.5, "8", True])
def test_invalid_base(base):
    with pytest.raises(StyleError):
        TransformNet(base=base)
