"""Cold start and memory of one-image runs (issue 13, item 7).

* decoding with max_size: a large JPEG is decoded near the target size (draft mode),
  other 8-bit images are box-reduced before the float conversion;
* style_transfer decodes a single input once, at its --max_size;
* the TFLite graph: padding, upsampling and 9x9 convs in forms XNNPACK runs in little
  memory (`keras_style.export.tflite_rewrite`), checked on the shipped models too;
* AdaIN: the automatic tile size, and the .tflite pair's style encoder being freed.
"""

import json
import os
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
from PIL import Image

from conftest import CONTENT_IMAGE, REPO, STYLE_IMAGE
from keras_style import image_io
from keras_style.errors import StyleError


def _smooth(height, width):
    yy, xx = np.mgrid[0:height, 0:width]
    return np.stack(
        [128 + 100 * np.sin(xx / 97.0), 128 + 100 * np.cos(yy / 61.0), 128 + 60 * np.sin((xx + yy) / 150.0)], -1
    ).astype(np.uint8)


@pytest.fixture(scope="module")
def large_images(tmp_path_factory):
    root = tmp_path_factory.mktemp("large")
    pixels = _smooth(3001, 4003)  # odd sizes: draft mode's last block is partial
    paths = {"jpg": root / "large.jpg", "png": root / "large.png", "rotated": root / "rotated.jpg"}
    Image.fromarray(pixels).save(paths["jpg"], quality=95)
    Image.fromarray(pixels).save(paths["png"], compress_level=1)
    exif = Image.new("RGB", (1, 1)).getexif()
    exif[0x0112] = 6  # shown rotated by 90 degrees
    Image.fromarray(pixels).save(paths["rotated"], quality=95, exif=exif.tobytes())
    return {key: str(path) for key, path in paths.items()}, pixels


def _decoded_sizes(monkeypatch):
    """Records the size of every image `load_image` converts to float."""
    sizes = []
    original = image_io._to_rgb_array

    def spy(img):
        sizes.append(img.size)
        return original(img)

    monkeypatch.setattr(image_io, "_to_rgb_array", spy)
    return sizes


@pytest.mark.parametrize("kind, largest", [("jpg", 4003 // 4 + 1), ("png", 4003 // 5 + 1)])
def test_max_size_decodes_a_large_image_near_the_target(large_images, monkeypatch, kind, largest):
    paths, pixels = large_images
    sizes = _decoded_sizes(monkeypatch)
    tracemalloc.start()
    try:
        image = image_io.load_image(paths[kind], max_size=160)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert image.shape == (120, 160, 3) and image.dtype == np.float32
    # JPEG: libjpeg decodes at 1/4 scale; PNG: box-reduced 5x before the float conversion.
    assert len(sizes) == 1 and max(sizes[0]) <= largest, sizes
    # A full decode converted to float32 would be 4003 x 3001 x 3 x 4 bytes = 144 MB.
    assert peak < 20 * 2**20, peak
    # The same picture as a full-size decode resized with Lanczos (a smooth image).
    reference = image_io.resize_long_side(pixels.astype(np.float32), 160)
    assert np.abs(image - reference).mean() < 1.0


def test_max_size_reduced_decode_keeps_exif_orientation(large_images):
    paths, _ = large_images
    upright = image_io.load_image(paths["jpg"], max_size=160)
    rotated = image_io.load_image(paths["rotated"], max_size=160)
    assert rotated.shape == (160, 120, 3)
    np.testing.assert_allclose(rotated, np.rot90(upright, k=-1), atol=1e-3)


def test_max_size_small_reductions_decode_in_full_as_before():
    # An 8x reduction stays a full decode + Lanczos (the golden outputs were made so).
    full = image_io.load_image(CONTENT_IMAGE)
    np.testing.assert_array_equal(
        image_io.load_image(CONTENT_IMAGE, max_size=64), np.clip(image_io.resize_long_side(full, 64), 0, 255)
    )


_COUNT_DECODES = r"""
import atexit, json, sys
from keras_style import image_io
calls = []
original = image_io.load_image
def counting(path, max_size=None, **kwargs):
    calls.append([str(path), max_size])
    return original(path, max_size=max_size, **kwargs)
image_io.load_image = counting
atexit.register(lambda: print("CALLS " + json.dumps(calls)))
from keras_style.cli import transfer
sys.argv = ["style_transfer"] + sys.argv[1:]
transfer.run()
"""


def test_style_transfer_decodes_one_input_once_at_max_size(tmp_path):
    content = tmp_path / "photo.jpg"
    Image.fromarray(_smooth(600, 900)).save(content, quality=90)
    script = tmp_path / "count.py"
    script.write_text(_COUNT_DECODES)
    model = os.path.join(REPO, "saved_models", "great_wave", "great_wave_fp16.tflite")
    result = subprocess.run(
        [sys.executable, str(script), f"--model={model}", f"--content={content}",
         f"--output={tmp_path / 'out.png'}", "--max_size=96"],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    calls = json.loads(result.stdout.split("CALLS ", 1)[1])
    assert calls == [[str(content), 96]]
    assert image_io.load_image(tmp_path / "out.png").shape == (64, 96, 3)


# --- TFLite graph ------------------------------------------------------------------------------


def _ops(model_bytes):
    """[(op name, [input shapes], [output shapes])] of the first subgraph (static shapes)."""
    from tensorflow.lite.python import schema_py_generated as fb
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(model_bytes))
    graph = model.subgraphs[0]
    names = {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_")}
    ops = []
    for op in graph.operators:
        code = model.operatorCodes[op.opcodeIndex]
        name = names[max(code.builtinCode, code.deprecatedBuiltinCode)]
        shapes = [list(graph.tensors[i].shape) if i >= 0 else None for i in op.inputs]
        ops.append((name, shapes))
    return ops


def _weight_bytes(model_bytes, kernel):
    """Bytes stored for 4-D tensors with a `kernel` x `kernel` spatial shape (conv filters)."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(model_bytes))
    total = 0
    for tensor in model.subgraphs[0].tensors:
        data = model.buffers[tensor.buffer].data
        if len(tensor.shape) == 4 and list(tensor.shape[1:3]) == [kernel, kernel] and data is not None:
            total += len(data)
    return total


def _delegate_partitions(path_or_bytes, size=64):
    """How many XNNPACK partitions the model runs in (after one run at size x size)."""
    from ai_edge_litert.interpreter import Interpreter

    kwargs = {"model_content": path_or_bytes} if isinstance(path_or_bytes, bytes) else {"model_path": path_or_bytes}
    interpreter = Interpreter(**kwargs)
    runner = interpreter.get_signature_runner()
    feed = {name: np.ones([1, size, size, 3], np.float32) for name in runner.get_input_details()}
    runner(**feed)
    return sum(op["op_name"] == "DELEGATE" for op in interpreter._get_ops_details())


@pytest.fixture(scope="module")
def nine_by_nine(tmp_path_factory):
    """A small network with a TransformNet's first and last layers: reflection padding by
    4 and 9x9 convs (one with a bias and ReLU), nearest upsampling between them."""
    import keras
    import tensorflow as tf

    from keras_style.layers import NearestUpsampling2D, ReflectionPadding2D

    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, None, 3), batch_size=1)
    x = ReflectionPadding2D(4)(inputs)
    x = keras.layers.Conv2D(8, 9, use_bias=False)(x)
    x = keras.layers.AveragePooling2D(2)(x)
    x = NearestUpsampling2D(2)(x)
    x = ReflectionPadding2D(4)(x)
    x = keras.layers.Conv2D(3, 9, activation="relu", bias_initializer="ones")(x)
    model = keras.Model(inputs, x)
    directory = str(tmp_path_factory.mktemp("nine") / "saved_model")
    model.export(directory, verbose=False)
    converted = {}
    for quantize in ("none", "float16"):
        converter = tf.lite.TFLiteConverter.from_saved_model(directory)
        if quantize == "float16":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        converted[quantize] = converter.convert()
    return converted


@pytest.mark.parametrize("quantize", ["none", "float16"])
def test_large_convs_rewritten_to_blocks_same_outputs(nine_by_nine, quantize):
    from ai_edge_litert.interpreter import Interpreter

    from keras_style.export.tflite_rewrite import space_to_depth_large_convs

    original = nine_by_nine[quantize]
    rewritten, count = space_to_depth_large_convs(original)
    assert count == 2
    kernels = [shapes[1][1:3] for name, shapes in _ops(rewritten) if name == "CONV_2D"]
    assert kernels and max(max(k) for k in kernels) <= 5, kernels  # 2x2 one-hot and 5x5 block convs
    assert sum(name == "DEPTH_TO_SPACE" for name, _ in _ops(rewritten)) == 2 + 1  # + the upsampling
    assert _weight_bytes(rewritten, kernel=9) == 0 < _weight_bytes(original, kernel=9)  # old weights dropped
    runners = [Interpreter(model_content=m).get_signature_runner() for m in (original, rewritten)]
    (name,) = runners[0].get_input_details()
    rng = np.random.default_rng(0)
    for height, width in ((16, 24), (38, 20), (6, 10)):  # even sizes (the rewrite's condition)
        x = rng.uniform(-1, 1, (1, height, width, 3)).astype(np.float32)
        want, got = (next(iter(r(**{name: x}).values())) for r in runners)
        assert got.shape == want.shape == (1, height, width, 3)
        np.testing.assert_allclose(got, want, atol=1e-4 * max(1.0, float(np.abs(want).max())))
    assert _delegate_partitions(rewritten) == 1


def test_rewrite_leaves_small_and_strided_convs_alone(nine_by_nine):
    import keras
    import tensorflow as tf

    from keras_style.export.tflite_rewrite import space_to_depth_large_convs

    inputs = keras.Input((None, None, 3), batch_size=1)
    x = keras.layers.Conv2D(4, 3)(inputs)
    x = keras.layers.Conv2D(4, 9, strides=2)(x)
    model = tf.lite.TFLiteConverter.from_keras_model(keras.Model(inputs, x)).convert()
    assert space_to_depth_large_convs(model) == (model, 0)


def test_layers_convert_to_ops_xnnpack_runs(nine_by_nine):
    ops = _ops(nine_by_nine["none"])
    names = [name for name, _ in ops]
    # Reflection padding by 4: no concatenation of more than 5 inputs (XNNPACK's limit).
    assert max(len(shapes) for name, shapes in ops if name == "CONCATENATION") <= 5
    # Nearest upsampling: DEPTH_TO_SPACE, not RESHAPEs to a run-time shape.
    assert "DEPTH_TO_SPACE" in names and "RESHAPE" not in names
    assert not {"MIRROR_PAD", "BROADCAST_TO", "SPACE_TO_DEPTH"} & set(names)
    assert _delegate_partitions(nine_by_nine["none"]) == 1


@pytest.mark.parametrize("name", ["great_wave", "starry_night"])
def test_shipped_fast_style_tflite_is_xnnpack_friendly(name):
    path = os.path.join(REPO, "saved_models", name, f"{name}_fp16.tflite")
    with open(path, "rb") as f:
        ops = _ops(f.read())
    kernels = [shapes[1][1:3] for op, shapes in ops if op == "CONV_2D"]
    assert max(max(k) for k in kernels) <= 5  # the 9x9 convs run on 2x2 blocks
    assert max(len(shapes) for op, shapes in ops if op == "CONCATENATION") <= 5
    # Everything but the size bookkeeping around it (PadToMultiple, the final crop) in XNNPACK.
    assert _delegate_partitions(path) <= 2


# VmHWM, not ru_maxrss: a child's ru_maxrss starts at its parent's resident size (Linux keeps
# it across fork and exec), and pytest with TensorFlow loaded is already ~0.8 GB.
_PEAK_RSS = r"""
import sys, numpy as np
from keras_style.inference import load_stylizer
stylizer = load_stylizer(sys.argv[1])
stylizer.stylize(np.full((512, 512, 3), 100.0, np.float32))
peak = [line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")][0]
print("PEAK", int(peak) // 1024)
"""


def test_shipped_fast_style_tflite_memory_at_512():
    # Before the graph changes a 512x512 run peaked at ~500 MB (1.9 GB at 1024x1024): XNNPACK's
    # indirection buffers of the two 9x9 convs and TFLite's arena at the partition borders.
    path = os.path.join(REPO, "saved_models", "great_wave", "great_wave_fp16.tflite")
    result = subprocess.run([sys.executable, "-c", _PEAK_RSS, path], capture_output=True, text=True, cwd=REPO,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.split("PEAK ", 1)[1]) < 320


# --- AdaIN: automatic tiles, style encoder freed -----------------------------------------------


def test_balanced_tile():
    from keras_style.inference.tiling import balanced_tile, tile_starts

    assert balanced_tile(500, 700, 800) == 0
    assert balanced_tile(1024, 1024, 790) == 544  # 2 x 2 tiles either way
    for height, width, largest, overlap in ((1024, 1024, 790, 64), (3000, 4000, 600, 64), (100, 5000, 300, 32)):
        tile = balanced_tile(height, width, largest, overlap)
        assert tile <= largest and tile % 8 == 0
        for side in (height, width):
            assert len(tile_starts(side, tile, overlap)) == len(tile_starts(side, largest, overlap))
            starts = tile_starts(side, tile, overlap)
            span = min(tile, side)
            assert all(a + span - b >= overlap for a, b in zip(starts, starts[1:]))
    with pytest.raises(StyleError):
        balanced_tile(1000, 1000, 64, 64)


def test_adain_auto_tile_sizes():
    from keras_style.inference.pipeline import AUTO_TILE_BUDGET_MB, auto_tile

    assert AUTO_TILE_BUDGET_MB < 1000
    assert auto_tile("tflite", 1024, 1024) == 544
    assert auto_tile("tflite", 512, 512) == 0 and auto_tile("saved_model", 64, 64) == 0
    assert auto_tile("saved_model", 1024, 1024) == 256
    assert 0 < auto_tile("tflite", 3000, 4000) <= 800


_COUNT_TILES = r"""
import atexit, sys
from keras_style.inference import pipeline
pipeline.AUTO_TILE_BUDGET_MB = 160.01  # the .tflite pair's fixed part: tiles for any image
pipeline.MIN_AUTO_TILE = 48
from keras_style.inference.adain import AdaINTFLiteStylizer
calls = []
original = AdaINTFLiteStylizer.stylize_statistics
def counting(self, content, *args, **kwargs):
    calls.append(content.shape[:2])
    return original(self, content, *args, **kwargs)
AdaINTFLiteStylizer.stylize_statistics = counting
atexit.register(lambda: print("TILES", len(calls)))
from keras_style.cli import transfer
sys.argv = ["style_transfer"] + sys.argv[1:]
transfer.run()
"""


@pytest.mark.parametrize("tile_flags, tiles", [([], 4), (["--tile=0"], 1)])
def test_adain_tiles_automatically_without_tile_flag(tmp_path, tile_flags, tiles):
    content = tmp_path / "photo.png"
    Image.fromarray(_smooth(80, 88)).save(content)
    script = tmp_path / "tiles.py"
    script.write_text(_COUNT_TILES)
    result = subprocess.run(
        [sys.executable, str(script), "--model=adain", "--model_format=tflite", f"--style={STYLE_IMAGE}",
         f"--content={content}", f"--output={tmp_path / 'out.png'}", "--tile_overlap=16", *tile_flags],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert f"TILES {tiles}" in result.stdout
    assert ("in tiles of" in result.stderr) == (tiles > 1)
    assert image_io.load_image(tmp_path / "out.png").shape == (80, 88, 3)


def test_adain_tflite_frees_its_style_encoder_after_prepare_style():
    from keras_style.inference import load_stylizer
    from keras_style.inference.adain import STYLE_ENCODE

    stylizer = load_stylizer("adain", "tflite")
    style = image_io.load_image(STYLE_IMAGE, max_size=48)
    first = stylizer.prepare_style([style])
    assert STYLE_ENCODE not in stylizer._runners  # closed: its buffers are not kept for stylizing
    second = stylizer.prepare_style([style])  # opened again
    np.testing.assert_array_equal(first.statistics, second.statistics)
    out = stylizer.stylize(np.full((24, 32, 3), 120.0, np.float32), style=second)
    assert out.shape == (24, 32, 3) and np.all(np.isfinite(out))
