"""Non-finite values and unbounded sizes are refused up front, in one line.

* Style weights are normalised by one function (`checks.normalised_weights`) that cannot
  overflow: 1e308,1e308 is an equal mix, not the all-black picture that 0,0 gave.
* Style statistics, generated filters and every stylizer output are checked for NaN and
  infinity where they are computed; `image_io.save_image` refuses them too, so nothing
  made from them is written.
* Every size a user or an image controls is bounded before any work, and the message
  names the flag (or the image) that sets it.
"""

import os
import warnings

import numpy as np
import pytest

from conftest import CONTENT_IMAGE, STYLE_IMAGE, STYLE_IMAGE_2, assert_one_line_error, run_command
from keras_style import checks, image_io
from keras_style.errors import StyleError
from keras_style.inference import metanet as metanet_inference
from keras_style.inference.stylizer import Stylizer

ADAIN_TFLITE = os.path.join("saved_models", "adain", "adain_style_encode_fp16.tflite")
ADAIN_SAVED_MODEL = os.path.join("saved_models", "adain", "saved_model")
METANET = os.path.join("saved_models", "metanet", "saved_model")
TWO_STYLES = f"--style={STYLE_IMAGE},{STYLE_IMAGE_2}"


# Weights: one normaliser, no overflow.


@pytest.mark.parametrize("weights, expected", [
    ([1e308, 1e308], [0.5, 0.5]),
    ([1.7976931348623157e308] * 3, [1 / 3] * 3),
    ([1e308, 1e307], [10 / 11, 1 / 11]),
    ([5e-324, 5e-324], [0.5, 0.5]),  # subnormal: the sum does not underflow either
    ([3.0, 0.0, 1.0], [0.75, 0.0, 0.25]),
])
def test_normalised_weights_cannot_overflow(weights, expected):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy RuntimeWarning
        result = checks.normalised_weights(weights, len(weights))
    assert all(np.isfinite(result))
    assert sum(result) == pytest.approx(1.0, abs=1e-15)
    np.testing.assert_allclose(result, expected, rtol=1e-12)


@pytest.mark.parametrize("weights, message", [
    ([float("inf"), 1.0], "style weights must be finite and >= 0, got [inf, 1.0]"),
    ([float("nan"), 1.0], "style weights must be finite and >= 0"),
    ([-1.0, 2.0], "style weights must be finite and >= 0"),
    ([0.0, 0.0], "style weights sum to 0"),
    ([1.0], "style weights: 1 value(s) for 2 style(s)"),
    (["a", 1.0], "style weights must be numbers"),
])
def test_normalised_weights_refusals(weights, message):
    with pytest.raises(StyleError) as raised:
        checks.normalised_weights(weights, 2)
    assert message in str(raised.value)


def test_every_weight_normaliser_is_the_checks_one():
    from keras_style import gatys

    huge = [1e308, 1e308]
    np.testing.assert_array_equal(metanet_inference.convex_weights(huge, 2), [0.5, 0.5])
    gatys.GatysConfig(style_blend_weights=huge).validate()  # accepted: an equal blend
    with pytest.raises(StyleError, match="style blend weights must be finite and >= 0"):
        gatys.GatysConfig(style_blend_weights=[float("inf"), 1.0]).validate()
    with pytest.raises(StyleError, match="style blend weights sum to 0"):
        gatys.GatysConfig(style_blend_weights=[0.0, 0.0]).validate()


@pytest.mark.parametrize("model", [ADAIN_TFLITE, METANET])
def test_alpha_has_one_check_and_message(tmp_path, model):
    result = run_command("keras_style.cli.transfer", f"--model={model}", f"--content={CONTENT_IMAGE}",
                         f"--style={STYLE_IMAGE}", "--alpha=nan", f"--output={tmp_path / 'out.png'}")
    assert_one_line_error(result, "--alpha must be in [0, 1], got nan")
    with pytest.raises(StyleError, match=r"^alpha must be in \[0, 1\], got 2$"):
        checks.check_alpha(2)


def _mean_std(path):
    image = image_io.load_image(path)
    return float(image.mean()), float(image.std())


def test_huge_weights_give_the_equal_mix_adain_tflite(tmp_path):
    """Was: mean 0, standard deviation 0 (both weights became 0), exit 0."""
    common = ["--model=" + ADAIN_TFLITE, f"--content={CONTENT_IMAGE}", TWO_STYLES, "--max_size=96", "--alpha=1"]
    huge = run_command("keras_style.cli.transfer", *common, "--style_weights=1e308,1e308",
                       f"--output={tmp_path / 'huge.png'}")
    equal = run_command("keras_style.cli.transfer", *common, "--style_weights=1,1", f"--output={tmp_path / 'one.png'}")
    assert huge.returncode == 0 and equal.returncode == 0, huge.stderr + equal.stderr
    assert "RuntimeWarning" not in huge.stderr, huge.stderr
    np.testing.assert_array_equal(image_io.load_image(tmp_path / "huge.png"), image_io.load_image(tmp_path / "one.png"))
    mean, std = _mean_std(tmp_path / "huge.png")
    assert 30 < mean < 220 and std > 20  # a picture, not a flat black frame


@pytest.mark.parametrize("model", [ADAIN_SAVED_MODEL, METANET])
def test_huge_weights_give_the_equal_mix_saved_models(model):
    from keras_style.inference import load_stylizer

    stylizer = load_stylizer(model)
    styles = [image_io.load_image(STYLE_IMAGE, max_size=64), image_io.load_image(STYLE_IMAGE_2, max_size=64)]
    content = image_io.load_image(CONTENT_IMAGE, max_size=64)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        huge = stylizer.prepare_style(styles, [1e308, 1e308])
    equal = stylizer.prepare_style(styles, [1.0, 1.0])
    np.testing.assert_array_equal(huge.statistics, equal.statistics)
    out = stylizer.stylize(content, style=huge, alpha=1.0)
    assert np.all(np.isfinite(out)) and out.std() > 10


@pytest.mark.parametrize("model", [ADAIN_SAVED_MODEL, ADAIN_TFLITE, METANET])
@pytest.mark.parametrize("weights, message", [
    ("1e309,1", "--style_weights must be finite and >= 0, got [inf, 1.0]"),
    ("nan,1", "--style_weights must be finite and >= 0"),
    ("0,0", "--style_weights sum to 0"),
])
def test_bad_weights_one_line_before_the_model_loads(tmp_path, model, weights, message):
    out = tmp_path / "out.png"
    result = run_command("keras_style.cli.transfer", f"--model={model}", f"--content={CONTENT_IMAGE}", TWO_STYLES,
                         f"--style_weights={weights}", f"--output={out}")
    # One line: no precision or copy line (announced once the model loads), no warnings.
    assert_one_line_error(result, message)
    assert "Warning" not in result.stderr
    assert not out.exists() and os.listdir(tmp_path) == []


# Non-finite results: refused where they are computed, never written.


class _Constant(Stylizer):
    """A fixed-style stylizer through the real base class, returning `value` everywhere."""

    backend = "test"

    def __init__(self, value):
        super().__init__("constant")
        self.value = value

    def _stylize_batch(self, images, style):
        return np.full(images.shape, self.value, np.float32)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_stylizer_output_with_a_non_finite_value_is_refused(value):
    with pytest.raises(StyleError, match=r"the output of model 'constant' has 48 non-finite value\(s\)"):
        _Constant(value).stylize(np.zeros((4, 4, 3), np.float32))


def test_flat_output_is_kept():
    """A legitimately flat picture is not refused: only non-finite values are."""
    out = _Constant(0.0).stylize(np.zeros((4, 4, 3), np.float32))
    np.testing.assert_array_equal(out, 0.0)


def test_real_model_fed_infinity_is_refused():
    from keras_style.inference import load_stylizer

    stylizer = load_stylizer(ADAIN_TFLITE)
    style = image_io.load_image(STYLE_IMAGE, max_size=64)
    broken = style.copy()
    broken[0, 0, 0] = np.inf
    with pytest.raises(StyleError, match="the VGG statistics of style image 1 has .* non-finite"):
        stylizer.prepare_style([broken])
    content = np.full((32, 32, 3), np.inf, np.float32)
    with pytest.raises(StyleError, match="non-finite value"):
        stylizer.stylize(content, style=stylizer.prepare_style([style]))


def test_save_image_refuses_nan_and_writes_nothing(tmp_path):
    image = np.full((4, 4, 3), 100.0, np.float32)
    image[1, 2, 0] = np.nan
    with pytest.raises(StyleError, match=r"the image to write has 1 non-finite value\(s\)"):
        image_io.save_image(image, tmp_path / "out.png")
    assert os.listdir(tmp_path) == []


class _StubMetaNet(metanet_inference.MetaNetStylizer):
    """The MetaNet halves as numpy stubs: statistics / filters / output as set."""

    backend = "test"

    def __init__(self, statistics=1.0, weights=1.0, out_of_memory=None):
        super().__init__("stub", {"kind": "metanet"})
        self.statistics, self.weights, self.out_of_memory = statistics, weights, out_of_memory

    def _image_statistics(self, image):
        if self.out_of_memory == "statistics":
            raise metanet_inference.OutOfMemory("image_statistics")
        return np.full((1, metanet_inference.STATISTICS_DIM), self.statistics, np.float32)

    def _statistics_to_weights(self, statistics):
        return np.full((1, 8), self.weights, np.float32)

    def _stylize_with_weights(self, images, weights):
        if self.out_of_memory == "stylize":
            raise metanet_inference.OutOfMemory("stylize_with_weights")
        return images


def test_metanet_non_finite_statistics_and_filters_are_named():
    style = np.full((32, 32, 3), 100.0, np.float32)
    with pytest.raises(StyleError, match="the VGG statistics of the style image has 1920 non-finite"):
        _StubMetaNet(statistics=np.nan).prepare_style([style])
    with pytest.raises(StyleError, match="the filters MetaNet 'stub' generated has 8 non-finite"):
        _StubMetaNet(weights=np.inf).prepare_style([style])


def test_metanet_out_of_memory_names_only_flags_that_bound_it():
    style = np.full((32, 32, 3), 100.0, np.float32)
    with pytest.raises(StyleError) as raised:
        _StubMetaNet(out_of_memory="statistics").prepare_style([style])
    message = str(raised.value)
    assert "statistics of the style image" in message and "--style" in message
    assert "--tile" not in message and "--max_size" not in message  # they bound the content only
    model = _StubMetaNet(out_of_memory="stylize")
    prepared = model.prepare_style([style])
    with pytest.raises(StyleError, match="out of memory stylizing a 32x32 image; use --tile, --max_size"):
        model.stylize(style, style=prepared)


# Sizes: bounded up front, naming the flag.


def test_metanet_extract_style_size_refused_at_once(tmp_path):
    """Was: no upper bound; killed at 24 GB after 107 s with no message."""
    result = run_command("keras_style.cli.metanet_extract", f"--model={METANET}", f"--style={STYLE_IMAGE}",
                         "--style_size=100000", f"--export_dir={tmp_path / 'out'}", timeout=60)
    assert_one_line_error(result, "--style_size must be from 16 to 1024 pixels, got 100000")
    assert os.listdir(tmp_path) == []


@pytest.fixture(scope="module")
def strip(tmp_path_factory):
    """A 1200x16 style strip: at the MetaNet's style size (256) it would be 19200x256,
    over the pixel limit as the 10000x20 strip of the report (128000x256) was."""
    path = tmp_path_factory.mktemp("strip") / "strip.png"
    rng = np.random.default_rng(0)
    image_io.save_image(rng.uniform(0, 255, (16, 1200, 3)).astype(np.float32), path)
    return str(path)


def test_metanet_style_strip_refused_before_the_model_loads(tmp_path, strip):
    """Was: scaled to 128000x256; "out of memory ... use --tile or --max_size" after 95 s."""
    out = tmp_path / "out.png"
    result = run_command("keras_style.cli.transfer", f"--model={METANET}", f"--content={CONTENT_IMAGE}",
                         f"--style={strip}", f"--output={out}", timeout=60)
    line = assert_one_line_error(result, f"--style '{strip}' is 1200x16 (width x height)")
    assert "19200x256, over the limit of 4194304 pixels" in line and "64:1" in line
    assert "--tile" not in line and "--max_size" not in line
    assert not out.exists()


def test_metanet_library_refuses_a_strip_before_any_work(strip):
    model = _StubMetaNet()
    with pytest.raises(StyleError, match="the style image is 1200x16 .* over the limit of 4194304 pixels"):
        model.prepare_style([image_io.load_image(strip)])
    assert model.calls[metanet_inference.IMAGE_STATISTICS] == 0
    # Within the limit (64:1 at style size 256) a long style is resized and used.
    assert model.resize_style(np.zeros((4, 200, 3), np.float32)).shape == (256, 12800, 3)


@pytest.mark.parametrize("metadata, style_size", [({}, 100000), ({"style_size": 100000}, None), ({}, 8)])
def test_metanet_style_size_bounds(metadata, style_size):
    with pytest.raises(StyleError, match="the style size must be from 16 to 1024 pixels"):
        metanet_inference.MetaNetStylizer("m", metadata, style_size=style_size)


def test_adain_style_strip_refused(tmp_path, strip):
    """AdaIN scales styles to 512 px on the long side: this strip would be 512x7."""
    out = tmp_path / "out.png"
    result = run_command("keras_style.cli.transfer", f"--model={ADAIN_TFLITE}", f"--content={CONTENT_IMAGE}",
                         f"--style={strip}", f"--output={out}", timeout=60)
    assert_one_line_error(result, "short side would be 7 px, under 16: crop it to at most 32:1")
    assert not out.exists()


@pytest.mark.parametrize("config, message", [
    (dict(image_size=100000), "image_size must be from 32 to 8192 pixels, got 100000"),
    (dict(scales=[256, 100000]), "scales must be from 32 to 8192 pixels, got 100000"),
])
def test_gatys_sizes_bounded(config, message):
    from keras_style import gatys

    with pytest.raises(StyleError, match=message):
        gatys.GatysConfig(**config).validate()


@pytest.mark.parametrize("config, message", [
    (dict(image_size=100000), "image_size must be from 32 to 8192 pixels"),
    (dict(cell_size=100000), "cell_size must be from 8 to 8192 pixels"),
])
def test_evaluation_sizes_bounded(config, message):
    from keras_style.evaluation.evaluate import EvaluationConfig

    base = dict(content="c", style="s", methods=["gatys"], output_dir="o")
    with pytest.raises(StyleError, match=message):
        EvaluationConfig(**base, **config).validate()


@pytest.mark.parametrize("task, config", [
    ("keras_style.tasks.metanet:MetaNetConfig", dict(style_size=100000, content_data="c", style_data="s")),
    ("keras_style.tasks.fast_style:FastStyleConfig", dict(style_size=100000, style_image="s.jpg", content_data="c")),
])
def test_training_style_size_bounded(task, config):
    import importlib

    module, name = task.split(":")
    cls = getattr(importlib.import_module(module), name)
    fields = {f.name for f in __import__("dataclasses").fields(cls)}
    with pytest.raises(StyleError, match="style_size must be from 16 to 4096 pixels, got 100000"):
        cls(**{k: v for k, v in config.items() if k in fields}).validate()
