"""The VGG feature extractor: preprocessing, layer selection, weights, config."""

import numpy as np
import pytest

from keras_style.errors import StyleError
from keras_style.layers.caffe_preprocessing import CaffePreprocessing
from keras_style.vgg import VGGFeatureExtractor, canonical_layer_name


def test_caffe_preprocessing_flips_to_bgr_and_subtracts_mean():
    rgb = np.array([[[[10.0, 20.0, 30.0]]]], np.float32)
    out = np.asarray(CaffePreprocessing()(rgb))
    np.testing.assert_allclose(out[0, 0, 0], [30 - 103.939, 20 - 116.779, 10 - 123.68], rtol=1e-6)


def test_layer_aliases():
    assert canonical_layer_name("relu4_1") == "block4_conv1"
    assert canonical_layer_name("conv3_4") == "block3_conv4"
    assert canonical_layer_name("block2_conv2") == "block2_conv2"


def test_outputs_and_matches_keras_applications(vgg19_weights_path):
    import keras

    extractor = VGGFeatureExtractor(["relu1_1", "block3_conv1"], pooling="max")
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 40, 3)).astype(np.float32)
    out = extractor(x)
    assert set(out) == {"relu1_1", "block3_conv1"}
    assert tuple(out["relu1_1"].shape) == (2, 32, 40, 64)
    assert tuple(out["block3_conv1"].shape) == (2, 8, 10, 256)
    # The same weights through Keras' own VGG19 and Caffe preprocessing give the same features.
    reference = keras.applications.VGG19(weights=vgg19_weights_path, include_top=False)
    ref_model = keras.Model(reference.input, reference.get_layer("block3_conv1").output)
    want = ref_model(keras.applications.vgg19.preprocess_input(x.copy()))
    np.testing.assert_allclose(np.asarray(out["block3_conv1"]), np.asarray(want), rtol=1e-4, atol=1e-3)


def test_graph_stops_at_deepest_layer_and_is_frozen(vgg19_weights_path):
    extractor = VGGFeatureExtractor(["block2_conv1"], pooling="avg")
    names = [layer.name for layer in extractor.layers]
    assert "block2_conv2" not in names and "block1_pool" in names
    assert extractor.trainable_weights == []
    assert len(extractor.non_trainable_weights) == 6  # 3 convs x (kernel, bias)


def test_average_and_max_pooling_differ(vgg19_weights_path):
    x = np.random.default_rng(1).uniform(0, 255, (1, 16, 16, 3)).astype(np.float32)
    avg = np.asarray(VGGFeatureExtractor(["block2_conv1"], pooling="avg")(x)["block2_conv1"])
    mx = np.asarray(VGGFeatureExtractor(["block2_conv1"], pooling="max")(x)["block2_conv1"])
    assert avg.shape == mx.shape and not np.allclose(avg, mx)


def test_features_respond_to_image_content(vgg19_weights_path):
    # Real weights: a photo's deep features differ strongly from its blurred-flat version.
    from conftest import CONTENT_IMAGE
    from keras_style import image_io

    photo = image_io.load_image(CONTENT_IMAGE, max_size=64)[None]
    flat = np.full_like(photo, photo.mean())
    extractor = VGGFeatureExtractor(["block4_conv1"])
    a, b = np.asarray(extractor(photo)["block4_conv1"]), np.asarray(extractor(flat)["block4_conv1"])
    assert a.std() > 5 * b.std()


def test_config_round_trip(vgg19_weights_path):
    from model_test_utils import assert_serialization_round_trip

    extractor = VGGFeatureExtractor(["relu2_1"], network="vgg19", pooling="max")
    config = extractor.get_config()
    assert config["layers"] == ["relu2_1"] and config["pooling"] == "max" and config["network"] == "vgg19"
    x = np.random.default_rng(2).uniform(0, 255, (1, 16, 16, 3)).astype(np.float32)
    assert_serialization_round_trip(extractor, x, atol=1e-4)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"layers": ["block6_conv1"]}, "unknown vgg19 layer 'block6_conv1'"),
        ({"layers": ["block3_conv4"], "network": "vgg16"}, "unknown vgg16 layer"),
        ({"layers": []}, "no VGG layers"),
        ({"layers": ["relu1_1"], "pooling": "min"}, "unknown pooling"),
        ({"layers": ["relu1_1"], "network": "resnet"}, "unknown network"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(StyleError, match=message):
        VGGFeatureExtractor(**kwargs)


def test_random_init_needs_no_weights():
    extractor = VGGFeatureExtractor(["relu1_1"], network="vgg16", weights=None)
    assert extractor(np.zeros((1, 8, 8, 3), np.float32))["relu1_1"].shape == (1, 8, 8, 64)
