"""SavedModel export (signatures, serving shapes) and TFLite conversion (ops, sizes, parity).

A TransformNet(base=4) with seeded random weights stands in for a trained
model. The exported SavedModel and the converted .tflite files are built
once per test session and shared with test_inference.py and
test_transfer_cli.py through `shared_saved_model` / `shared_tflite`.
"""

import base64
import io
import json
import os

import numpy as np
import pytest
from PIL import Image

from keras_style.errors import StyleError
from model_test_utils import assert_variables_saved_once

BASE = 4
SEED = 0

# Parity bounds, max |TFLite - SavedModel| on the 0..255 scale, for random
# base-4/8 TransformNets on 64 px photos. Measured (seeds 0, 1; base 4, 8):
#   none    max 0.0005-0.004              -> bound 0.05
#   float16 max 0.61-0.84                 -> bound 2
#   dynamic max 14-51,  mean 1.7-3.7      -> bounds max 80, mean 6
#   int8    max 98-146, mean 9-13.5       -> bound mean 25 (full-integer: lossy)
# Random weights push tanh towards saturation, where small errors are
# amplified; trained models are expected to do better.
MAX_DIFF = {"none": 0.05, "float16": 2.0, "dynamic": 80.0}
MEAN_DIFF = {"none": 0.005, "float16": 0.3, "dynamic": 6.0, "int8": 25.0}

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "content")


def example_images(size=64):
    """The repository's example photos, long side `size`."""
    from keras_style import image_io

    names = sorted(n for n in os.listdir(EXAMPLES) if n.endswith(".jpg"))
    return [image_io.load_image(os.path.join(EXAMPLES, n), max_size=size) for n in names]


def build_model():
    import keras

    from keras_style.models import TransformNet

    keras.utils.set_random_seed(SEED)
    return TransformNet(base=BASE)


def shared_saved_model(tmp_path_factory):
    """Path of the session's exported SavedModel (exported on first use)."""
    from keras_style.export import export_fast_style_model

    path = tmp_path_factory.getbasetemp() / "shared_fast_style" / "saved_model"
    if not (path / "saved_model.pb").exists():
        export_fast_style_model(build_model(), path, style_name="random_test")
    return str(path)


def shared_tflite(tmp_path_factory, quantize="none"):
    """Path of the session's .tflite conversion of the shared SavedModel."""
    from keras_style.export import convert_saved_model_to_tflite

    saved_model = shared_saved_model(tmp_path_factory)
    path = tmp_path_factory.getbasetemp() / "shared_fast_style" / f"model_{quantize}.tflite"
    if not path.exists():
        representative = example_images() if quantize == "int8" else None
        convert_saved_model_to_tflite(saved_model, path, quantize=quantize, representative_images=representative)
    return str(path)


@pytest.fixture(scope="module")
def model():
    return build_model()


@pytest.fixture(scope="module")
def saved_model_dir(tmp_path_factory):
    return shared_saved_model(tmp_path_factory)


@pytest.fixture(scope="module")
def loaded(saved_model_dir):
    import tensorflow as tf

    return tf.saved_model.load(saved_model_dir)


def _rand_uint8(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


# --- SavedModel ------------------------------------------------------------------------------


def test_signatures_names_dtypes_shapes(loaded):
    import tensorflow as tf

    sigs = loaded.signatures
    assert set(sigs) == {"serving_default", "stylize_float", "stylize_bytes"}
    expected = {
        "serving_default": ("images", tf.uint8, [None, None, None, 3], "stylized", tf.uint8),
        "stylize_float": ("images", tf.float32, [None, None, None, 3], "stylized", tf.float32),
        "stylize_bytes": ("image_bytes", tf.string, [None], "stylized_bytes", tf.string),
    }
    for key, (in_name, in_dtype, in_shape, out_name, out_dtype) in expected.items():
        _, inputs = sigs[key].structured_input_signature
        assert list(inputs) == [in_name], key
        assert inputs[in_name].dtype == in_dtype and inputs[in_name].shape.as_list() == in_shape, key
        outputs = sigs[key].structured_outputs
        assert list(outputs) == [out_name], key
        assert outputs[out_name].dtype == out_dtype, key


def test_serving_default_matches_keras_model(model, loaded):
    import tensorflow as tf

    images = _rand_uint8((2, 13, 19, 3))  # odd size: padded and cropped inside
    expected = model(images.astype("float32")).numpy()
    out = loaded.signatures["serving_default"](images=tf.constant(images))["stylized"].numpy()
    assert out.dtype == np.uint8 and out.shape == images.shape
    assert np.abs(out.astype(int) - np.clip(np.round(expected), 0, 255).astype(int)).max() <= 1
    as_float = loaded.signatures["stylize_float"](images=tf.constant(images.astype("float32")))["stylized"]
    np.testing.assert_allclose(as_float.numpy(), expected, atol=1e-3)


def test_bytes_signature_png_and_jpeg_round_trip(loaded):
    import tensorflow as tf

    from keras_style import image_io

    images = _rand_uint8((2, 12, 17, 3), seed=1)
    payload = [image_io.encode_image(images[0], "PNG"), image_io.encode_image(images[1], "JPEG")]
    out = loaded.signatures["stylize_bytes"](image_bytes=tf.constant(payload))["stylized_bytes"].numpy()
    assert out.shape == (2,)
    # Decoded as TensorFlow does (its JPEG decoder rounds differently from Pillow's).
    decoded = tf.stack([tf.io.decode_image(data, channels=3) for data in payload])
    np.testing.assert_array_equal(decoded[0].numpy(), images[0])
    uint8 = loaded.signatures["serving_default"](images=decoded)
    for i, png in enumerate(out):
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(png))), uint8["stylized"][i])


def test_bytes_signature_needs_equal_sizes(loaded):
    import tensorflow as tf

    from keras_style import image_io

    payload = [image_io.encode_image(_rand_uint8(shape), "PNG") for shape in ((8, 8, 3), (9, 8, 3))]
    with pytest.raises(tf.errors.InvalidArgumentError):
        loaded.signatures["stylize_bytes"](image_bytes=tf.constant(payload))


def test_rest_json_payloads(loaded):
    """TF Serving's REST shapes: row format with {"b64": ...} strings, and nested lists for uint8."""
    import tensorflow as tf

    from keras_style import image_io

    image = _rand_uint8((10, 14, 3), seed=2)
    request = json.dumps({"instances": [{"b64": base64.b64encode(image_io.encode_image(image, "PNG")).decode()}]})
    instances = json.loads(request)["instances"]
    data = [base64.b64decode(inst["b64"]) for inst in instances]
    out = loaded.signatures["stylize_bytes"](image_bytes=tf.constant(data))["stylized_bytes"].numpy()
    # Outputs named *_bytes come back base64-encoded.
    response = json.loads(json.dumps({"predictions": [{"b64": base64.b64encode(v).decode()} for v in out]}))
    stylized = np.asarray(Image.open(io.BytesIO(base64.b64decode(response["predictions"][0]["b64"]))))
    assert stylized.shape == image.shape

    # serving_default: {"instances": [image as nested lists]} and columnar {"inputs": {...}}.
    for body in ({"instances": [image.tolist()]}, {"inputs": {"images": [image.tolist()]}}):
        parsed = json.loads(json.dumps(body))
        values = parsed["instances"] if "instances" in parsed else parsed["inputs"]["images"]
        result = loaded.signatures["serving_default"](images=tf.constant(values, dtype=tf.uint8))["stylized"]
        np.testing.assert_array_equal(result.numpy()[0], stylized)
        json.dumps({"predictions": result.numpy().tolist()})  # serialisable as TF Serving would


def test_each_weight_saved_once(model, saved_model_dir):
    assert_variables_saved_once(saved_model_dir, model.count_params())


def test_metadata_file(saved_model_dir):
    import keras

    from keras_style.inference import read_metadata

    metadata = read_metadata(saved_model_dir)
    assert metadata["kind"] == "fast_style"
    assert metadata["base"] == BASE
    assert metadata["style"] == "random_test"
    assert metadata["keras_version"] == keras.__version__
    assert set(metadata["signatures"]) == {"serving_default", "stylize_float", "stylize_bytes"}


def test_signatures_with_extra_inputs(tmp_path):
    """What AdaIN / MetaNet exports reuse: every signature takes the extra inputs after the images."""
    import keras
    import tensorflow as tf

    from keras_style.export import export_image_model

    inputs = keras.Input((None, None, 3))
    keras.utils.set_random_seed(0)
    net = keras.Model(inputs, keras.layers.Conv2D(3, 1)(inputs))

    def blend(images, alpha):
        return alpha * net(images) + (1.0 - alpha) * images

    path = export_image_model(net, tmp_path / "sm", {"kind": "test"}, fn=blend,
                              extra_inputs={"alpha": tf.TensorSpec([], tf.float32)})
    loaded = tf.saved_model.load(path)
    for key, image_input in (("serving_default", "images"), ("stylize_float", "images"),
                             ("stylize_bytes", "image_bytes")):
        _, specs = loaded.signatures[key].structured_input_signature
        assert sorted(specs) == sorted([image_input, "alpha"]), key
    images = np.random.default_rng(0).uniform(0, 255, (1, 5, 6, 3)).astype("float32")
    out = loaded.signatures["stylize_float"](images=tf.constant(images), alpha=tf.constant(0.0))["stylized"]
    np.testing.assert_allclose(out.numpy(), images, atol=1e-4)


def test_variables_are_sharded(model, tmp_path, monkeypatch):
    import tensorflow as tf

    from keras_style.export import export_fast_style_model
    from keras_style.export import saved_model as saved_model_lib

    # Shipped models must stay under GitHub's 100 MB per file: shards of <= MAX_SHARD_BYTES.
    monkeypatch.setattr(saved_model_lib, "MAX_SHARD_BYTES", 100_000)
    path = export_fast_style_model(model, tmp_path / "sharded", style_name="random_test")
    shards = sorted((tmp_path / "sharded" / "variables").glob("variables.data-*"))
    assert len(shards) >= 2 and all(f.stat().st_size <= 100_000 for f in shards)
    images = _rand_uint8((1, 20, 28, 3))
    out = tf.saved_model.load(path).signatures["serving_default"](images=tf.constant(images))["stylized"]
    expected = np.clip(np.round(model(images.astype(np.float32)).numpy()), 0, 255)
    assert np.abs(out.numpy().astype(np.float32) - expected).max() <= 1.0


def test_export_refuses_existing_dir_fast(model, saved_model_dir, tmp_path):
    from keras_style.export import export_fast_style_model

    before = sorted(os.listdir(saved_model_dir))
    with pytest.raises(StyleError, match="exists and is not empty; pass --overwrite"):
        export_fast_style_model(model, saved_model_dir)
    assert sorted(os.listdir(saved_model_dir)) == before
    other = tmp_path / "notes"
    other.mkdir()
    (other / "important.txt").write_text("keep me")
    with pytest.raises(StyleError, match="holds no SavedModel"):
        export_fast_style_model(model, other, overwrite=True)
    assert (other / "important.txt").read_text() == "keep me"
    (tmp_path / "file").write_text("x")
    with pytest.raises(StyleError, match="not a directory"):
        export_fast_style_model(model, tmp_path / "file")


def test_atomic_export_dir(tmp_path):
    from keras_style.export import atomic_export_dir

    target = tmp_path / "model"
    with pytest.raises(RuntimeError):
        with atomic_export_dir(target) as tmp:
            (tmp_path / "x").write_text("")
            open(os.path.join(tmp, "saved_model.pb"), "w").close()
            raise RuntimeError("export failed")
    assert sorted(os.listdir(tmp_path)) == ["x"]  # no target, no temporary left
    for version in ("1", "2"):
        with atomic_export_dir(target, overwrite=True) as tmp:
            for name in ("saved_model.pb", version):
                open(os.path.join(tmp, name), "w").close()
    assert sorted(os.listdir(target)) == ["2", "saved_model.pb"]
    assert sorted(os.listdir(tmp_path)) == ["model", "x"]
    target.joinpath("1").mkdir()
    with pytest.raises(StyleError, match="pass --overwrite"):
        with atomic_export_dir(target):
            pass


# --- TFLite ----------------------------------------------------------------------------------


def _op_names(path):
    from ai_edge_litert.interpreter import Interpreter

    return {op["op_name"] for op in Interpreter(model_path=path)._get_ops_details()}


@pytest.mark.parametrize("quantize", ["none", "float16", "dynamic"])
def test_tflite_builtins_dynamic_size_and_parity(tmp_path_factory, saved_model_dir, quantize):
    from ai_edge_litert.interpreter import Interpreter

    from keras_style.export import parity_check

    path = shared_tflite(tmp_path_factory, quantize)
    ops = _op_names(path)
    assert not any(op.startswith("Flex") for op in ops), ops
    assert "CONV_2D" in ops and "CONCATENATION" in ops  # padding and upsampling: slices + concats
    # Ops the XNNPACK delegate does not run; each split the delegated graph and the two
    # together cost ~60% of a 1024² run (benchmarks/fast_style_benchmark.py).
    assert not ops & {"MIRROR_PAD", "BROADCAST_TO"}, ops

    interpreter = Interpreter(model_path=path)
    (detail,) = interpreter.get_input_details()
    assert list(detail["shape_signature"]) == [1, -1, -1, 3] and detail["dtype"] == np.float32
    output_index = interpreter.get_output_details()[0]["index"]
    for height, width in ((24, 40), (37, 21)):
        interpreter.resize_tensor_input(detail["index"], [1, height, width, 3])
        interpreter.allocate_tensors()
        interpreter.set_tensor(detail["index"], np.full((1, height, width, 3), 100.0, np.float32))
        interpreter.invoke()
        assert interpreter.get_tensor(output_index).shape == (1, height, width, 3)

    result = parity_check(saved_model_dir, path, example_images())
    assert result["num_images"] == 3 and len(result["per_image_max"]) == 3
    assert result["max_abs_diff"] <= MAX_DIFF[quantize], result
    assert result["mean_abs_diff"] <= MEAN_DIFF[quantize], result
    if quantize != "none":
        assert os.path.getsize(path) < os.path.getsize(shared_tflite(tmp_path_factory, "none"))


def test_int8_full_integer_works_but_is_lossy(tmp_path_factory, saved_model_dir):
    """TransformNet's filters are constants: full-integer int8 converts and runs (float
    in/out), at a clearly visible quality cost."""
    from keras_style.export import parity_check

    path = shared_tflite(tmp_path_factory, "int8")
    ops = _op_names(path)
    assert not any(op.startswith("Flex") for op in ops)
    assert "QUANTIZE" in ops and "DEQUANTIZE" in ops
    result = parity_check(saved_model_dir, path, example_images())
    assert result["mean_abs_diff"] <= MEAN_DIFF["int8"], result


def test_int8_with_run_time_filters_raises_clear_error(tmp_path):
    """A conv whose filter is computed from the input (as in MetaNet) converts to int8
    but cannot run; the converter's output is refused with the reason."""
    import keras
    import tensorflow as tf

    from keras_style.export import convert_saved_model_to_tflite, export_image_model

    class RunTimeFilterConv(keras.layers.Layer):
        def build(self, input_shape):
            self.dense = keras.layers.Dense(3 * 3 * 3 * 3)
            self.dense.build((None, 3))

        def call(self, x):
            kernel = tf.reshape(self.dense(tf.reduce_mean(x, axis=[1, 2]) / 255.0)[0], [3, 3, 3, 3])
            return tf.sigmoid(tf.nn.conv2d(x / 255.0, kernel, 1, "SAME")) * 255.0

    inputs = keras.Input((None, None, 3))
    keras.utils.set_random_seed(0)
    export_image_model(keras.Model(inputs, RunTimeFilterConv()(inputs)), tmp_path / "sm", {"kind": "test"})
    images = [np.random.default_rng(i).uniform(0, 255, (16, 16, 3)).astype("float32") for i in range(2)]
    out = tmp_path / "m.tflite"
    with pytest.raises(StyleError, match="fails at run time.*zero_point.*needs constant conv filters"):
        convert_saved_model_to_tflite(tmp_path / "sm", out, quantize="int8", representative_images=images)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name != "sm"] == []  # no temporary left


def test_conversion_argument_errors(tmp_path_factory, saved_model_dir, tmp_path):
    from keras_style.export import convert_saved_model_to_tflite

    out = tmp_path / "m.tflite"
    with pytest.raises(StyleError, match="unknown quantization 'int4'"):
        convert_saved_model_to_tflite(saved_model_dir, out, quantize="int4")
    with pytest.raises(StyleError, match="int8 quantization needs representative images"):
        convert_saved_model_to_tflite(saved_model_dir, out, quantize="int8")
    with pytest.raises(StyleError, match="takes strings"):
        convert_saved_model_to_tflite(saved_model_dir, out, signature_keys=["stylize_bytes"])
    with pytest.raises(StyleError, match="no signature 'nope'"):
        convert_saved_model_to_tflite(saved_model_dir, out, signature_keys=["nope"])
    with pytest.raises(StyleError, match="not a SavedModel directory"):
        convert_saved_model_to_tflite(tmp_path, out)
    with pytest.raises(StyleError, match="must end in .tflite"):
        convert_saved_model_to_tflite(saved_model_dir, tmp_path / "m.bin")
    existing = shared_tflite(tmp_path_factory, "none")
    before = open(existing, "rb").read()
    with pytest.raises(StyleError, match="exists; pass --overwrite"):
        convert_saved_model_to_tflite(saved_model_dir, existing, quantize="float16")
    assert open(existing, "rb").read() == before
    assert not out.exists()


def test_style_export_command(saved_model_dir, tmp_path):
    from conftest import run_command

    out = tmp_path / "m_fp16.tflite"
    result = run_command("keras_style.cli.export", f"--saved_model={saved_model_dir}", f"--tflite={out}",
                         "--quantize=float16", "--parity_size=48")
    assert result.returncode == 0, result.stderr
    assert "parity (float16) vs SavedModel on pypi_000_astronaut.jpg: max abs diff" in result.stdout
    diff = float(result.stdout.split("max abs diff ")[1].split(",")[0])
    assert diff <= MAX_DIFF["float16"]
    # No converter or TensorFlow chatter: just the result.
    assert result.stderr.splitlines() == [f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB, float16)"], result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["m_fp16.tflite"]  # no staging file left
