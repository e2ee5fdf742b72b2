"""AdaIN (Huang & Belongie 2017): layer, decoder, model, library functions, training."""

import os

import keras
import numpy as np
import pytest
from model_test_utils import (
    assert_mixed_precision,
    assert_output_shape,
    assert_serialization_round_trip,
)

from conftest import CONTENT_IMAGE, STYLE_IMAGE, STYLE_IMAGE_2
from keras_style import adain, color, image_io
from keras_style.errors import StyleError
from keras_style.layers import AdaptiveInstanceNormalization, NearestUpsampling2D, ReflectionPadding2D
from keras_style.models.adain_decoder import AdaINDecoder
from keras_style.models.adain_model import AdaINStyleTransfer
from keras_style.tasks.adain import AdaINConfig, train_adain
from keras_style.training.trainer import TrainerConfig

# The paper's decoder: 9 3x3 convs 512-256 | 256-256 x3, 256-128 | 128-128, 128-64 | 64-64, 64-3.
DECODER_PARAMS = 3_505_219


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def _adain_reference(x, mean, std, epsilon):
    mu = x.mean(axis=(1, 2), keepdims=True)
    sigma = np.sqrt(x.var(axis=(1, 2), keepdims=True) + epsilon)
    return std[:, None, None, :] * (x - mu) / sigma + mean[:, None, None, :]


@pytest.fixture(scope="module")
def model(vgg19_weights_path):
    keras.utils.set_random_seed(0)
    return AdaINStyleTransfer()


@pytest.fixture(scope="module")
def images():
    """Content 32x48 (relu4_1 grid 4x6) and two styles, float [0, 255]."""
    content = np.clip(image_io.resize_image(image_io.load_image(CONTENT_IMAGE), (32, 48)), 0, 255)
    style_a = np.clip(image_io.resize_image(image_io.load_image(STYLE_IMAGE), (40, 32)), 0, 255)
    style_b = np.clip(image_io.resize_image(image_io.load_image(STYLE_IMAGE_2), (24, 40)), 0, 255)
    return content, style_a, style_b


@pytest.fixture(scope="module")
def stats(model, images):
    _, style_a, style_b = images
    return adain.style_statistics(model, style_a), adain.style_statistics(model, style_b)


# --- AdaptiveInstanceNormalization -------------------------------------------------


def test_adain_layer_matches_numpy_and_takes_style_statistics():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(2, 5, 6, 8)) * 40.0 + 100.0).astype("float32")
    mean = rng.uniform(-50, 50, size=(2, 8)).astype("float32")
    std = rng.uniform(1, 30, size=(2, 8)).astype("float32")
    layer = AdaptiveInstanceNormalization(epsilon=1e-5)
    out = _np(layer([x, mean, std]))
    np.testing.assert_allclose(out, _adain_reference(x, mean, std, 1e-5), rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(out.mean(axis=(1, 2)), mean, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(out.std(axis=(1, 2)), std, rtol=1e-4)

    config = layer.get_config()
    assert config["epsilon"] == 1e-5
    assert AdaptiveInstanceNormalization.from_config(config).get_config() == config
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"] == "keras_style>AdaptiveInstanceNormalization"


def test_adain_layer_float16_large_activations_use_float32_statistics():
    # Activations ~300 (like VGG features): their squares overflow float16 (max 65504).
    rng = np.random.default_rng(1)
    x32 = (300.0 + 60.0 * rng.normal(size=(1, 8, 8, 4))).astype("float32")
    x16 = x32.astype("float16")
    mean = rng.uniform(200, 400, size=(1, 4)).astype("float32")
    std = rng.uniform(20, 80, size=(1, 4)).astype("float32")
    layer = AdaptiveInstanceNormalization(dtype="mixed_float16")
    out = layer([x16, mean.astype("float16"), std.astype("float16")])
    assert keras.backend.standardize_dtype(out.dtype) == "float16"
    out = _np(out).astype("float32")
    assert np.all(np.isfinite(out))
    reference = _adain_reference(x16.astype("float32"), mean, std, 1e-5)
    # Only the float16 rounding of inputs and output remains (~5e-4 relative).
    np.testing.assert_allclose(out, reference, rtol=2e-3, atol=0.5)
    np.testing.assert_allclose(out.std(axis=(1, 2)), std, rtol=1e-2)


# --- AdaINDecoder ----------------------------------------------------------------


def test_decoder_is_the_papers_architecture():
    decoder = AdaINDecoder()
    assert decoder.count_params() == DECODER_PARAMS
    convs = [layer for layer in decoder.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [(c.kernel.shape[2], c.kernel.shape[3]) for c in convs] == [
        (512, 256), (256, 256), (256, 256), (256, 256), (256, 128), (128, 128), (128, 64), (64, 64), (64, 3),
    ]
    assert all(tuple(c.kernel_size) == (3, 3) and c.padding == "valid" for c in convs)
    assert [c.activation.__name__ for c in convs] == ["relu"] * 8 + ["linear"]
    pads = [layer for layer in decoder.layers if isinstance(layer, ReflectionPadding2D)]
    assert len(pads) == len(convs)
    ups = [layer for layer in decoder.layers if isinstance(layer, NearestUpsampling2D)]
    assert len(ups) == 3 and all(u.size == 2 for u in ups)
    assert not any("normalization" in type(layer).__name__.lower() for layer in decoder.layers)


def test_decoder_shape_range_serialization_and_mixed_precision():
    keras.utils.set_random_seed(0)
    decoder = AdaINDecoder()
    features = np.random.default_rng(0).uniform(0, 2000, size=(1, 3, 5, 512)).astype("float32")
    # Untrained, on VGG-sized features (~1000), the output is already on the pixel scale.
    out = assert_output_shape(decoder, (1, 3, 5, 512), (1, 24, 40, 3), high=2000.0)
    assert out.dtype == np.float32 and -255 < out.min() and out.max() < 2 * 255
    assert_serialization_round_trip(decoder, features, atol=1e-3)
    keras.utils.set_random_seed(0)
    assert_mixed_precision(AdaINDecoder, features, rtol=2e-2)


# --- AdaINStyleTransfer -------------------------------------------------------


def test_model_pieces_and_trainable_weights(model):
    assert isinstance(model.decoder, AdaINDecoder)
    assert model.encoder.pooling == "max" and not model.encoder.trainable
    assert list(model.encoder.feature_layers) == ["relu1_1", "relu2_1", "relu3_1", "relu4_1"]
    # Only the decoder trains.
    assert {id(v) for v in model.trainable_variables} == {id(v) for v in model.decoder.trainable_variables}
    assert sum(int(np.prod(v.shape)) for v in model.trainable_variables) == DECODER_PARAMS


@pytest.mark.parametrize("size", [(37, 29), (5, 7), (1, 1)])
def test_output_size_equals_content_size(model, images, size):
    _, style_a, _ = images
    content = np.random.default_rng(0).uniform(0, 255, size=(1, *size, 3)).astype("float32")
    out = _np(model([content, style_a[None], np.ones((1, 1), "float32")]))
    assert out.shape == (1, *size, 3) and out.dtype == np.float32
    assert np.all(np.isfinite(out))
    assert adain.stylize(model, content[0], [style_a]).shape == (*size, 3)


def test_model_equals_statistics_path(model, images):
    content, style_a, style_b = images
    c = np.stack([content, content[::-1]])
    s = np.stack([style_a[:24, :32], style_b[:24, :32]])
    alpha = np.array([[1.0], [0.6]], "float32")
    expected = _np(model([c, s, alpha]))
    mean, std = model.style_statistics(s)
    assert tuple(mean.shape) == (2, 512) and tuple(std.shape) == (2, 512)
    np.testing.assert_allclose(_np(model.stylize_from_statistics(c, mean, std, alpha)), expected, atol=1e-3)
    graph = model.stylize_from_statistics_graph()
    np.testing.assert_allclose(_np(graph([c, _np(mean), _np(std), alpha])), expected, atol=1e-3)
    graph_mean, graph_std = model.style_statistics_graph()(s)
    np.testing.assert_allclose(_np(graph_mean), _np(mean), rtol=1e-5)
    np.testing.assert_allclose(_np(graph_std), _np(std), rtol=1e-5)


def test_alpha_zero_reproduces_decoded_content(model, images):
    content, style_a, _ = images
    c = content[None]
    out = _np(model([c, style_a[None], np.zeros((1, 1), "float32")]))
    reconstruction = _np(model.decode(model.encode_content(c), c))
    np.testing.assert_array_equal(out, reconstruction)
    stylized = adain.stylize(model, content, [style_a], alpha=0.0)
    np.testing.assert_array_equal(stylized, np.clip(reconstruction[0], 0, 255))


def test_alpha_is_linear_in_feature_space(model, images, stats):
    content, style_a, _ = images
    (mean, std), _ = stats
    features = model.encode_content(content[None])
    f = _np(features)
    target = _adain_reference(f, mean[None], std[None], model.epsilon)
    for alpha in (0.0, 0.3, 1.0):
        decoder_input = _np(model.decoder_input(features, mean[None], std[None], np.full((1, 1), alpha, "float32")))
        np.testing.assert_allclose(decoder_input, (1 - alpha) * f + alpha * target, rtol=1e-4, atol=0.05)
    # The library decodes the same blend.
    expected = np.clip(_np(model.decode((0.7 * f + 0.3 * target).astype("float32"), content[None]))[0], 0, 255)
    np.testing.assert_allclose(adain.stylize(model, content, [style_a], alpha=0.3), expected, atol=0.05)


def test_model_serialization_round_trip(model, images):
    content, style_a, _ = images
    inputs = [content[None, :16, :24], style_a[None, :16, :16], np.full((1, 1), 0.8, "float32")]
    assert model.get_config()["encoder_weights"] == "auto"
    assert model.get_config()["epsilon"] == 1e-5
    assert_serialization_round_trip(model, inputs, atol=1e-3)


def test_model_mixed_precision(images, vgg19_weights_path):
    # Under mixed_float16, VGG relu4_1 activations (up to ~2e4) still fit float16;
    # AdaIN and the style statistics run in float32 and the output is float32.
    content, style_a, _ = images
    _, (mixed,) = assert_mixed_precision(
        AdaINStyleTransfer, [content[None], style_a[None], np.ones((1, 1), "float32")], rtol=2e-2
    )
    assert mixed.dtype == np.float32


# --- library: statistics, interpolation, masks --------------------------------------


def test_style_statistics_are_relu4_1_moments(model, images, stats):
    _, style_a, _ = images
    mean, std = stats[0]
    assert mean.shape == (512,) and std.shape == (512,) and mean.dtype == np.float32
    features = _np(model.encoder(style_a[None])["relu4_1"])[0]
    np.testing.assert_allclose(mean, features.mean(axis=(0, 1)), rtol=1e-4, atol=1e-2)
    np.testing.assert_allclose(std, np.sqrt(features.var(axis=(0, 1)) + 1e-5), rtol=1e-4, atol=1e-2)


def test_interpolation_weights_are_normalised(model, images, stats):
    content, style_a, style_b = images
    a, b = stats
    for x, y in zip(adain.mix_statistics([a, b], [2, 2]), adain.mix_statistics([a, b], [0.5, 0.5])):
        np.testing.assert_allclose(x, y, rtol=1e-6)
    for x, y in zip(adain.mix_statistics([a, b], [1, 0]), a):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_allclose(
        adain.stylize(model, content, [style_a, style_b], style_weights=[1, 0]),
        adain.stylize(model, content, [style_a]),
        atol=1e-3,
    )
    np.testing.assert_allclose(
        adain.stylize(model, content, [style_a, style_b], style_weights=[3, 3]),
        adain.stylize(model, content, [style_a, style_b]),
        atol=1e-3,
    )


def test_mixing_statistics_equals_mixing_adain_outputs(model, images, stats):
    # The paper interpolates AdaIN outputs; AdaIN is linear in (mean, std) for fixed content.
    content = images[0]
    (mean_a, std_a), (mean_b, std_b) = stats
    f = _np(model.encode_content(content[None]))
    mean, std = adain.mix_statistics(stats, [0.25, 0.75])
    mixed_outputs = 0.25 * _adain_reference(f, mean_a[None], std_a[None], 1e-5) + 0.75 * _adain_reference(
        f, mean_b[None], std_b[None], 1e-5
    )
    _, target = adain.adain_target(model, content, stats, [0.25, 0.75])
    np.testing.assert_allclose(target, mixed_outputs[0], rtol=1e-4, atol=0.05)
    np.testing.assert_allclose(target, _adain_reference(f, mean[None], std[None], 1e-5)[0], rtol=1e-4, atol=0.05)


def test_masks_route_styles_to_regions(model, images, stats):
    content = images[0]  # 32x48: relu4_1 grid 4x6, each feature pixel an 8x8 block
    left = np.zeros((32, 48), "float32")
    left[:, :24] = 1.0
    f, target = adain.adain_target(model, content, stats, masks=[left, 1.0 - left])
    _, target_a = adain.adain_target(model, content, stats[:1])
    _, target_b = adain.adain_target(model, content, stats[1:])
    assert target.shape == (4, 6, 512)
    np.testing.assert_allclose(target[:, :3], target_a[:, :3], rtol=1e-5, atol=1e-2)
    np.testing.assert_allclose(target[:, 3:], target_b[:, 3:], rtol=1e-5, atol=1e-2)

    # Where every mask is 0 the content features pass through; mask weights are
    # normalised per pixel (0.3 alone is as good as 1).
    quarter = np.zeros((32, 48), "float32")
    quarter[:, :16] = 0.3
    f, target = adain.adain_target(model, content, stats, masks=[quarter, np.zeros_like(quarter)])
    np.testing.assert_allclose(target[:, :2], target_a[:, :2], rtol=1e-5, atol=1e-2)
    np.testing.assert_array_equal(target[:, 2:], f[:, 2:])

    out = adain.stylize(model, content, list(images[1:]), masks=[left, 1.0 - left])
    assert out.shape == content.shape and 0 <= out.min() and out.max() <= 255


def test_preserve_color(model, images):
    content, style_a, _ = images
    histogram = adain.stylize(model, content, [style_a], preserve_color="histogram")
    recoloured = color.match_color_histogram(style_a, content)
    np.testing.assert_allclose(histogram, adain.stylize(model, content, [recoloured]), atol=1e-3)
    plain = adain.stylize(model, content, [style_a])
    luminance = adain.stylize(model, content, [style_a], preserve_color="luminance")
    np.testing.assert_allclose(luminance, color.preserve_color(content, plain, "luminance"), atol=1e-3)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(alpha=-0.1), "alpha must be in [0, 1]"),
        (dict(alpha=1.5), "alpha must be in [0, 1]"),
        (dict(alpha=float("nan")), "alpha must be in [0, 1]"),
        (dict(style_weights=[1.0]), "style weights: 1 value(s) for 2 style(s)"),
        (dict(style_weights=[1.0, -1.0]), "must be finite and >= 0"),
        (dict(style_weights=[0, 0]), "sum to 0"),
        (dict(masks=[np.ones((32, 48))]), "1 mask(s) for 2 style(s)"),
        (dict(masks=[np.ones((32, 40)), np.ones((32, 48))]), "mask 1 is 32x40, content is 32x48"),
        (dict(masks=[np.ones((32, 48)), np.full((32, 48), 2.0)]), "mask 2 has values outside [0, 1]"),
        (dict(preserve_color="sepia"), "unknown colour preservation method"),
    ],
)
def test_bad_arguments_are_style_errors(model, images, kwargs, message):
    content, style_a, style_b = images
    with pytest.raises(StyleError) as error:
        adain.stylize(model, content, [style_a, style_b], **kwargs)
    assert message in str(error.value)


def test_mix_statistics_errors(stats):
    with pytest.raises(StyleError, match=r"style weights: 2 value\(s\) for 1 style"):
        adain.mix_statistics(stats[:1], [0.5, 0.5])
    with pytest.raises(StyleError, match="no styles"):
        adain.mix_statistics([], None)
    with pytest.raises(StyleError, match="different shapes"):
        adain.mix_statistics([stats[0], (np.zeros(3), np.ones(3))])


# --- training -------------------------------------------------------------------


def test_config_validation():
    with pytest.raises(StyleError, match="multiple of 8"):
        AdaINConfig("c", "s", crop_size=36).validate()
    with pytest.raises(StyleError, match="short_side_range"):
        AdaINConfig("c", "s", crop_size=64, short_side_range=(32, 48)).validate()
    with pytest.raises(StyleError, match="style_short_side_range 48..96"):
        AdaINConfig("c", "s", crop_size=64, short_side_range=(64, 96), style_short_side_range=(48, 96)).validate()
    with pytest.raises(StyleError, match=r"style_short_side_range must be \(low, high\)"):
        AdaINConfig("c", "s", crop_size=64, short_side_range=(64, 96), style_short_side_range=(64,)).validate()
    with pytest.raises(StyleError, match="unknown AdaIN style layer"):
        AdaINConfig("c", "s", style_layers=["relu5_1"]).validate()
    AdaINConfig("c", "s", style_layers=["block1_conv1", "relu4_1"]).validate()


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_short_training_run_lowers_the_loss(tmp_path, images, precision):
    content, style_a, _ = images
    for folder, image in (("content", content[:, :32]), ("style", style_a[:32])):
        os.makedirs(tmp_path / folder)
        image_io.save_image(image, str(tmp_path / folder / "image.png"))
    config = AdaINConfig(
        str(tmp_path / "content"), str(tmp_path / "style"), crop_size=32, short_side_range=(32, 32),
        batch_size=2, seed=0,
    )
    progress = []
    trainer_config = TrainerConfig(
        str(tmp_path / "run"), train_steps=16, steps_per_loop=4, checkpoint_interval=0, summary_interval=16,
        precision=precision,
    )
    metrics = train_adain(config, trainer_config, export_dir=None, on_progress=progress.append)
    assert [p.step for p in progress] == [4, 8, 12, 16]
    assert set(metrics) == {"loss", "content", "style"}
    assert metrics["loss"] == pytest.approx(metrics["content"] + metrics["style"], rel=1e-5)
    first, last = progress[0].metrics["loss"], progress[-1].metrics["loss"]
    # One fixed content/style pair at the paper's learning rate (1e-4): the mean loss
    # of steps 13-16 is at least 3x below that of steps 1-4 (6.0x measured:
    # 1.34e7 -> 2.22e6). The last loop also drew the TensorBoard sample images.
    assert last < first / 3, (first, last)
