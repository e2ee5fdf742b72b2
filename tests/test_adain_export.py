"""AdaIN export: SavedModel signatures, their agreement with the Keras model, the
TFLite pair (float16, dynamic), the runtime stylizers and `style_export`.

An `AdaINStyleTransfer` with the real VGG19 encoder and a seeded random decoder
stands in for a trained model. Its SavedModel and TFLite pairs are built once per
session and shared with test_adain_cli.py (`shared_adain_saved_model`,
`shared_adain_tflite`).
"""

import glob
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import CONTENT_IMAGE, REPO, STYLE_IMAGE, STYLE_IMAGE_2, assert_one_line_error, run_command
from keras_style.errors import StyleError
from model_test_utils import assert_variables_saved_once

SEED = 0

# TFLite pair vs SavedModel, seeded random decoders (seeds 0, 1) and one trained for
# 4 smoke steps, on the 3 example photos x 3 example paintings at 64 px. Measured:
#                 statistics max rel | stylize alone max | end to end max, mean (0..255)
#   float16       0.0006             | 0.16-0.21         | 0.17-0.21, 0.026-0.041
#   dynamic       0.0235             | 4.6-7.2           | 5.1-7.4,   1.06-1.29
# Random decoders output a narrow range around grey; trained ones may do worse.
MAX_DIFF = {"float16": 0.5, "dynamic": 12.0}
MEAN_DIFF = {"float16": 0.1, "dynamic": 2.5}
STATS_REL_DIFF = {"float16": 0.002, "dynamic": 0.05}


def build_model():
    import keras

    from keras_style.models.adain_model import AdaINStyleTransfer

    keras.utils.set_random_seed(SEED)
    return AdaINStyleTransfer()


def shared_adain_saved_model(tmp_path_factory):
    """Path of the session's AdaIN SavedModel (exported on first use)."""
    from keras_style.export.adain import export_adain_model

    path = tmp_path_factory.getbasetemp() / "shared_adain" / "saved_model"
    if not (path / "saved_model.pb").exists():
        export_adain_model(build_model(), path)
    return str(path)


def shared_adain_tflite(tmp_path_factory, quantize="float16"):
    """{"style_encode": path, "stylize": path} of the session's TFLite pair, beside the SavedModel."""
    from keras_style.export.adain import convert_adain_to_tflite
    from keras_style.inference.adain import tflite_pair_paths

    saved_model = shared_adain_saved_model(tmp_path_factory)
    directory = os.path.dirname(saved_model) + os.sep
    paths = tflite_pair_paths(directory, quantize)
    if not all(os.path.exists(p) for p in paths.values()):
        convert_adain_to_tflite(saved_model, directory, quantize=quantize)
    return paths


def example_images(folder, size=64, count=3):
    from keras_style import image_io

    paths = sorted(glob.glob(os.path.join(REPO, "examples", folder, "*.jpg")))[:count]
    return [image_io.load_image(p, max_size=size) for p in paths]


def _resized(path, size):
    from keras_style import image_io

    return np.clip(image_io.resize_image(image_io.load_image(path), size), 0, 255).astype(np.float32)


@pytest.fixture(scope="module")
def model(vgg19_weights_path):
    return build_model()


@pytest.fixture(scope="module")
def saved_model_dir(tmp_path_factory, vgg19_weights_path):
    return shared_adain_saved_model(tmp_path_factory)


@pytest.fixture(scope="module")
def loaded(saved_model_dir):
    import tensorflow as tf

    return tf.saved_model.load(saved_model_dir)


@pytest.fixture(scope="module")
def images():
    """Content 37x45 (not a multiple of 8: padded and cropped inside) and two styles."""
    return (
        _resized(CONTENT_IMAGE, (37, 45)),
        _resized(STYLE_IMAGE, (48, 40)),
        _resized(STYLE_IMAGE_2, (24, 40)),
    )


def _call(loaded, key, **inputs):
    import tensorflow as tf

    return {k: v.numpy() for k, v in loaded.signatures[key](**{k: tf.constant(v) for k, v in inputs.items()}).items()}


def _alpha(value):
    return np.array([value], np.float32)


# --- SavedModel signatures ----------------------------------------------------------------------


def test_signatures_names_dtypes_shapes(loaded):
    import tensorflow as tf

    expected = {
        "serving_default": ({"content": (tf.uint8, [1, None, None, 3]), "style": (tf.uint8, [1, None, None, 3]),
                             "alpha": (tf.float32, [1])}, {"stylized": tf.uint8}),
        "stylize_bytes": ({"content_bytes": (tf.string, [1]), "style_bytes": (tf.string, [1]),
                           "alpha": (tf.float32, [1])}, {"stylized_bytes": tf.string}),
        "style_encode": ({"style": (tf.float32, [1, None, None, 3])}, {"style_statistics": tf.float32}),
        "stylize": ({"content": (tf.float32, [1, None, None, 3]), "style_statistics": (tf.float32, [1, 1024]),
                     "alpha": (tf.float32, [1])}, {"stylized": tf.float32}),
        "stylize_masked": ({"content": (tf.float32, [1, None, None, 3]),
                            "style_statistics": (tf.float32, [None, 1024]),
                            "masks": (tf.float32, [1, None, None, None]), "style_weights": (tf.float32, [None]),
                            "alpha": (tf.float32, [1])}, {"stylized": tf.float32}),
    }
    assert set(loaded.signatures) == set(expected)
    for key, (inputs, outputs) in expected.items():
        signature = loaded.signatures[key]
        _, specs = signature.structured_input_signature
        assert {n: (s.dtype, s.shape.as_list()) for n, s in specs.items()} == inputs, key
        assert {n: s.dtype for n, s in signature.structured_outputs.items()} == outputs, key
    assert loaded.signatures["style_encode"].structured_outputs["style_statistics"].shape.as_list() == [1, 1024]


def test_each_weight_saved_once(model, saved_model_dir):
    assert_variables_saved_once(saved_model_dir, model.count_params())


def test_metadata(saved_model_dir):
    from keras_style.inference import read_metadata

    metadata = read_metadata(saved_model_dir)
    assert metadata["kind"] == "adain"
    assert metadata["statistics_size"] == 1024
    assert metadata["tflite_signatures"] == ["style_encode", "stylize"]
    assert set(metadata["signatures"]) == {"serving_default", "stylize_bytes", "style_encode", "stylize",
                                           "stylize_masked"}


def test_serving_default_matches_keras_model(model, loaded, images):
    content, style, _ = images
    content8, style8 = content.round().astype(np.uint8), style.round().astype(np.uint8)
    for alpha in (1.0, 0.6):
        out = _call(loaded, "serving_default", content=content8[None], style=style8[None], alpha=_alpha(alpha))
        reference = np.asarray(model([content8[None].astype("float32"), style8[None].astype("float32"),
                                      np.full((1, 1), alpha, "float32")]))
        assert out["stylized"].shape == (1, 37, 45, 3)
        # Rounding to uint8: at most 1 apart (float noise at .5 boundaries).
        diff = np.abs(out["stylized"].astype(np.int32) - np.clip(np.round(reference), 0, 255))
        assert diff.max() <= 1, diff.max()


def test_style_encode_and_stylize_equal_one_shot(model, loaded, images):
    content, style, _ = images
    stats = _call(loaded, "style_encode", style=style[None])["style_statistics"]
    mean, std = model.style_statistics(style[None])
    np.testing.assert_allclose(stats, np.concatenate([mean, std], axis=-1), rtol=1e-4, atol=1e-2)
    split = _call(loaded, "stylize", content=content[None], style_statistics=stats, alpha=_alpha(0.7))["stylized"]
    one_shot = np.asarray(model([content[None], style[None], np.full((1, 1), 0.7, "float32")]))
    np.testing.assert_allclose(split, one_shot, atol=0.05)
    served = _call(loaded, "serving_default", content=content.round().astype(np.uint8)[None],
                   style=style.round().astype(np.uint8)[None], alpha=_alpha(0.7))["stylized"]
    split_u8 = _call(loaded, "stylize", content=content.round()[None],
                     style_statistics=_call(loaded, "style_encode", style=style.round()[None])["style_statistics"],
                     alpha=_alpha(0.7))["stylized"]
    assert np.abs(served.astype(np.int32) - np.clip(np.round(split_u8), 0, 255)).max() <= 1


def test_alpha_zero_is_decoded_content_and_differs_from_alpha_one(model, loaded, images):
    content, style, _ = images
    stats = _call(loaded, "style_encode", style=style[None])["style_statistics"]
    out = {a: _call(loaded, "stylize", content=content[None], style_statistics=stats, alpha=_alpha(a))["stylized"]
           for a in (0.0, 1.0)}
    decoded = np.asarray(model.decode(model.encode_content(content[None]), content[None]))
    np.testing.assert_allclose(out[0.0], decoded, atol=0.05)
    assert np.abs(out[1.0] - out[0.0]).mean() > 0.1, np.abs(out[1.0] - out[0.0]).mean()
    # Outside [0, 1] alpha is clipped in the graph.
    clipped = _call(loaded, "stylize", content=content[None], style_statistics=stats, alpha=_alpha(3.0))["stylized"]
    np.testing.assert_allclose(clipped, out[1.0], atol=1e-4)


def test_stylize_bytes_round_trip(loaded, images):
    from keras_style import image_io

    content, style, _ = images
    out = _call(loaded, "stylize_bytes", content_bytes=np.array([image_io.encode_image(content)]),
                style_bytes=np.array([image_io.encode_image(style)]), alpha=_alpha(0.8))["stylized_bytes"]
    decoded = image_io.decode_image_bytes(out[0])
    served = _call(loaded, "serving_default", content=content.round().astype(np.uint8)[None],
                   style=style.round().astype(np.uint8)[None], alpha=_alpha(0.8))["stylized"][0]
    np.testing.assert_array_equal(decoded, served.astype(np.float32))


def test_rest_row_format_requests(loaded, images):
    """TF Serving's REST row format stacks each named input over the instances: every
    input has batch dimension 1 (alpha is [1]), so one instance is one request."""
    import base64
    import json

    import tensorflow as tf

    from keras_style import image_io

    content, style, _ = images
    c8, s8 = content.round().astype(np.uint8), style.round().astype(np.uint8)

    def serve(key, body):
        instances = json.loads(json.dumps(body))["instances"]
        decoded = [{k: base64.b64decode(v["b64"]) if isinstance(v, dict) else v for k, v in i.items()}
                   for i in instances]
        _, specs = loaded.signatures[key].structured_input_signature
        feed = {k: tf.constant([i[k] for i in decoded], dtype=specs[k].dtype) for k in specs}
        return loaded.signatures[key](**feed)

    tensors = serve("serving_default", {"instances": [{"content": c8.tolist(), "style": s8.tolist(), "alpha": 0.8}]})
    encoded = {"b64": base64.b64encode(image_io.encode_image(c8)).decode()}
    style_b64 = {"b64": base64.b64encode(image_io.encode_image(s8)).decode()}
    as_bytes = serve("stylize_bytes", {"instances": [{"content_bytes": encoded, "style_bytes": style_b64,
                                                       "alpha": 0.8}]})
    png = as_bytes["stylized_bytes"].numpy()[0]
    np.testing.assert_array_equal(image_io.decode_image_bytes(png), tensors["stylized"].numpy()[0].astype(np.float32))
    json.dumps({"predictions": tensors["stylized"].numpy().tolist()})


def test_masked_signature_is_the_python_feature_space_blend(model, saved_model_dir, images):
    """Two styles in two halves through `stylize_masked` == `keras_style.adain.stylize(masks=...)`."""
    from keras_style import adain
    from keras_style.inference import load_stylizer

    content, style_a, style_b = images
    left = np.zeros(content.shape[:2], np.float32)
    left[:, :20] = 1.0
    right = 1.0 - left
    right[:10] = 0.0  # top-right uncovered: content features there
    stylizer = load_stylizer(saved_model_dir)
    prepared = stylizer.prepare_style([style_a, style_b], weights=[2.0, 1.0])
    ours = np.clip(stylizer.stylize(content, style=prepared, alpha=0.9, masks=[left, right]), 0, 255)
    reference = adain.stylize(model, content, [style_a, style_b], style_weights=[2.0, 1.0], alpha=0.9,
                              masks=[left, right])
    np.testing.assert_allclose(ours, reference, atol=0.1)
    # Masks all 1 for one style: that style alone.
    full = stylizer.stylize(content, style=prepared, masks=[np.ones_like(left), np.zeros_like(left)])
    alone = stylizer.stylize(content, style=stylizer.prepare_style([style_a]))
    np.testing.assert_allclose(full, alone, atol=0.05)


def test_saved_model_stylizer_mixes_statistics_and_checks_inputs(model, saved_model_dir, images):
    from keras_style import adain
    from keras_style.inference import load_stylizer
    from keras_style.inference.adain import AdaINSavedModelStylizer

    content, style_a, style_b = images
    stylizer = load_stylizer(saved_model_dir)
    assert isinstance(stylizer, AdaINSavedModelStylizer) and stylizer.takes_style and stylizer.kind == "adain"
    prepared = stylizer.prepare_style([style_a, style_b], weights=[3, 1])
    assert prepared.statistics.shape == (1, 1024) and prepared.weights == (0.75, 0.25)
    ours = stylizer.stylize(content, style=prepared, alpha=0.5)
    reference = adain.stylize(model, content, [style_a, style_b], style_weights=[3, 1], alpha=0.5)
    np.testing.assert_allclose(np.clip(ours, 0, 255), reference, atol=0.1)
    with pytest.raises(StyleError, match="give style images"):
        stylizer.stylize(content)
    with pytest.raises(StyleError, match=r"1 value\(s\) for 2 style"):
        stylizer.prepare_style([style_a, style_b], weights=[1])
    with pytest.raises(StyleError, match="alpha must be in"):
        stylizer.stylize(content, style=prepared, alpha=1.5)
    with pytest.raises(StyleError, match="mask 1 is 10x10, content is 37x45"):
        stylizer.stylize(content, style=prepared, masks=[np.ones((10, 10)), np.ones((10, 10))])
    with pytest.raises(StyleError, match="1 mask"):
        stylizer.stylize(content, style=prepared, masks=[np.ones(content.shape[:2])])


def test_export_refuses_existing_dir_and_non_adain_models(model, saved_model_dir, tmp_path):
    import keras

    from keras_style.export.adain import export_adain_model

    before = sorted(os.listdir(saved_model_dir))
    with pytest.raises(StyleError, match="exists and is not empty; pass --overwrite"):
        export_adain_model(model, saved_model_dir)
    assert sorted(os.listdir(saved_model_dir)) == before
    inputs = keras.Input((None, None, 3))
    with pytest.raises(StyleError, match="needs an AdaINStyleTransfer"):
        export_adain_model(keras.Model(inputs, inputs), tmp_path / "x")
    assert not (tmp_path / "x").exists()


# --- TFLite pair ----------------------------------------------------------------------------------


def test_pair_file_names(tmp_path):
    from keras_style.inference.adain import pair_role, tflite_pair_paths

    assert tflite_pair_paths(str(tmp_path), "float16") == {
        "style_encode": str(tmp_path / "adain_style_encode_fp16.tflite"),
        "stylize": str(tmp_path / "adain_stylize_fp16.tflite"),
    }
    assert tflite_pair_paths("out/wave.tflite", "dynamic") == {
        "style_encode": "out/wave_style_encode_dynamic.tflite", "stylize": "out/wave_stylize_dynamic.tflite"}
    assert tflite_pair_paths("new_dir/", "none")["stylize"] == os.path.join("new_dir", "adain_stylize_fp32.tflite")
    assert pair_role("d/my_stylize_x_style_encode_fp16.tflite") == (
        "style_encode", "d/my_stylize_x_stylize_fp16.tflite")
    assert pair_role("d/my_stylize_x_stylize_fp16.tflite") == ("stylize", "d/my_stylize_x_style_encode_fp16.tflite")
    assert pair_role("d/starry_fp16.tflite") is None
    with pytest.raises(StyleError, match="not supported for AdaIN"):
        from keras_style.export.adain import convert_adain_to_tflite

        convert_adain_to_tflite(str(tmp_path), str(tmp_path), quantize="int8")


@pytest.mark.parametrize("quantize", ["float16", "dynamic"])
def test_tflite_pair_builtins_dynamic_sizes_and_parity(tmp_path_factory, saved_model_dir, quantize):
    from ai_edge_litert.interpreter import Interpreter

    from keras_style.export.adain import parity_check_pair

    paths = shared_adain_tflite(tmp_path_factory, quantize)
    suffix = {"float16": "fp16", "dynamic": "dynamic"}[quantize]
    assert [os.path.basename(p) for p in paths.values()] == [f"adain_style_encode_{suffix}.tflite",
                                                             f"adain_stylize_{suffix}.tflite"]
    for key, path in paths.items():
        interpreter = Interpreter(model_path=path)
        assert list(interpreter.get_signature_list()) == [key]
        ops = {op["op_name"] for op in interpreter._get_ops_details()}
        assert not any(op.startswith("Flex") for op in ops), ops
        runner = interpreter.get_signature_runner(key)
        shapes = {n: list(d["shape_signature"]) for n, d in runner.get_input_details().items()}
        if key == "style_encode":
            assert shapes == {"style": [1, -1, -1, 3]}
        else:
            assert shapes == {"content": [1, -1, -1, 3], "style_statistics": [1, 1024], "alpha": [1]}
    result = parity_check_pair(saved_model_dir, paths["style_encode"], paths["stylize"],
                               example_images("content"), example_images("styles"))
    assert result["statistics_max_rel_diff"] < STATS_REL_DIFF[quantize], result
    assert result["max_abs_diff"] < MAX_DIFF[quantize], result
    assert result["mean_abs_diff"] < MEAN_DIFF[quantize], result
    assert result["stylize_max_abs_diff"] < MAX_DIFF[quantize], result


def test_tflite_stylizer_runs_without_tensorflow(tmp_path_factory, saved_model_dir, images):
    """Odd sizes, prepare_style once, and no TensorFlow import on the .tflite path."""
    paths = shared_adain_tflite(tmp_path_factory, "float16")
    script = (
        "import sys, numpy as np\n"
        "from keras_style.inference import load_stylizer\n"
        f"s = load_stylizer({paths['stylize']!r})\n"
        "rng = np.random.default_rng(0)\n"
        "style = s.prepare_style([rng.uniform(0, 255, (30, 22, 3)), rng.uniform(0, 255, (9, 50, 3))], [1, 2])\n"
        "out = s.stylize(rng.uniform(0, 255, (29, 41, 3)).astype('float32'), style=style, alpha=0.5)\n"
        "assert out.shape == (29, 41, 3) and np.isfinite(out).all(), out.shape\n"
        "print(type(s).__name__, s.backend, 'tensorflow' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["AdaINTFLiteStylizer", "tflite", "False"], result.stdout


def test_tflite_stylizer_matches_saved_model_and_refuses_masks(tmp_path_factory, saved_model_dir, images):
    from keras_style.inference import load_stylizer

    paths = shared_adain_tflite(tmp_path_factory, "float16")
    content, style_a, style_b = images
    reference, candidate = load_stylizer(saved_model_dir), load_stylizer(paths["style_encode"])
    outs = [s.stylize(content, style=s.prepare_style([style_a, style_b], [1, 1]), alpha=0.8)
            for s in (reference, candidate)]
    assert np.abs(outs[0] - outs[1]).max() < MAX_DIFF["float16"]
    prepared = candidate.prepare_style([style_a])
    with pytest.raises(StyleError, match="masked signature"):
        candidate.stylize(content, style=prepared, masks=[np.ones(content.shape[:2])])


# --- style_export ---------------------------------------------------------------------------------


def test_style_export_writes_the_pair_or_nothing(saved_model_dir, tmp_path):
    out = tmp_path / "tfl"
    out.mkdir()
    good = run_command("keras_style.cli.export", f"--saved_model={saved_model_dir}", f"--tflite={out}",
                       "--quantize=float16", "--parity_size=48")
    assert good.returncode == 0, good.stderr
    assert sorted(os.listdir(out)) == ["adain_style_encode_fp16.tflite", "adain_stylize_fp16.tflite"]
    assert "end to end max abs diff" in good.stdout
    figure = float(good.stdout.split("end to end max abs diff ")[1].split(",")[0])
    assert figure < MAX_DIFF["float16"]
    # A failed parity check writes nothing (and leaves no hidden staging files).
    bad = run_command("keras_style.cli.export", f"--saved_model={saved_model_dir}", f"--tflite={out}/small",
                      "--quantize=dynamic", "--parity_size=32", "--max_abs_diff=1e-6")
    assert_one_line_error(bad, "parity check failed for --quantize=dynamic")
    assert sorted(os.listdir(out)) == ["adain_style_encode_fp16.tflite", "adain_stylize_fp16.tflite"]
    # Existing outputs and int8 are refused before converting.
    again = run_command("keras_style.cli.export", f"--saved_model={saved_model_dir}", f"--tflite={out}")
    assert_one_line_error(again, "exists; pass --overwrite")
    int8 = run_command("keras_style.cli.export", f"--saved_model={saved_model_dir}", f"--tflite={out}/q",
                       "--quantize=int8")
    assert_one_line_error(int8, "not supported for AdaIN")
