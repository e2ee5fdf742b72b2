"""A model's default style strength: `style_export --default_alpha` records it in
`keras_style.json`; `Stylizer.stylize`, `style_transfer` and `style_batch` use it when
given no alpha, and an explicit alpha still wins."""

import os

import numpy as np
import pytest
from conftest import CONTENT_IMAGE, REPO, STYLE_IMAGE, assert_one_line_error, run_command
from test_adain_export import shared_adain_saved_model
from test_metanet_export import shared_metanet_saved_model

from keras_style import image_io
from keras_style.errors import StyleError
from keras_style.export.serving_precision import export_in_precision
from keras_style.inference import load_stylizer
from keras_style.inference.model_spec import read_metadata
from keras_style.inference.stylizer import DEFAULT_ALPHA_KEY


@pytest.fixture(scope="module")
def adain_at_06(tmp_path_factory, vgg19_weights_path):
    source = shared_adain_saved_model(tmp_path_factory)
    return export_in_precision(source, str(tmp_path_factory.mktemp("adain06") / "saved_model"), "float32",
                               default_alpha=0.6)


@pytest.fixture(scope="module")
def images():
    return image_io.load_image(CONTENT_IMAGE, max_size=48), image_io.load_image(STYLE_IMAGE, max_size=48)


def test_adain_copy_runs_at_its_default_alpha_unless_told(adain_at_06, images, tmp_path_factory):
    content, style = images
    assert read_metadata(adain_at_06)[DEFAULT_ALPHA_KEY] == 0.6
    stylizer = load_stylizer(adain_at_06)
    assert stylizer.default_alpha == 0.6
    prepared = stylizer.prepare_style([style])
    default = stylizer.stylize(content, style=prepared)
    np.testing.assert_array_equal(default, stylizer.stylize(content, style=prepared, alpha=0.6))
    full = stylizer.stylize(content, style=prepared, alpha=1.0)
    assert np.abs(default - full).mean() > 1.0  # alpha 0.6 is another picture, not alpha 1
    # The original records none: full strength, as before.
    original = load_stylizer(shared_adain_saved_model(tmp_path_factory))
    assert original.default_alpha == 1.0
    np.testing.assert_allclose(original.stylize(content, style=original.prepare_style([style])), full, atol=1e-3)


def test_copies_keep_the_default_alpha_and_bad_values_write_nothing(adain_at_06, tmp_path):
    again = export_in_precision(adain_at_06, str(tmp_path / "again"), "float32", weights_dtype="float16")
    assert read_metadata(again)[DEFAULT_ALPHA_KEY] == 0.6
    with pytest.raises(StyleError, match=r"alpha must be in \[0, 1\], got 1.5"):
        export_in_precision(adain_at_06, str(tmp_path / "bad"), "float32", default_alpha=1.5)
    fast = os.path.join(REPO, "saved_models", "great_wave", "saved_model")
    with pytest.raises(StyleError, match="fixed-style .* a default alpha needs an arbitrary-style model"):
        export_in_precision(fast, str(tmp_path / "fast"), "float32", default_alpha=0.5)
    assert not (tmp_path / "bad").exists() and not (tmp_path / "fast").exists()


def test_a_bad_recorded_default_alpha_is_one_error(adain_at_06):
    from keras_style.inference.adain import AdaINSavedModelStylizer

    stylizer = AdaINSavedModelStylizer(adain_at_06, metadata={**read_metadata(adain_at_06), DEFAULT_ALPHA_KEY: 2})
    with pytest.raises(StyleError, match=r"alpha must be in \[0, 1\], got 2"):
        stylizer.default_alpha


def test_metanet_default_alpha_and_styles_prepared_for_one_image(tmp_path_factory, tmp_path, images):
    content, style = images
    copy = export_in_precision(shared_metanet_saved_model(tmp_path_factory), str(tmp_path / "m"), "float32",
                               default_alpha=0.4)
    stylizer = load_stylizer(copy)
    assert stylizer.default_alpha == 0.4
    prepared = stylizer.prepare_style([stylizer.resize_style(style)])
    # The seeded model's style part starts at zero (its output does not depend on the
    # style yet), so the strength used is read from the filters generated, not the picture.
    asked = []
    generate = stylizer.style_for_content
    stylizer.style_for_content = lambda s, c, alpha, tile=None: asked.append(alpha) or generate(s, c, alpha, tile)
    default = stylizer.stylize(content, style=prepared)
    np.testing.assert_array_equal(default, stylizer.stylize(content, style=prepared, alpha=0.4))
    stylizer.stylize(content, style=prepared, alpha=1.0)
    assert asked == [0.4, 0.4]  # alpha 1 generates nothing per image
    # A style already bound to this image at another strength keeps that strength.
    bound = generate(prepared, content, 0.8)
    stylizer.stylize(content, style=bound)
    assert asked == [0.4, 0.4]


def test_style_transfer_and_style_batch_use_the_default_and_say_so(adain_at_06, tmp_path):
    common = [f"--model={adain_at_06}", f"--content={CONTENT_IMAGE}", f"--style={STYLE_IMAGE}", "--max_size=48"]
    default = run_command("keras_style.cli.transfer", *common, f"--output={tmp_path / 'default.png'}")
    assert default.returncode == 0, default.stderr
    assert "alpha 0.6: " in default.stderr and "default (--alpha=1 for full strength)" in default.stderr
    told = run_command("keras_style.cli.transfer", *common, "--alpha=0.6", f"--output={tmp_path / 'told.png'}")
    assert told.returncode == 0, told.stderr
    assert "alpha 0.6: " not in told.stderr
    full = run_command("keras_style.cli.transfer", *common, "--alpha=1", f"--output={tmp_path / 'full.png'}")
    assert full.returncode == 0, full.stderr
    read = {name: image_io.load_image(str(tmp_path / f"{name}.png")) for name in ("default", "told", "full")}
    np.testing.assert_array_equal(read["default"], read["told"])
    assert np.abs(read["default"] - read["full"]).mean() > 1.0

    batch = run_command("keras_style.cli.batch", f"--input={CONTENT_IMAGE}", f"--model={adain_at_06}",
                        f"--style={STYLE_IMAGE}", "--max_size=48", f"--output_dir={tmp_path / 'batch'}")
    assert batch.returncode == 0, batch.stderr
    name = os.path.splitext(os.path.basename(CONTENT_IMAGE))[0] + ".png"
    np.testing.assert_array_equal(image_io.load_image(str(tmp_path / "batch" / name)), read["default"])


def test_style_export_default_alpha_command(adain_at_06, tmp_path):
    bad = run_command("keras_style.cli.export", f"--saved_model={adain_at_06}", "--default_alpha=1.2",
                      f"--export_dir={tmp_path / 'bad'}")
    assert_one_line_error(bad, "alpha must be in [0, 1], got 1.2")
    no_dir = run_command("keras_style.cli.export", f"--saved_model={adain_at_06}", "--default_alpha=0.5")
    assert_one_line_error(no_dir, "--default_alpha writes a SavedModel: pass --export_dir")
    assert "--tflite" not in no_dir.stderr  # not given, so not named
    good = run_command("keras_style.cli.export", f"--saved_model={adain_at_06}", "--default_alpha=0.5",
                       f"--export_dir={tmp_path / 'half'}")
    assert good.returncode == 0, good.stderr
    assert "default alpha 0.5" in good.stderr
    assert read_metadata(str(tmp_path / "half"))[DEFAULT_ALPHA_KEY] == 0.5
    assert not (tmp_path / "bad").exists()
