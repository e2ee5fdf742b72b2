"""Tests for `MetaNetStyleTransfer`, the combined MetaNet + GeneratedTransformNet model."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from model_test_utils import assert_serialization_round_trip

from keras_style.export import metanet as export_metanet
from keras_style.models import GeneratedTransformNet, MetaNet, MetaNetStyleTransfer, TransformNet
from keras_style.models.metanet import STATISTICS_DIM
from keras_style.models.metanet_model import GENERATED_NET_LAYER, METANET_LAYER

BASE = 2
HIDDEN = 4


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    content = rng.uniform(0.0, 255.0, size=(2, 13, 10, 3)).astype("float32")
    statistics = rng.uniform(0.0, 400.0, size=(1, STATISTICS_DIM)).astype("float32")
    return content, statistics


def _old_inline_model(base, hidden):
    """The model `MetaNetTask.build_model()` assembled inline before this class existed."""
    metanet = MetaNet(base=base, hidden_per_layer=hidden, name="metanet")
    generated_net = GeneratedTransformNet(base=base, name="generated_transform_net")
    content = keras.Input(shape=(None, None, 3), name="content")
    statistics = keras.Input(shape=(STATISTICS_DIM,), name="style_statistics")
    outputs = generated_net([content, metanet(statistics)])
    return keras.Model([content, statistics], outputs, name="metanet_style_transfer")


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    net = MetaNetStyleTransfer(base=BASE, hidden_per_layer=HIDDEN)
    # Non-trivial shared weights in conv1's norm, so that copies are tested.
    norm = net.generated_net.get_layer("conv1_norm")
    gamma, beta = norm.get_weights()
    norm.set_weights([gamma + 0.3, beta - 0.2])
    return net


def test_config_round_trip(model):
    assert model.get_config() == {
        "name": "metanet_style_transfer", "trainable": True, "base": BASE, "hidden_per_layer": HIDDEN,
    }
    assert keras.saving.get_registered_name(MetaNetStyleTransfer) == "keras_style>MetaNetStyleTransfer"
    assert_serialization_round_trip(model, list(_inputs()))


def test_parts_and_layer_names(model):
    assert [layer.name for layer in model.layers] == ["style_statistics", "content", "metanet", "generated_transform_net"]
    assert isinstance(model.metanet, MetaNet) and model.metanet.name == METANET_LAYER
    assert isinstance(model.generated_net, GeneratedTransformNet) and model.generated_net.name == GENERATED_NET_LAYER
    assert model.metanet.base == model.generated_net.base == BASE
    # The export takes the parts from the model.
    assert export_metanet.metanet_parts(model) == (model.metanet, model.generated_net)


def test_output_is_generated_net_on_metanet_weights(model):
    content, statistics = _inputs(1)
    weights = model.weights_for(statistics)
    assert tuple(weights.shape) == (1, model.generated_net.num_generated_params)
    np.testing.assert_allclose(_np(weights), _np(model.metanet(statistics)), atol=0)
    expected = _np(model.generated_net([tf.constant(content), weights]))
    np.testing.assert_allclose(_np(model([content, statistics])), expected, atol=1e-4)
    np.testing.assert_allclose(_np(model.stylize_with_weights(content, weights)), expected, atol=1e-5)
    standalone = model.transform_net_for(statistics)
    assert isinstance(standalone, TransformNet)
    np.testing.assert_allclose(_np(standalone(content)), expected, atol=1e-2)


def _checkpoint_values(path):
    reader = tf.train.load_checkpoint(path)
    return {key: reader.get_tensor(key) for key in reader.get_variable_to_shape_map() if "OBJECT_GRAPH" not in key}


def test_checkpoint_of_old_inline_model_restores(tmp_path):
    keras.utils.set_random_seed(3)
    old = _old_inline_model(BASE, HIDDEN)
    for index, variable in enumerate(old.weights):
        variable.assign(np.random.default_rng(index).normal(size=variable.shape).astype("float32"))
    old_path = tf.train.Checkpoint(model=old).write(str(tmp_path / "old"))

    keras.utils.set_random_seed(4)
    new = MetaNetStyleTransfer(base=BASE, hidden_per_layer=HIDDEN)
    assert [(v.path, tuple(v.shape)) for v in new.weights] == [(v.path, tuple(v.shape)) for v in old.weights]
    tf.train.Checkpoint(model=new).read(old_path).assert_consumed()
    # Written back, the new model's checkpoint has the old one's keys and values: the
    # same layout, restored in full (compared by key: that is all a checkpoint holds).
    new_path = tf.train.Checkpoint(model=new).write(str(tmp_path / "new"))
    old_values, new_values = _checkpoint_values(old_path), _checkpoint_values(new_path)
    assert sorted(new_values) == sorted(old_values)
    for key, value in old_values.items():
        np.testing.assert_array_equal(new_values[key], value, err_msg=key)


def test_checkpoint_restores_every_weight_of_the_metanet(tmp_path):
    """A training checkpoint holds all of the MetaNet, the per-layer heads included (their
    kernels sit in a list, which TensorFlow's checkpoints do not follow by themselves)."""
    keras.utils.set_random_seed(5)
    trained = MetaNetStyleTransfer(base=BASE, hidden_per_layer=HIDDEN)
    for index, variable in enumerate(trained.weights):
        variable.assign(np.random.default_rng(index).normal(size=variable.shape).astype("float32"))
    path = tf.train.Checkpoint(model=trained).write(str(tmp_path / "ckpt"))
    assert any("heads" in key or "kernel_0" in key for key in _checkpoint_values(path))

    keras.utils.set_random_seed(6)
    resumed = MetaNetStyleTransfer(base=BASE, hidden_per_layer=HIDDEN)
    tf.train.Checkpoint(model=resumed).read(path).assert_consumed()
    for before, after in zip(trained.weights, resumed.weights):
        np.testing.assert_array_equal(after.numpy(), before.numpy(), err_msg=before.path)
