"""The serving contract of every exported SavedModel: bad requests get InvalidArgument with
a readable message (shapes, ranks, finiteness, the decompression-bomb limit of
`stylize_bytes`), and the arbitrary-style models answer TF Hub's arbitrary-style call.

Each rule is checked on a tiny export of each kind and on the shipped models.
"""

import io
import os
import re
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from conftest import CONTENT_IMAGE, REPO, STYLE_IMAGE
from keras_style import image_io
from keras_style.errors import StyleError
from test_adain_export import shared_adain_saved_model
from test_export import shared_saved_model
from test_metanet_export import shared_metanet_saved_model

SHIPPED = os.path.join(REPO, "saved_models")
DEFAULT_LIMIT = image_io.DEFAULT_MAX_PIXELS


def _load(path):
    return tf.saved_model.load(path)


@pytest.fixture(scope="module")
def fast_models(tmp_path_factory):
    return {"tiny": _load(shared_saved_model(tmp_path_factory)),
            "shipped": _load(f"{SHIPPED}/starry_night/saved_model")}


@pytest.fixture(scope="module")
def adain_models(tmp_path_factory):
    return {"tiny": _load(shared_adain_saved_model(tmp_path_factory)), "shipped": _load(f"{SHIPPED}/adain/saved_model")}


@pytest.fixture(scope="module")
def metanet_models(tmp_path_factory):
    return {"tiny": _load(shared_metanet_saved_model(tmp_path_factory)),
            "shipped": _load(f"{SHIPPED}/metanet/saved_model")}


def assert_refused(call, message):
    """`call()` fails with InvalidArgument whose assertion text contains `message`."""
    with pytest.raises(tf.errors.InvalidArgumentError) as raised:
        call()
    text = str(raised.value)
    assert "assertion failed: [" + message in text, text
    return text


def _floats(shape, value=100.0):
    return tf.fill(shape, tf.constant(value, tf.float32))


def _png(image_or_size, mode="RGB"):
    image = image_or_size if isinstance(image_or_size, Image.Image) else Image.new(mode, image_or_size)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


# --- shapes, ranks, finiteness ---------------------------------------------------------


@pytest.mark.parametrize("which", ["tiny", "shipped"])
def test_fast_style_refuses_bad_requests(fast_models, which):
    signatures = fast_models[which].signatures
    # Was: a [1, 1, 56, 3] "image" for this rank-5 input.
    assert_refused(lambda: signatures["serving_default"](images=tf.zeros([1, 1, 64, 64, 3], tf.uint8)),
                   "images: expected uint8 [N, H, W, 3] RGB images; got shape [1 1 64 64 3]")
    assert_refused(lambda: signatures["serving_default"](images=tf.zeros([64, 64, 3], tf.uint8)),
                   "images: expected uint8 [N, H, W, 3] RGB images; got shape [64 64 3]")
    assert_refused(lambda: signatures["stylize_float"](images=_floats([1, 8, 8, 4])),
                   "images: expected float32 [N, H, W, 3] RGB images in [0, 255]; got shape [1 8 8 4]")
    # Was: an all-NaN picture.
    for bad in (np.nan, np.inf):
        image = np.full([1, 8, 8, 3], 100.0, np.float32)
        image[0, 3, 4, 1] = bad
        assert_refused(lambda: signatures["stylize_float"](images=tf.constant(image)),
                       "images: has NaN or infinite values")
    assert_refused(lambda: signatures["stylize_bytes"](image_bytes=tf.constant([[_png((8, 8))]])),
                   "image_bytes: expected string [N] (one encoded image each); got shape [1 1]")
    # A good request still works.
    out = signatures["stylize_float"](images=_floats([1, 9, 7, 3]))["stylized"]
    assert out.shape == (1, 9, 7, 3) and np.all(np.isfinite(out.numpy()))


@pytest.mark.parametrize("which", ["tiny", "shipped"])
def test_adain_refuses_bad_requests(adain_models, which):
    signatures = adain_models[which].signatures
    content = _floats([1, 32, 32, 3])
    statistics = signatures["style_encode"](style=_floats([1, 32, 32, 3], 50.0))["style_statistics"]
    uint8 = tf.zeros([1, 32, 32, 3], tf.uint8)

    def stylize(alpha=(0.5,), statistics=statistics, content=content):
        return signatures["stylize"](content=content, style_statistics=statistics,
                                     alpha=tf.constant(alpha, tf.float32))

    # Was: a flat grey picture.
    assert_refused(lambda: stylize(alpha=[np.nan]), "alpha: has NaN or infinite values")
    assert_refused(lambda: signatures["serving_default"](content=uint8, style=uint8, alpha=tf.constant([np.nan])),
                   "alpha: has NaN or infinite values")
    # Was: two pictures.
    assert_refused(lambda: stylize(alpha=[0.5, 0.5]),
                   "alpha: expected float32 [1], the style strength from 0 to 1; got shape [2]")
    assert_refused(lambda: signatures["serving_default"](content=uint8, style=uint8, alpha=tf.constant([0.5, 0.5])),
                   "alpha: expected float32 [1]")
    # Was: a flat picture.
    assert_refused(lambda: stylize(statistics=statistics * np.nan), "style_statistics: has NaN or infinite values")
    assert_refused(lambda: stylize(statistics=statistics[:, :10]),
                   "style_statistics: expected float32 [1, 1024] (the style_encode output: channel means, then "
                   "standard deviations); got shape [1 10]")
    assert_refused(lambda: stylize(content=_floats([2, 32, 32, 3])),
                   "content: expected float32 [1, H, W, 3] RGB images in [0, 255]; got shape [2 32 32 3]")
    assert_refused(lambda: signatures["style_encode"](style=_floats([1, 1, 32, 32, 3])),
                   "style: expected float32 [1, H, W, 3] RGB images in [0, 255]; got shape [1 1 32 32 3]")
    assert_refused(lambda: signatures["serving_default"](content=uint8, style=tf.zeros([2, 32, 32, 3], tf.uint8),
                                                         alpha=tf.constant([0.5])),
                   "style: expected uint8 [1, H, W, 3] RGB images; got shape [2 32 32 3]")
    two = tf.concat([statistics, statistics], 0)

    def masked(masks, weights=(1.0, 1.0)):
        return signatures["stylize_masked"](content=content, style_statistics=two, masks=masks,
                                            style_weights=tf.constant(weights, tf.float32), alpha=tf.constant([1.0]))

    assert_refused(lambda: masked(_floats([1, 32, 32, 3], 0.5)), "masks: expected float32 [1, H, W, K]")
    assert_refused(lambda: masked(_floats([1, 16, 32, 2], 0.5)), "masks: expected float32 [1, H, W, K]")
    assert_refused(lambda: masked(_floats([1, 32, 32, 2], 2.0)), "masks: values must be in [0, 1]")
    assert_refused(lambda: masked(_floats([1, 32, 32, 2], 0.5), (1.0, -1.0)), "style_weights: has negative values")
    assert_refused(lambda: masked(_floats([1, 32, 32, 2], 0.5), (1.0,)), "style_weights: expected float32 [K]")
    assert_refused(lambda: signatures["stylize_bytes"](
                       content_bytes=tf.constant([_png((8, 8))] * 2), style_bytes=tf.constant([_png((8, 8))]),
                       alpha=tf.constant([1.0])),
                   "content_bytes: expected string [1] (one encoded image); got shape [2]")
    out = stylize()["stylized"].numpy()
    assert out.shape == (1, 32, 32, 3) and np.all(np.isfinite(out))
    assert masked(_floats([1, 32, 32, 2], 0.5))["stylized"].shape == (1, 32, 32, 3)


@pytest.mark.parametrize("which", ["tiny", "shipped"])
def test_metanet_refuses_bad_requests(metanet_models, which):
    signatures = metanet_models[which].signatures
    content = _floats([1, 32, 32, 3])
    weights = signatures["style_to_weights"](style=_floats([1, 48, 48, 3], 50.0))["weights"]
    size = int(weights.shape[1])
    # Was: an all-NaN picture.
    assert_refused(lambda: signatures["stylize_with_weights"](content=content, weights=weights * np.nan),
                   "weights: has NaN or infinite values")
    assert_refused(lambda: signatures["stylize_with_weights"](content=content, weights=weights[:, :10]),
                   f"weights: expected float32 [1, {size}] (the style_to_weights output); got shape [1 10]")
    assert_refused(lambda: signatures["stylize_with_weights"](content=_floats([32, 32, 3]), weights=weights),
                   "content: expected float32 [N, H, W, 3] RGB images in [0, 255]; got shape [32 32 3]")
    assert_refused(lambda: signatures["style_to_weights"](style=_floats([1, 48, 48, 3], np.inf)),
                   "style: has NaN or infinite values")
    assert_refused(lambda: signatures["statistics_to_weights"](statistics=_floats([1, 1920], np.nan)),
                   "statistics: has NaN or infinite values")
    assert_refused(lambda: signatures["image_statistics"](image=_floats([2, 16, 16, 3])),
                   "image: expected float32 [1, H, W, 3] RGB images in [0, 255]; got shape [2 16 16 3]")
    assert_refused(lambda: signatures["serving_default"](content=tf.zeros([1, 16, 16, 3], tf.uint8),
                                                         style=tf.zeros([1, 1, 16, 16, 3], tf.uint8)),
                   "style: expected uint8 [1, H, W, 3] RGB images; got shape [1 1 16 16 3]")
    out = signatures["stylize_with_weights"](content=_floats([2, 32, 32, 3]), weights=weights)["stylized"]
    assert out.shape == (2, 32, 32, 3) and np.all(np.isfinite(out.numpy()))


def test_precision_copies_keep_the_checks_and_the_hub_call(tmp_path_factory, tmp_path):
    from keras_style.export.serving_precision import export_in_precision

    copy = export_in_precision(shared_adain_saved_model(tmp_path_factory), str(tmp_path / "bf16"), "mixed_bfloat16",
                               weights_dtype="float16")
    loaded = _load(copy)
    statistics = loaded.signatures["style_encode"](style=_floats([1, 32, 32, 3], 50.0))["style_statistics"]
    assert_refused(lambda: loaded.signatures["stylize"](content=_floats([1, 32, 32, 3]), style_statistics=statistics,
                                                        alpha=tf.constant([np.nan])),
                   "alpha: has NaN or infinite values")
    out = loaded(_floats([1, 16, 16, 3], 0.5), _floats([1, 16, 16, 3], 0.2))[0]
    assert out.shape == (1, 16, 16, 3) and np.all(np.isfinite(out.numpy()))


# --- the decompression-bomb limit of stylize_bytes -------------------------------------


def _png_bomb(path, side=12000):
    """A PNG of side x side pixels in a few hundred KB: 1-bit pixels, never decoded here."""
    image = Image.new("1", (side, side))
    image.paste(1, (0, 0, side, side // 3))  # not all one colour
    image.save(path, format="PNG", optimize=True)
    return path


def _jpeg_claiming(width, height):
    """A small JPEG whose frame header (SOF0) claims width x height."""
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(buffer, format="JPEG")
    data = bytearray(buffer.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5: sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


BOMB_SCRIPT = r"""
import resource, sys, time
import tensorflow as tf
model = tf.saved_model.load(sys.argv[1])
data = open(sys.argv[2], "rb").read()
model.signatures["stylize_bytes"](image_bytes=tf.constant([open(sys.argv[3], "rb").read()]))  # warm: traced once
print("WARM_MAXRSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
start = time.monotonic()
try:
    model.signatures["stylize_bytes"](image_bytes=tf.constant([data]))
    print("NOT REFUSED")
except tf.errors.InvalidArgumentError as e:
    print("REFUSED", " ".join(str(e).split()))
print("SECONDS", time.monotonic() - start)
print("MAXRSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def test_shipped_stylize_bytes_refuses_a_png_bomb_fast_with_little_memory(tmp_path):
    """Was: 5.5 GB resident, then SIGSEGV. Refused from the PNG header, before decoding."""
    bomb = _png_bomb(tmp_path / "bomb.png")
    assert os.path.getsize(bomb) < 1_000_000
    small = tmp_path / "small.png"
    small.write_bytes(_png((24, 16)))
    result = subprocess.run([sys.executable, "-c", BOMB_SCRIPT, f"{SHIPPED}/starry_night/saved_model", str(bomb),
                             str(small)],
                            capture_output=True, text=True, timeout=300, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)
    assert "REFUSED" in lines, result.stdout + result.stderr
    expected = (f"image_bytes: the image is 12000 x 12000 (width x height) = 144000000 pixels, over the limit of "
                f"{DEFAULT_LIMIT} pixels this model was exported with (style_export --max_image_pixels)")
    assert expected in lines["REFUSED"], lines["REFUSED"]
    assert float(lines["SECONDS"]) < 2.0  # decoding it alone took longer, the network minutes
    # The request adds nothing to the peak that loading and a first small request reached
    # (that varies with the machine); decoding the bomb would add 144 MB (1-bit as uint8
    # grey), and 1.7 GB as float32 RGB.
    assert int(lines["MAXRSS_KB"]) - int(lines["WARM_MAXRSS_KB"]) < 50_000, lines


def test_stylize_bytes_refuses_over_the_limit_from_headers(fast_models, adain_models, tmp_path):
    bomb = open(_png_bomb(tmp_path / "bomb.png"), "rb").read()
    fast_models["tiny"].signatures["stylize_bytes"](image_bytes=tf.constant([_png((24, 16))]))  # traced once
    start = time.monotonic()
    assert_refused(lambda: fast_models["tiny"].signatures["stylize_bytes"](image_bytes=tf.constant([bomb])),
                   "image_bytes: the image is 12000 x 12000 (width x height) = 144000000 pixels")
    assert time.monotonic() - start < 2.0
    jpeg = _jpeg_claiming(15000, 10000)
    assert image_io.decode_image_bytes(_jpeg_claiming(16, 16)).shape == (16, 16, 3)  # a valid JPEG
    small = _png((16, 16))
    for which in ("tiny", "shipped"):
        signatures = adain_models[which].signatures
        assert_refused(lambda: signatures["stylize_bytes"](content_bytes=tf.constant([jpeg]),
                                                           style_bytes=tf.constant([small]), alpha=tf.constant([1.0])),
                       "content_bytes: the image is 15000 x 10000 (width x height) = 150000000 pixels, over the "
                       f"limit of {DEFAULT_LIMIT}")
        assert_refused(lambda: signatures["stylize_bytes"](content_bytes=tf.constant([small]),
                                                           style_bytes=tf.constant([bomb]), alpha=tf.constant([1.0])),
                       "style_bytes: the image is 12000 x 12000")


def test_the_pixel_limit_is_set_at_export_and_kept_by_copies(tmp_path):
    import keras

    from keras_style.export import export_fast_style_model
    from keras_style.export.serving_precision import export_in_precision
    from keras_style.inference.model_spec import read_metadata
    from keras_style.models import TransformNet

    keras.utils.set_random_seed(0)
    net = TransformNet(base=4)
    path = export_fast_style_model(net, tmp_path / "limited", max_image_pixels=1000)
    assert read_metadata(path)["max_image_pixels"] == 1000
    too_big, fits = _png((40, 40)), _png((25, 40))
    gif = io.BytesIO()
    Image.new("P", (50, 30)).save(gif, format="GIF")
    for image, message in ((too_big, "40 x 40 (width x height) = 1600 pixels, over the limit of 1000 pixels"),
                           (gif.getvalue(), "50 x 30 (width x height) = 1500 pixels, over the limit of 1000")):
        assert_refused(lambda: _load(path).signatures["stylize_bytes"](image_bytes=tf.constant([image])),
                       f"image_bytes: the image is {message}")
    out = _load(path).signatures["stylize_bytes"](image_bytes=tf.constant([fits]))["stylized_bytes"].numpy()[0]
    assert Image.open(io.BytesIO(out)).size == (25, 40)
    # A copy keeps the limit unless told otherwise.
    kept = export_in_precision(path, str(tmp_path / "kept"), "float32", weights_dtype="float16")
    assert read_metadata(kept)["max_image_pixels"] == 1000
    assert_refused(lambda: _load(kept).signatures["stylize_bytes"](image_bytes=tf.constant([too_big])),
                   "image_bytes: the image is 40 x 40")
    raised = export_in_precision(path, str(tmp_path / "raised"), "float32", max_image_pixels=2000)
    assert read_metadata(raised)["max_image_pixels"] == 2000
    assert _load(raised).signatures["stylize_bytes"](image_bytes=tf.constant([too_big]))["stylized_bytes"].shape == (1,)
    assert read_metadata(export_fast_style_model(net, tmp_path / "default"))["max_image_pixels"] == DEFAULT_LIMIT
    for bad in (0, -5, 2.5, True):
        with pytest.raises(StyleError, match=re.escape("max_image_pixels")):
            export_fast_style_model(net, tmp_path / "bad", max_image_pixels=bad)
    assert not (tmp_path / "bad").exists()


def test_style_export_sets_the_pixel_limit(tmp_path_factory, tmp_path):
    from conftest import assert_one_line_error, run_command
    from keras_style.inference.model_spec import read_metadata

    source = shared_saved_model(tmp_path_factory)
    result = run_command("keras_style.cli.export", f"--saved_model={source}", f"--export_dir={tmp_path / 'copy'}",
                         "--max_image_pixels=4000000")
    assert result.returncode == 0, result.stderr
    assert read_metadata(str(tmp_path / "copy"))["max_image_pixels"] == 4_000_000
    result = run_command("keras_style.cli.export", f"--saved_model={source}", f"--export_dir={tmp_path / 'bad'}",
                         "--max_image_pixels=0")
    assert_one_line_error(result, "max_image_pixels")
    assert not (tmp_path / "bad").exists()


# --- TF Hub: the arbitrary-style tutorial's calling code -------------------------------


def _tutorial_inputs():
    """Content and style as TensorFlow's "Fast style transfer for arbitrary styles" makes
    them: float32 in [0, 1], [1, H, W, 3]; the style resized to 256 x 256 and smoothed."""
    content = tf.constant(image_io.load_image(CONTENT_IMAGE, max_size=128)[None] / 255.0, tf.float32)
    style = tf.constant(image_io.load_image(STYLE_IMAGE, max_size=384)[None] / 255.0, tf.float32)
    style = tf.image.resize(style, (256, 256))
    style = tf.nn.avg_pool(style, ksize=[3, 3], strides=[1, 1], padding="SAME")
    return content, style


# max |hub - stylizer| on the [0, 1] scale: the same weights and graph in float32, so it
# measured float rounding only (6e-8 for both models); the bound leaves room for other CPUs.
HUB_TOLERANCE = 1e-4


@pytest.mark.parametrize("name", ["adain", "metanet"])
def test_tf_hub_tutorial_code_runs_on_the_shipped_models(name):
    hub = pytest.importorskip("tensorflow_hub")
    from keras_style.inference import load_stylizer

    content_image, style_image = _tutorial_inputs()
    hub_module = hub.load(f"{SHIPPED}/{name}/saved_model")
    outputs = hub_module(tf.constant(content_image), tf.constant(style_image))
    stylized_image = outputs[0]
    assert stylized_image.shape == content_image.shape == (1, 128, 128, 3)
    out = stylized_image.numpy()
    assert out.min() >= 0.0 and out.max() <= 1.0
    # What style_transfer computes (without its palette step), at the model's default alpha.
    stylizer = load_stylizer(f"{SHIPPED}/{name}/saved_model", format="saved_model")
    style = stylizer.prepare_style([style_image.numpy()[0] * 255.0])
    expected = np.clip(stylizer.stylize(content_image.numpy()[0] * 255.0, style=style), 0.0, 255.0) / 255.0
    assert np.abs(out[0] - expected).max() <= HUB_TOLERANCE
    assert np.abs(out[0] - content_image.numpy()[0]).mean() > 0.05  # it restyles the photo
    assert_refused(lambda: hub_module(content_image * 255.0, style_image),
                   "content: values must be in [0, 1] (float images; divide 0..255 pixels by 255)")
