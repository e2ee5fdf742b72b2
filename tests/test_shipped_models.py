"""Golden-output checks for the shipped models in saved_models/."""

import numpy as np
import pytest

from conftest import CONTENT_IMAGE
from keras_style import image_io
from keras_style.inference import load_stylizer

SHIPPED = ["starry_night", "great_wave"]


@pytest.fixture(scope="module")
def content():
    return image_io.load_image(CONTENT_IMAGE, max_size=64)


@pytest.mark.parametrize("name", SHIPPED)
def test_saved_model_matches_golden_output(name, content):
    from conftest import REPO

    golden = image_io.load_image(f"{REPO}/tests/golden/{name}_astronaut64.png")
    out = load_stylizer(name).stylize(content)  # shipped name -> saved_models/NAME/saved_model
    assert out.shape == golden.shape == content.shape
    diff = np.abs(np.round(np.clip(out, 0, 255)) - golden)
    assert diff.max() <= 2.0 and diff.mean() <= 0.25  # CPU numerics may differ by a rounding step
    assert np.abs(out - content).mean() > 20  # it really restyles the photo


@pytest.mark.parametrize("name", SHIPPED)
def test_float16_tflite_matches_saved_model(name, content):
    saved = load_stylizer(name).stylize(content)
    lite = load_stylizer(name, format="tflite")
    assert lite.backend == "tflite"
    assert np.abs(lite.stylize(content) - saved).max() <= 2.0


def test_shipped_metanet_matches_golden_output(content):
    """The shipped MetaNet, Starry Night as the style: weights generated, then applied."""
    from conftest import REPO, STYLE_IMAGE

    golden = image_io.load_image(f"{REPO}/tests/golden/metanet_starry_night_astronaut64.png")
    stylizer = load_stylizer("metanet")
    out = stylizer.stylize(content, style=stylizer.prepare_style([image_io.load_image(STYLE_IMAGE)]))
    assert out.shape == golden.shape == content.shape
    diff = np.abs(np.round(np.clip(out, 0, 255)) - golden)
    assert diff.max() <= 2.0 and diff.mean() <= 0.25
    assert np.abs(out - content).mean() > 20
