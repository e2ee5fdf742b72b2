"""Bulk stylization on Apache Beam's DirectRunner (style_batch), with a tiny fast-style model.

Needs apache-beam (`pip install 'keras-style[beam]'`); the tests that need it are
skipped with that reason when it is missing. The missing-Beam error itself is
tested either way.
"""

import importlib.util
import os
import sys

import numpy as np
import pytest

from conftest import CONTENT_IMAGE, REPO, STYLE_IMAGE, assert_one_line_error, run_command

requires_beam = pytest.mark.skipif(
    importlib.util.find_spec("apache_beam") is None,
    reason="apache-beam is not installed (pip install 'keras-style[beam]')",
)
GOOD = ("one", "two", "three")
SIZES = ((24, 32), (40, 20), (33, 47))  # odd sizes too: the model pads and crops inside


@pytest.fixture(scope="module")
def fast_model(tmp_path_factory):
    """A tiny fast-style SavedModel (TransformNet base 4, random weights)."""
    import keras

    from keras_style.export.fast_style import export_fast_style_model
    from keras_style.models import TransformNet

    keras.utils.set_random_seed(0)
    return export_fast_style_model(TransformNet(base=4), tmp_path_factory.mktemp("beam_model") / "saved_model")


@pytest.fixture
def inputs(tmp_path):
    """A folder with three small images and one corrupt JPEG."""
    from keras_style import image_io

    folder = tmp_path / "in"
    folder.mkdir()
    photo = image_io.load_image(CONTENT_IMAGE, max_size=64)
    for name, (h, w) in zip(GOOD, SIZES):
        image_io.save_image(image_io.resize_image(photo, (h, w)), folder / f"{name}.png")
    (folder / "broken.jpg").write_bytes(open(CONTENT_IMAGE, "rb").read()[:400])
    return folder


@requires_beam
def test_pipeline_writes_good_images_and_reports_the_bad_one(fast_model, inputs, tmp_path):
    from keras_style import image_io
    from keras_style.batch.beam_pipeline import BatchConfig, run_batch

    out = tmp_path / "out"
    result = run_batch(BatchConfig(input=str(inputs), model=fast_model, output_dir=str(out)),
                       ["--runner=DirectRunner"])
    assert (result["inputs"], result["stylized"], result["bad_images"], result["failed_images"]) == (4, 3, 1, 0)
    assert [path for path, _ in result["failures"]] == [str(inputs / "broken.jpg")]
    assert "corrupt or truncated" in result["failures"][0][1]
    assert sorted(p.name for p in out.glob("*.png")) == sorted(f"{n}.png" for n in GOOD)
    for name, size in zip(GOOD, SIZES):
        assert image_io.load_image(out / f"{name}.png").shape == (*size, 3)
    assert not [p for p in os.listdir(out) if p.startswith(".")]  # no temporary files left

    # Never overwrites without being asked, and says so before running anything.
    from keras_style.errors import StyleError

    with pytest.raises(StyleError, match="exists; pass --overwrite"):
        run_batch(BatchConfig(input=str(inputs), model=fast_model, output_dir=str(out)))


@requires_beam
def test_model_handler_signatures_agree(fast_model):
    from apache_beam.ml.inference.base import PredictionResult

    from keras_style.batch.model_handler import StyleModelHandler

    image = np.random.default_rng(0).uniform(0, 255, (21, 30, 3)).astype(np.float32)
    float_handler = StyleModelHandler(fast_model)
    (result,) = list(float_handler.run_inference([image], float_handler.load_model()))
    assert isinstance(result, PredictionResult) and result.inference.shape == image.shape
    uint8_handler = StyleModelHandler(fast_model, signature="serving_default")
    (rounded,) = list(uint8_handler.run_inference([np.rint(image)], uint8_handler.load_model()))
    expected = np.rint(np.clip(float_handler.load_model()(np.rint(image)), 0, 255))
    np.testing.assert_allclose(rounded.inference, expected, atol=1.0)


@requires_beam
def test_model_handler_palette_step_for_any_style_models():
    """The shipped AdaIN through the handler: the palette step (default) is the style's
    colour map applied to what --nostyle_palette gives."""
    from keras_style import image_io
    from keras_style.batch.model_handler import StyleModelHandler
    from keras_style.inference.style_palette import StylePalette

    model_dir = os.path.join(REPO, "saved_models", "adain", "saved_model")
    style = np.clip(image_io.resize_long_side(image_io.load_image(STYLE_IMAGE), 64), 0, 255)
    image = np.clip(image_io.resize_image(image_io.load_image(CONTENT_IMAGE), (40, 48)), 0, 255)
    raw = StyleModelHandler(model_dir, style=style, style_palette=False).load_model()(image)
    coloured = StyleModelHandler(model_dir, style=style).load_model()(image)
    np.testing.assert_allclose(coloured, StylePalette.of([style], [1.0]).apply(raw), atol=1e-3)
    assert np.abs(coloured - raw).mean() > 5.0


@requires_beam
def test_style_batch_command(fast_model, inputs, tmp_path):
    out = tmp_path / "out"
    result = run_command("keras_style.cli.batch", f"--input={inputs}", f"--model={fast_model}",
                         f"--output_dir={out}", "--output_format=jpg", "--runner=DirectRunner")
    assert result.returncode == 0, result.stderr
    assert "stylized 3 of 4 image(s)" in result.stderr and "1 bad image(s)" in result.stderr
    assert "broken.jpg" in result.stderr
    assert sorted(p.name for p in out.glob("*.jpg")) == sorted(f"{n}.jpg" for n in GOOD)
    assert "broken.jpg" in (out / "style_batch_failures.txt").read_text()


@requires_beam
@pytest.mark.parametrize(
    "args, message",
    [
        (["--input={tmp}/missing"], "not found"),
        (["--model={tmp}/no_model"], "not found"),
        (["--style=" + STYLE_IMAGE], "fixed-style model"),
        (["--output_format=gif"], "unknown --output_format"),
        (["--runner=DirectRunner", "--no_such_option=1"], "unknown flag --no_such_option"),
        # The failures list is written on every run: never over a folder, an image or a user's file.
        (["--failures_file={tmp}/in"], "is a directory; pass a file path such as"),
        (["--failures_file={tmp}/in/one.png"], "--failures_file '{tmp}/in/one.png' is an input image"),
        (["--failures_file={tmp}/out/two.png"], "--failures_file '{tmp}/out/two.png' is an output image"),
        (["--failures_file={tmp}/notes.txt"], "--failures_file '{tmp}/notes.txt' exists; pass --overwrite"),
    ],
)
def test_style_batch_bad_input_is_one_error_line(fast_model, inputs, tmp_path, args, message):
    (tmp_path / "notes.txt").write_text("keep")
    defaults = {"--input": str(inputs), "--model": fast_model, "--output_dir": str(tmp_path / "out")}
    given = [a.format(tmp=tmp_path) for a in args]
    for a in given:
        defaults.pop(a.split("=")[0], None)
    result = run_command("keras_style.cli.batch", *[f"{k}={v}" for k, v in defaults.items()], *given)
    assert_one_line_error(result, message.format(tmp=tmp_path))
    assert not (tmp_path / "out").exists()  # not even the output directory is created
    assert (tmp_path / "notes.txt").read_text() == "keep"
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == sorted([*(f"{n}.png" for n in GOOD), "broken.jpg"])


def test_style_batch_without_beam_names_the_extra(tmp_path):
    # Simulates an environment without apache-beam, whether or not this one has it.
    code = (
        "import sys; sys.modules['apache_beam'] = None\n"
        "from keras_style.cli import batch\n"
        # a real model: inputs are checked before Beam is imported
        f"sys.argv = ['style_batch', '--input={CONTENT_IMAGE}', '--model=great_wave', '--output_dir={tmp_path}']\n"
        "batch.run()\n"
    )
    import subprocess

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120,
                            env=dict(os.environ))
    assert_one_line_error(result, "pip install 'keras-style[beam]'")
