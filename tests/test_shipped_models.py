"""Golden-output checks for the shipped models in saved_models/."""

import numpy as np
import pytest

from conftest import CONTENT_IMAGE
from keras_style import image_io
from keras_style.inference import load_stylizer

SHIPPED = ["starry_night", "great_wave", "auvers", "hokusai_bridge"]


@pytest.fixture(scope="module")
def content():
    return image_io.load_image(CONTENT_IMAGE, max_size=64)


def assert_matches_golden(out, golden_name, content):
    """`out` is within a rounding step of tests/golden/GOLDEN_NAME and really restyles `content`."""
    from conftest import REPO

    golden = image_io.load_image(f"{REPO}/tests/golden/{golden_name}")
    assert out.shape == golden.shape == content.shape
    diff = np.abs(np.round(np.clip(out, 0, 255)) - golden)
    assert diff.max() <= 2.0 and diff.mean() <= 0.25  # CPU numerics may differ by a rounding step
    assert np.abs(out - content).mean() > 20  # it really restyles the photo


@pytest.mark.parametrize("name", SHIPPED)
def test_saved_model_matches_golden_output(name, content):
    out = load_stylizer(name).stylize(content)  # shipped name -> saved_models/NAME/saved_model
    assert_matches_golden(out, f"{name}_astronaut64.png", content)


@pytest.mark.parametrize("name", SHIPPED)
def test_float16_tflite_matches_saved_model(name, content):
    saved = load_stylizer(name).stylize(content)
    lite = load_stylizer(name, format="tflite")
    assert lite.backend == "tflite"
    assert np.abs(lite.stylize(content) - saved).max() <= 2.0


def test_shipped_adain_matches_golden_output_and_its_tflite_pair(content):
    """The shipped AdaIN decoder, Starry Night as the style (alpha 1), as a SavedModel and
    as the float16 TFLite pair; given no alpha, both run at the recorded default, 0.6
    (the alpha chosen on training images, saved_models/README.md)."""
    from conftest import STYLE_IMAGE

    style = [image_io.load_image(STYLE_IMAGE)]
    stylizer = load_stylizer("adain")
    prepared = stylizer.prepare_style(style)
    out = stylizer.stylize(content, style=prepared, alpha=1.0)
    assert_matches_golden(out, "adain_starry_night_astronaut64.png", content)
    lite = load_stylizer("adain", format="tflite")
    assert lite.backend == "tflite"
    lite_prepared = lite.prepare_style(style)
    assert np.abs(lite.stylize(content, style=lite_prepared, alpha=1.0) - out).max() <= 3.0
    assert stylizer.default_alpha == lite.default_alpha == 0.6
    default = stylizer.stylize(content, style=prepared)
    np.testing.assert_array_equal(default, stylizer.stylize(content, style=prepared, alpha=0.6))
    assert np.abs(default - out).mean() > 5.0
    assert np.abs(lite.stylize(content, style=lite_prepared) - default).max() <= 3.0


def test_shipped_metanet_matches_golden_output(content):
    """The shipped MetaNet, Starry Night as the style: weights generated, then applied."""
    from conftest import STYLE_IMAGE

    stylizer = load_stylizer("metanet")
    out = stylizer.stylize(content, style=stylizer.prepare_style([image_io.load_image(STYLE_IMAGE)]))
    assert_matches_golden(out, "metanet_starry_night_astronaut64.png", content)


@pytest.mark.parametrize("name", ["great_wave", "adain"])
def test_stylize_bytes_composites_alpha_onto_white(name, content):
    """TF Serving's bytes signature treats transparency as the commands do: onto white."""
    import io

    import tensorflow as tf
    from PIL import Image

    from conftest import REPO, STYLE_IMAGE

    rgba = np.concatenate([content, np.full(content.shape[:2] + (1,), 255.0)], axis=-1).astype(np.uint8)
    rgba[:, : rgba.shape[1] // 2, 3] = 0  # left half transparent, over the photo's own colours
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG")
    white = content.copy()
    white[:, : white.shape[1] // 2] = 255.0
    model = tf.saved_model.load(f"{REPO}/saved_models/{name}/saved_model")
    if name == "adain":
        style = image_io.load_image(STYLE_IMAGE, max_size=64)
        style_png = image_io.encode_image(style, "PNG")
        args = {"content_bytes": tf.constant([buffer.getvalue()]), "style_bytes": tf.constant([style_png]),
                "alpha": tf.constant([1.0])}
        expected_args = {"content": tf.constant(white[None].astype(np.uint8)),
                         "style": tf.constant(np.round(style)[None].astype(np.uint8)), "alpha": tf.constant([1.0])}
    else:
        args = {"image_bytes": tf.constant([buffer.getvalue()])}
        expected_args = {"images": tf.constant(white[None].astype(np.uint8))}
    out = model.signatures["stylize_bytes"](**args)["stylized_bytes"].numpy()[0]
    got = np.asarray(Image.open(io.BytesIO(out)).convert("RGB"), np.float32)
    expected = model.signatures["serving_default"](**expected_args)["stylized"].numpy()[0].astype(np.float32)
    assert np.abs(got - expected).max() <= 1.0


def test_stylize_bytes_turns_phone_jpegs_upright():
    """A JPEG with EXIF orientation 6 (a phone held upright) comes back upright from the
    shipped fast-style SavedModel's bytes signature, as `style_transfer` writes it."""
    import io

    import tensorflow as tf
    from PIL import Image

    from conftest import REPO

    photo = image_io.load_image(CONTENT_IMAGE, max_size=64)[:, :48]  # 64 x 48, not square
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    Image.fromarray(np.round(photo).astype(np.uint8)).save(buffer, format="JPEG", quality=95, exif=exif)
    model = tf.saved_model.load(f"{REPO}/saved_models/great_wave/saved_model")
    out = model.signatures["stylize_bytes"](image_bytes=tf.constant([buffer.getvalue()]))["stylized_bytes"]
    got = np.asarray(Image.open(io.BytesIO(out.numpy()[0])).convert("RGB"), np.float32)
    assert got.shape == image_io.decode_image_bytes(buffer.getvalue()).shape == (48, 64, 3)  # as the commands
    # The same decoded pixels turned 90 degrees clockwise by hand (TF's and Pillow's JPEG
    # decoders differ by a few levels, which the network amplifies).
    upright = np.rot90(tf.io.decode_jpeg(buffer.getvalue()).numpy(), k=-1)
    expected = model.signatures["serving_default"](images=tf.constant(np.ascontiguousarray(upright)[None]))
    assert np.abs(got - expected["stylized"].numpy()[0]).max() <= 2.0


# The repository ships its models in git: saved_models/ stays within this many bytes
# (float16 weights keep it there; see saved_models/README.md).
SIZE_BUDGET_MB = 120


def test_saved_models_fit_the_repository_size_budget():
    import os
    import subprocess

    from conftest import REPO

    listed = subprocess.run(["git", "ls-files", "-z", "saved_models"], cwd=REPO, capture_output=True, check=False)
    if listed.returncode != 0 or not listed.stdout:
        pytest.skip("not a git checkout: the budget is of the files git tracks")
    files = [name for name in listed.stdout.decode().split("\0") if name]
    total = sum(os.path.getsize(os.path.join(REPO, name)) for name in files if os.path.exists(os.path.join(REPO, name)))
    assert total / 1e6 <= SIZE_BUDGET_MB, f"saved_models/ holds {total / 1e6:.1f} MB"
    assert any(name.startswith("saved_models/metanet/") for name in files)  # the budget counts every model
