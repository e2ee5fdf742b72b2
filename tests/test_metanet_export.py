"""MetaNet export: SavedModel signatures, TFLite pair, standalone extraction, runtime stylizers.

A MetaNet(base=4, hidden_per_layer=8) with seeded random weights (and perturbed
instance norms) stands in for a trained one; its statistics come from the real VGG19.
The SavedModel and the .tflite pairs are built once per session and shared with
test_metanet_cli.py through `shared_metanet_saved_model` / `shared_metanet_tflite`.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import CONTENT_IMAGE, EXAMPLES, REPO, STYLE_IMAGE, STYLE_IMAGE_2
from model_test_utils import assert_variables_saved_once
from keras_style.errors import StyleError

BASE = 4
HIDDEN = 8
SEED = 0
P = 1620 * BASE**2 + 98 * BASE
SIZE = 64  # long side of the test photos

# Parity bounds, |TFLite - SavedModel| (images on the 0..255 scale), for this random
# base-4 MetaNet on the three 64 px example photos x two example styles. Measured
# (2026-11-23, generated norm scales and offsets):
#   float16: weights rel 6.0e-4; stylize_with_weights alone max 0.78, mean 0.04;
#            end to end max 6.7, mean 0.25
#   dynamic: weights rel 1.4e-2 (the VGG and MetaNet weights become int8; the base-4
#            transform half's tensors are below the converter's 1024-element threshold
#            and stay float32: alone max 1.3e-3); end to end max 94, mean 5.3
# (A random base-8, hidden-128 MetaNet at 256 px, shared norms: float16 end to end max
# 1.9, mean 0.09; dynamic max 65, mean 3.8, its transform half quantized too: alone max 22.)
# Random filters push the output tanh towards saturation, where small weight errors
# are amplified (a few pixels), so the means are the tight checks; trained models are
# expected to do better.
WEIGHTS_REL = {"float16": 3e-3, "dynamic": 3e-2}
TRANSFORM_MAX = {"float16": 1.5, "dynamic": 0.05}
END_TO_END_MAX = {"float16": 10.0, "dynamic": 128.0}
END_TO_END_MEAN = {"float16": 0.5, "dynamic": 8.0}


def build_task_model(base=BASE, hidden=HIDDEN, seed=SEED):
    """A `MetaNetStyleTransfer` as `MetaNetTask.build_model()` makes it, with random
    weights and non-trivial instance norms."""
    import keras

    from keras_style.models.metanet_model import MetaNetStyleTransfer

    keras.utils.set_random_seed(seed)
    model = MetaNetStyleTransfer(base=base, hidden_per_layer=hidden, name="metanet_model")
    rng = np.random.default_rng(seed + 1)
    for layer in model.generated_net.layers:
        if layer.name.endswith("_norm") and layer.weights:  # conv1_norm (the others are generated)
            gamma, beta = layer.get_weights()
            layer.set_weights([1.0 + 0.2 * rng.normal(size=gamma.shape), 0.2 * rng.normal(size=beta.shape)])
    return model


def shared_metanet_saved_model(tmp_path_factory):
    """Path of the session's exported MetaNet SavedModel (exported on first use)."""
    from keras_style.export.metanet import export_metanet_model

    path = tmp_path_factory.getbasetemp() / "shared_metanet" / "saved_model"
    if not (path / "saved_model.pb").exists():
        export_metanet_model(build_task_model(), path, style_size=48)
    return str(path)


def shared_metanet_tflite(tmp_path_factory, quantize="float16"):
    """{role: path} of the session's TFLite pair for `quantize`."""
    from keras_style.export.metanet import convert_metanet_to_tflite
    from keras_style.inference.metanet import tflite_pair_paths

    saved_model = shared_metanet_saved_model(tmp_path_factory)
    prefix = tmp_path_factory.getbasetemp() / "shared_metanet" / "metanet"
    paths = tflite_pair_paths(prefix, quantize)
    if not all(os.path.exists(p) for p in paths.values()):
        convert_metanet_to_tflite(saved_model, prefix, quantize=quantize)
    return paths


def photos(size=SIZE):
    from keras_style import image_io

    folder = os.path.join(EXAMPLES, "content")
    return [image_io.load_image(os.path.join(folder, n), max_size=size) for n in sorted(os.listdir(folder))]


def style_images(size=SIZE):
    from keras_style import image_io

    return [image_io.load_image(STYLE_IMAGE, max_size=size), image_io.load_image(STYLE_IMAGE_2, max_size=size)]


@pytest.fixture(scope="module")
def model():
    return build_task_model()


@pytest.fixture(scope="module")
def saved_model_dir(tmp_path_factory):
    return shared_metanet_saved_model(tmp_path_factory)


@pytest.fixture(scope="module")
def loaded(saved_model_dir):
    import tensorflow as tf

    return tf.saved_model.load(saved_model_dir)


@pytest.fixture(scope="module")
def stylizer(saved_model_dir):
    from keras_style.inference.metanet import MetaNetSavedModelStylizer

    return MetaNetSavedModelStylizer(saved_model_dir)


@pytest.fixture(scope="module")
def extractor():
    from keras_style.metanet import statistics_extractor

    return statistics_extractor()


def _call(loaded, key, **inputs):
    import tensorflow as tf

    return {k: v.numpy() for k, v in loaded.signatures[key](**{k: tf.constant(v) for k, v in inputs.items()}).items()}


# --- SavedModel ------------------------------------------------------------------------------


def test_signatures_names_dtypes_shapes(loaded, saved_model_dir):
    from keras_style.inference.model_spec import read_metadata

    expected = {
        "style_to_weights": ({"style": ([1, None, None, 3], "float32")}, {"weights": ([1, P], "float32")}),
        "stylize_with_weights": (
            {"content": ([None, None, None, 3], "float32"), "weights": ([1, P], "float32")},
            {"stylized": ([None, None, None, 3], "float32")},
        ),
        "image_statistics": ({"image": ([1, None, None, 3], "float32")}, {"statistics": ([1, 1920], "float32")}),
        "statistics_to_weights": ({"statistics": ([1, 1920], "float32")}, {"weights": ([1, P], "float32")}),
        "serving_default": (
            {"content": ([None, None, None, 3], "uint8"), "style": ([1, None, None, 3], "uint8")},
            {"stylized": ([None, None, None, 3], "uint8")},
        ),
    }
    assert sorted(loaded.signatures) == sorted(expected)
    for key, (inputs, outputs) in expected.items():
        signature = loaded.signatures[key]
        _, specs = signature.structured_input_signature
        assert {n: (s.shape.as_list(), s.dtype.name) for n, s in specs.items()} == inputs, key
        assert {n: (s.shape.as_list(), s.dtype.name) for n, s in signature.structured_outputs.items()} == outputs, key
    metadata = read_metadata(saved_model_dir)
    assert metadata["kind"] == "metanet" and metadata["base"] == BASE and metadata["num_generated_params"] == P
    assert metadata["network"] == "vgg19" and metadata["pooling"] == "max" and metadata["style_size"] == 48
    assert len(metadata["shared_weights"]) == len(loaded.generated_net_weights) == 5  # conv1, conv1_norm, conv_out
    # VGG19 to block4_conv3 + MetaNet (+ its input standardisation's mean and 1/std).
    params = 8_225_344 + 1920 * 14 * HIDDEN + 14 * HIDDEN + HIDDEN * P + P + 2 * 1920
    shared = sum(int(np.prod(w.shape)) for w in loaded.generated_net_weights)
    assert_variables_saved_once(saved_model_dir, params + shared)


def test_halves_match_the_keras_model(model, loaded, extractor):
    import tensorflow as tf

    from keras_style import metanet as metanet_lib

    metanet, generated_net = model.get_layer("metanet"), model.get_layer("generated_transform_net")
    style, content = style_images(48)[0], photos(40)[0]
    weights = _call(loaded, "style_to_weights", style=style[None])["weights"]
    np.testing.assert_allclose(weights, metanet_lib.generate_weights(metanet, extractor, style), atol=1e-5)
    statistics = _call(loaded, "image_statistics", image=style[None])["statistics"]
    np.testing.assert_allclose(statistics, metanet_lib.style_statistics(extractor, style), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(_call(loaded, "statistics_to_weights", statistics=statistics)["weights"], weights,
                               atol=1e-6)
    stylized = _call(loaded, "stylize_with_weights", content=content[None], weights=weights)["stylized"]
    expected = generated_net([tf.constant(content[None]), tf.constant(weights)]).numpy()
    np.testing.assert_allclose(stylized, expected, atol=1e-3)


def test_serving_default_equals_the_two_halves(loaded):
    rng = np.random.default_rng(0)
    content = rng.integers(0, 256, (2, 29, 37, 3), dtype=np.uint8)  # two images, one style
    style = rng.integers(0, 256, (1, 45, 33, 3), dtype=np.uint8)
    one_shot = _call(loaded, "serving_default", content=content, style=style)["stylized"]
    assert one_shot.dtype == np.uint8 and one_shot.shape == content.shape
    weights = _call(loaded, "style_to_weights", style=style.astype("float32"))["weights"]
    two_step = _call(loaded, "stylize_with_weights", content=content.astype("float32"), weights=weights)["stylized"]
    expected = np.round(np.clip(two_step, 0, 255))
    assert np.abs(one_shot.astype(np.float32) - expected).max() <= 1.0


def test_weight_bounds_are_float16_safe_and_keep_dead_heads_finite(model):
    """The MetaNet's output layer (exported as is) equals the textbook n · z / ‖z‖ and
    tanh caps, and an all-zero head output gives a zero kernel and an identity norm
    (a float16 TFLite model once gave NaN there: 0 · rsqrt(0))."""
    from keras_style.models.generated_transform_net import weight_layout

    metanet = model.get_layer("metanet")
    layer = metanet.get_layer("weight_bounds")
    raw = np.random.default_rng(0).normal(0, 3, (2, metanet.num_generated_params)).astype("float32")
    expected = []
    for row in raw:
        parts = []
        for slot, norm in zip(weight_layout(BASE), layer.kernel_norms):
            chunk = row[slot.offset: slot.offset + slot.size]
            k = int(np.prod(slot.kernel_shape))
            parts += [norm * chunk[:k] / np.linalg.norm(chunk[:k]),
                      1.0 + 2.0 * np.tanh(chunk[k: k + slot.channels] / 2.0),
                      2.0 * np.tanh(chunk[k + slot.channels:] / 2.0)]
        expected.append(np.concatenate(parts))
    np.testing.assert_allclose(layer(raw).numpy(), np.stack(expected), rtol=1e-5, atol=1e-6)
    dead = layer(np.zeros((1, metanet.num_generated_params), "float32")).numpy()[0]
    assert np.all(np.isfinite(dead))
    for slot in weight_layout(BASE):
        k = int(np.prod(slot.kernel_shape))
        chunk = dead[slot.offset: slot.offset + slot.size]
        assert not chunk[:k].any()
        np.testing.assert_array_equal(chunk[k: k + slot.channels], 1.0)
        np.testing.assert_array_equal(chunk[k + slot.channels:], 0.0)


def test_heads_of_equal_shape_start_different():
    import keras

    from keras_style.models import MetaNet
    from keras_style.models.metanet import GroupedDense

    # A seeded initializer gives each group its own values (a Keras initializer repeats
    # itself), reproducibly.
    def kernels(seed):
        keras.utils.set_random_seed(seed)
        layer = GroupedDense([5, 5, 5], kernel_initializer="lecun_normal")
        layer.build((None, 3, 4))
        return [k.numpy() for k in layer.kernels]

    first = kernels(0)
    assert not np.array_equal(first[0], first[1]) and not np.array_equal(first[1], first[2])
    assert all(np.array_equal(a, b) for a, b in zip(first, kernels(0)))
    # The MetaNet's heads: the style part (kernels) starts at zero, and the shared part
    # (biases) of the convs of equal shape starts as different He-normal kernels.
    keras.utils.set_random_seed(0)
    heads = MetaNet(base=BASE, hidden_per_layer=HIDDEN).get_layer("heads")
    assert not any(k.numpy().any() for k in heads.kernels)
    by_shape = {}
    for bias in heads.biases:
        by_shape.setdefault(tuple(bias.shape), []).append(bias.numpy())
    assert len(by_shape[(9 * 4 * BASE * 4 * BASE + 2 * 4 * BASE,)]) == 10  # the residual convs
    for biases in by_shape.values():
        for i in range(1, len(biases)):
            assert not np.array_equal(biases[0], biases[i])


def test_export_refuses_bad_models_and_existing_dirs(model, saved_model_dir, tmp_path):
    from keras_style.export.metanet import export_metanet_model
    from keras_style.models import TransformNet

    with pytest.raises(StyleError, match="MetaNetStyleTransfer"):
        export_metanet_model(TransformNet(base=BASE), tmp_path / "x")
    with pytest.raises(StyleError, match="vgg19"):
        export_metanet_model(model, tmp_path / "x", network="vgg16")
    before = sorted(os.listdir(saved_model_dir))
    with pytest.raises(StyleError, match="exists and is not empty; pass --overwrite"):
        export_metanet_model(model, saved_model_dir)
    assert sorted(os.listdir(saved_model_dir)) == before
    assert not (tmp_path / "x").exists()


# --- TFLite pair -----------------------------------------------------------------------------


def _ops(path):
    from ai_edge_litert.interpreter import Interpreter

    return {op["op_name"] for op in Interpreter(model_path=path)._get_ops_details()}


@pytest.mark.parametrize("quantize", ["float16", "dynamic"])
def test_tflite_pair_builtins_dynamic_sizes_and_parity(tmp_path_factory, saved_model_dir, quantize):
    from ai_edge_litert.interpreter import Interpreter

    from keras_style.export.metanet import metanet_parity_check

    paths = shared_metanet_tflite(tmp_path_factory, quantize)
    suffix = {"float16": "fp16", "dynamic": "dynamic"}[quantize]
    assert [os.path.basename(p) for p in paths.values()] == [
        f"metanet_style_to_weights_{suffix}.tflite", f"metanet_stylize_with_weights_{suffix}.tflite"]
    for path in paths.values():
        assert not any(op.startswith("Flex") for op in _ops(path))
    style_half = Interpreter(model_path=paths["style_to_weights"])
    assert sorted(style_half.get_signature_list()) == ["image_statistics", "statistics_to_weights", "style_to_weights"]
    transform = Interpreter(model_path=paths["stylize_with_weights"])
    assert list(transform.get_signature_list()) == ["stylize_with_weights"]
    runner = transform.get_signature_runner("stylize_with_weights")
    details = runner.get_input_details()
    assert list(details["content"]["shape_signature"]) == [1, -1, -1, 3]
    assert list(details["weights"]["shape_signature"]) == [1, P]
    weights = style_half.get_signature_runner("style_to_weights")(style=np.full((1, 23, 31, 3), 90.0, np.float32))
    for height, width in ((24, 40), (37, 21)):
        content = np.full((1, height, width, 3), 100.0, np.float32)
        assert runner(content=content, weights=weights["weights"])["stylized"].shape == (1, height, width, 3)

    result = metanet_parity_check(saved_model_dir, paths["style_to_weights"], photos(), style_images())
    print(quantize, result)
    assert result["num_pairs"] == 6
    assert result["weights_rel_diff"] <= WEIGHTS_REL[quantize], result
    assert result["transform_max_abs_diff"] <= TRANSFORM_MAX[quantize], result
    assert result["end_to_end_max_abs_diff"] <= END_TO_END_MAX[quantize], result
    assert result["end_to_end_mean_abs_diff"] <= END_TO_END_MEAN[quantize], result
    # About half (float16) or a quarter (dynamic) of the float32 SavedModel's variables.
    variables = os.path.join(saved_model_dir, "variables")
    float32_size = sum(os.path.getsize(os.path.join(variables, f)) for f in os.listdir(variables))
    assert os.path.getsize(paths["style_to_weights"]) < {"float16": 0.55, "dynamic": 0.3}[quantize] * float32_size


def test_full_integer_int8_is_refused_with_the_reason(saved_model_dir, tmp_path):
    from keras_style.export.metanet import convert_metanet_to_tflite

    with pytest.raises(StyleError) as error:
        convert_metanet_to_tflite(saved_model_dir, tmp_path / "m", quantize="int8")
    message = str(error.value)
    assert "\n" not in message
    for part in ("int8 conv needs constant filters", "zero_point", "float16", "dynamic", "standalone model"):
        assert part in message
    assert list(tmp_path.iterdir()) == []
    other = tmp_path / "fast_style"
    other.mkdir()
    (other / "saved_model.pb").write_bytes(b"")
    (other / "keras_style.json").write_text('{"kind": "fast_style"}')
    with pytest.raises(StyleError, match="not a MetaNet SavedModel .* kind 'fast_style'"):
        convert_metanet_to_tflite(other, tmp_path / "m")


def test_tflite_stylizer_runs_without_tensorflow(tmp_path_factory, stylizer):
    """The pair runs on LiteRT alone, and matches the SavedModel stylizer."""
    paths = shared_metanet_tflite(tmp_path_factory, "float16")
    script = f"""
import sys, numpy as np
from keras_style.inference import load_stylizer
from keras_style import image_io
s = load_stylizer({paths['stylize_with_weights']!r})
styles = [image_io.load_image(p, max_size=64) for p in ({STYLE_IMAGE!r}, {STYLE_IMAGE_2!r})]
prepared = s.prepare_style(styles, [3, 1])
out = s.stylize(image_io.load_image({CONTENT_IMAGE!r}, max_size=48), style=prepared, alpha=0.5)
np.save(sys.argv[1], out)
assert type(s).__name__ == "MetaNetTFLiteStylizer" and s.style_size == 48, s
assert "tensorflow" not in sys.modules and "keras" not in sys.modules, "TensorFlow was imported"
"""
    out = tmp_path_factory.mktemp("litert") / "out.npy"
    result = subprocess.run([sys.executable, "-c", script, str(out)], capture_output=True, text=True, cwd=REPO,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    from keras_style import image_io

    styles = [image_io.load_image(p, max_size=64) for p in (STYLE_IMAGE, STYLE_IMAGE_2)]
    expected = stylizer.stylize(image_io.load_image(CONTENT_IMAGE, max_size=48),
                                style=stylizer.prepare_style(styles, [3, 1]), alpha=0.5)
    assert np.abs(np.load(out) - expected).max() <= END_TO_END_MAX["float16"]


# --- Runtime (SavedModel stylizer) ------------------------------------------------------------


def test_prepare_style_mixes_statistics_like_the_library(model, stylizer, extractor):
    from keras_style import metanet as metanet_lib

    styles = style_images()
    prepared = stylizer.prepare_style(styles, [3.0, 1.0])
    assert prepared.mix == (0.75, 0.25) and prepared.weights.shape == (1, P)
    resized = [stylizer.resize_style(s) for s in styles]
    assert all(min(s.shape[:2]) == 48 for s in resized)  # the model's style_size
    expected = metanet_lib.generate_weights(model.get_layer("metanet"), extractor, resized, [3.0, 1.0])
    np.testing.assert_allclose(prepared.weights, expected, atol=1e-5)
    with pytest.raises(StyleError, match=r"style weights: 1 value\(s\) for 2 style\(s\)"):
        stylizer.prepare_style(styles, [1.0])
    with pytest.raises(StyleError, match=">= 0"):
        stylizer.prepare_style(styles, [1.0, -1.0])
    with pytest.raises(StyleError, match="no style images"):
        stylizer.prepare_style([])
    with pytest.raises(StyleError, match="needs style images"):
        stylizer.stylize(photos(32)[0])


def test_alpha_follows_the_library(model, stylizer, extractor):
    from keras_style import metanet as metanet_lib

    style = stylizer.resize_style(style_images()[0])
    content = photos(40)[1]
    prepared = stylizer.prepare_style([style])
    for alpha in (0.0, 0.4):
        expected = metanet_lib.stylize(model, content, style, alpha=alpha, extractor=extractor)
        np.testing.assert_allclose(stylizer.stylize(content, style=prepared, alpha=alpha), expected, atol=1e-2)
    full = stylizer.stylize(content, style=prepared)
    np.testing.assert_array_equal(stylizer.stylize(content, style=prepared, alpha=1.0), full)
    bound = stylizer.style_for_content(prepared, content, 0.4)
    np.testing.assert_array_equal(stylizer.stylize(content, style=bound),
                                  stylizer.stylize(content, style=prepared, alpha=0.4))
    with pytest.raises(StyleError, match="alpha must be in"):
        stylizer.stylize(content, style=prepared, alpha=1.5)
    with pytest.raises(StyleError, match="prepared with alpha 0.4"):
        stylizer.stylize(content, style=bound, alpha=0.7)


def test_tiles_reuse_weights_generated_once(stylizer):
    """--tile: the filters are generated once per run (once more per image for alpha < 1),
    never per tile; with alpha the content statistics come from the tiles, pooled."""
    from keras_style import image_io
    from keras_style.inference.metanet import IMAGE_STATISTICS, STATISTICS_TO_WEIGHTS, STYLIZE_WITH_WEIGHTS
    from keras_style.inference.pipeline import StyleOptions, StylePipeline
    from keras_style.inference.tiling import tile_starts

    content = photos(64)[0]  # 64 x 64 -> 3 x 3 tiles of 28 with overlap 8
    tiles = len(tile_starts(content.shape[0], 28, 8)) * len(tile_starts(content.shape[1], 28, 8))
    assert tiles >= 4
    styles = tuple(image_io.load_image(path) for path in (STYLE_IMAGE, STYLE_IMAGE_2))
    pipeline = StylePipeline(stylizer, StyleOptions(styles=styles, style_weights=(1.0, 1.0), style_palette=False,
                                                    tile=28, overlap=8))
    before = dict(stylizer.calls)
    tiled = pipeline.stylize(content)
    again = pipeline.stylize(content)  # a second content image
    calls = {k: stylizer.calls[k] - before[k] for k in before}
    assert calls == {IMAGE_STATISTICS: 2, STATISTICS_TO_WEIGHTS: 1, STYLIZE_WITH_WEIGHTS: 2 * tiles}, calls
    np.testing.assert_array_equal(tiled, again)

    pipeline = pipeline.replace(alpha=0.5)  # the style stays prepared
    before = dict(stylizer.calls)
    pipeline.stylize(content)
    calls = {k: stylizer.calls[k] - before[k] for k in before}
    stats_tiles = len(tile_starts(content.shape[0], 28, 0)) * len(tile_starts(content.shape[1], 28, 0))
    assert calls == {IMAGE_STATISTICS: stats_tiles, STATISTICS_TO_WEIGHTS: 1, STYLIZE_WITH_WEIGHTS: tiles}, calls


def test_pooled_tile_statistics_are_exact_moments():
    from keras_style.inference.metanet import STATISTICS_CHANNELS, pool_statistics

    rng = np.random.default_rng(0)
    parts = [[rng.gamma(2.0, 20.0, (n, c)) for c in STATISTICS_CHANNELS] for n in (30, 50, 20)]

    def stats(layers):
        return np.concatenate([np.concatenate([f.mean(0), np.sqrt(f.var(0) + 1e-5)]) for f in layers])

    whole = stats([np.concatenate([p[i] for p in parts]) for i in range(len(STATISTICS_CHANNELS))])
    pooled = pool_statistics([stats(p) for p in parts], [30, 50, 20])
    np.testing.assert_allclose(pooled[0], whole, rtol=1e-5)


def test_standalone_extraction_equals_stylize_with_weights(model, saved_model_dir, stylizer, tmp_path):
    """A standalone TransformNet for one style (or a mix) gives what stylize_with_weights
    gives with that style's generated weights."""
    from keras_style.export.metanet import extract_style_model, load_generated_net
    from keras_style.inference import load_stylizer

    shared = load_generated_net(saved_model_dir)
    original = model.get_layer("generated_transform_net")
    for a, b in zip(shared.weights, original.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())

    styles = style_images()
    for name, chosen, weights in (("one", styles[:1], None), ("mix", styles, [1.0, 2.0])):
        path = extract_style_model(saved_model_dir, chosen, tmp_path / name, weights, style_name=name)
        standalone = load_stylizer(path)
        assert standalone.kind == "fast_style" and standalone.metadata["source"] == "metanet"
        assert not standalone.takes_style
        prepared = stylizer.prepare_style(chosen, weights)
        for content in photos(48):
            expected = stylizer.stylize_with_weights(content, prepared.weights)
            assert np.abs(standalone.stylize(content) - expected).max() <= 1e-2


def test_task_export_uses_the_training_vgg(tmp_path):
    """MetaNetTask.export copies its loss network's weights into the statistics network
    (here a random VGG: rebuilding it from `weights` would give other statistics)."""
    from keras_style.inference.metanet import MetaNetSavedModelStylizer
    from keras_style.metanet import style_statistics_vector
    from keras_style.tasks.metanet import MetaNetConfig, MetaNetTask

    config = MetaNetConfig(os.path.join(EXAMPLES, "content"), os.path.join(EXAMPLES, "styles"), crop_size=32,
                           batch_size=2, base=BASE, hidden_per_layer=HIDDEN, style_size=32, weights=None, seed=0)
    task = MetaNetTask(config)
    model = task.build_model()
    task.export(model, str(tmp_path / "export"), metadata={"train_steps": 0})
    stylizer = MetaNetSavedModelStylizer(tmp_path / "export")
    assert stylizer.style_size == 32 and stylizer.metadata["training"]["train_steps"] == 0
    image = photos(40)[2]
    expected = np.asarray(style_statistics_vector(task.loss_net(image[None])))
    np.testing.assert_allclose(stylizer.image_statistics(image), expected, rtol=1e-4, atol=1e-4)
