"""SavedModels that store their weights in float16 (`Exporter.export(weights_dtype=...)`,
`export_in_precision(..., weights_dtype=...)`, `style_export --weights_dtype`)."""

import os

import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO, assert_no_native_start_up_lines, assert_one_line_error, run_command
from test_metanet_export import shared_metanet_saved_model

from keras_style import image_io
from keras_style.errors import StyleError
from keras_style.export.serving_precision import export_in_precision
from keras_style.inference.model_spec import read_metadata

CONTENT = os.path.join(REPO, "examples", "content", "pypi_000_astronaut.jpg")
STYLE = os.path.join(REPO, "examples", "styles", "gcompris_004_GreatWave.jpg")


def _variable_dtypes(saved_model_dir):
    loaded = tf.saved_model.load(saved_model_dir)
    return {v.dtype for f in loaded.signatures.values() for v in f.variables if v.dtype.is_floating}


def _variables_bytes(saved_model_dir):
    folder = os.path.join(saved_model_dir, "variables")
    return sum(os.path.getsize(os.path.join(folder, name)) for name in os.listdir(folder) if ".data-" in name)


def _stylize(saved_model_dir, size):
    loaded = tf.saved_model.load(saved_model_dir)
    content = tf.constant(image_io.load_image(CONTENT, max_size=size)[None].astype(np.uint8))
    kind = read_metadata(saved_model_dir)["kind"]
    args = {"images": content}
    if kind in ("adain", "metanet"):
        args = {"content": content, "style": tf.constant(image_io.load_image(STYLE, max_size=size)[None].astype(np.uint8))}
    if kind == "adain":
        args["alpha"] = tf.constant([1.0])
    return loaded.signatures["serving_default"](**args)["stylized"].numpy().astype(np.float64)


def _psnr(a, b):
    return 10 * np.log10(255.0**2 / max(np.mean((a - b) ** 2), 1e-12))


@pytest.mark.parametrize("name", ["great_wave", "adain", "metanet"])
def test_shipped_models_store_float16_weights_that_a_float32_copy_reproduces(tmp_path, name):
    """A float32 copy of a shipped model holds the same weights in twice the bytes and
    stylizes the same 96 px photo (measured: identical, max difference 0)."""
    shipped = os.path.join(REPO, "saved_models", name, "saved_model")
    assert read_metadata(shipped)["weights_dtype"] == "float16"
    assert _variable_dtypes(shipped) == {tf.float16}
    copy = export_in_precision(shipped, str(tmp_path / "f32"), "float32", weights_dtype="float32")
    assert read_metadata(copy)["weights_dtype"] == "float32" and _variable_dtypes(copy) == {tf.float32}
    assert 1.9 < _variables_bytes(copy) / _variables_bytes(shipped) < 2.05
    a, b = _stylize(shipped, 96), _stylize(copy, 96)
    assert np.abs(a - b).max() <= 1.0


def test_float16_weights_of_a_float32_model_keep_its_output(tmp_path_factory, tmp_path):
    """A seeded MetaNet exported in float32, then copied with float16 weights: the
    signatures, input and output dtypes are the same, the weights take half the bytes,
    and the stylized 64 px photo stays within 1 level (measured 0 levels apart)."""
    original = shared_metanet_saved_model(tmp_path_factory)
    copy = export_in_precision(original, str(tmp_path / "f16"), "float32", weights_dtype="float16")
    a, b = tf.saved_model.load(original), tf.saved_model.load(copy)
    assert set(a.signatures) == set(b.signatures)
    for key in a.signatures:
        assert a.signatures[key].structured_input_signature == b.signatures[key].structured_input_signature
    assert _variable_dtypes(copy) == {tf.float16}
    assert 0.48 < _variables_bytes(copy) / _variables_bytes(original) < 0.53
    assert _psnr(_stylize(original, 64), _stylize(copy, 64)) >= 50.0
    # A precision copy keeps the storage dtype unless asked otherwise.
    again = export_in_precision(copy, str(tmp_path / "bf16"), "bfloat16")
    assert read_metadata(again)["weights_dtype"] == "float16" and _variable_dtypes(again) == {tf.float16}


def test_exporter_writes_float16_weights_and_refuses_unknown_dtypes(tmp_path):
    import keras

    from keras_style.export.fast_style import export_fast_style_model
    from keras_style.models.transform_net import TransformNet

    keras.utils.set_random_seed(0)
    model = TransformNet(base=4)
    images = image_io.load_image(CONTENT, max_size=48)[None]
    path = export_fast_style_model(model, tmp_path / "f16", weights_dtype="float16")
    assert read_metadata(path)["weights_dtype"] == "float16" and _variable_dtypes(path) == {tf.float16}
    expected = model(images, training=False).numpy()
    actual = tf.saved_model.load(path).signatures["stylize_float"](images=tf.constant(images))["stylized"].numpy()
    assert _psnr(expected, actual) >= 50.0
    with pytest.raises(StyleError, match="unknown weights dtype 'bfloat16'"):
        export_fast_style_model(model, tmp_path / "bad", weights_dtype="bfloat16")
    assert not (tmp_path / "bad").exists()


def test_style_export_weights_dtype_command(tmp_path):
    source = os.path.join(REPO, "saved_models", "great_wave", "saved_model")
    bad = run_command("keras_style.cli.export", f"--saved_model={source}", "--weights_dtype=float32",
                      f"--tflite={tmp_path / 'x.tflite'}")
    assert_one_line_error(bad, "--weights_dtype writes a SavedModel: pass --export_dir")
    assert not (tmp_path / "x.tflite").exists()
    out = tmp_path / "wave_f32"
    good = run_command("keras_style.cli.export", f"--saved_model={source}", "--weights_dtype=float32",
                       f"--export_dir={out}")
    assert good.returncode == 0, good.stderr
    assert "computes in float32, weights stored in float32" in good.stderr
    assert_no_native_start_up_lines(good.stderr)
    assert read_metadata(str(out))["weights_dtype"] == "float32"
