"""Inputs refused up front, in one stderr line, with nothing written: images too thin for
VGG (style_gatys, style_evaluate), --save_every snapshots, an evaluation's summary.csv,
and the trainers' non-finite or out-of-range hyper-parameters."""

import math

import numpy as np
import pytest
from PIL import Image

from conftest import CONTENT_IMAGE, STYLE_IMAGE, assert_one_line_error, run_command

GATYS = "keras_style.cli.gatys"
EVALUATE = "keras_style.cli.evaluate"


def _noise_png(path, width, height):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)
    return str(path)


@pytest.fixture
def thin(tmp_path):
    """A 5x300 (width x height) image: 1 pixel wide at a 32-pixel long side."""
    return _noise_png(tmp_path / "thin.png", 5, 300)


# --- the VGG minimum side ---------------------------------------------------------------


def test_min_input_side_follows_the_deepest_layer():
    from keras_style.vgg import min_input_side

    assert min_input_side(["block1_conv1"]) == 1
    assert min_input_side(["relu1_1", "relu4_1"]) == 8
    assert min_input_side(["block1_conv1", "block5_conv1"]) == 16  # measured: 15 fails inside TensorFlow


def test_gatys_check_image_sizes_boundary():
    from keras_style import gatys
    from keras_style.errors import StyleError

    config = gatys.GatysConfig(image_size=64)
    assert config.min_image_side() == 16
    square = np.zeros((64, 64, 3), np.float32)
    gatys.check_image_sizes(config, np.zeros((16, 64, 3), np.float32), [square])  # 16 is enough
    with pytest.raises(StyleError, match=r"content image is 64x15 pixels after resizing to 64 .* at least 16"):
        gatys.check_image_sizes(config, np.zeros((15, 64, 3), np.float32), [square])
    # Shallower layers need less.
    shallow = gatys.GatysConfig(image_size=64, content_layers=["relu2_1"], style_layers=["relu1_1", "relu2_1"])
    gatys.check_image_sizes(shallow, np.zeros((2, 64, 3), np.float32), [square])


def test_gatys_stylize_refuses_thin_images_before_building_the_network(monkeypatch):
    from keras_style import gatys
    from keras_style.errors import StyleError

    def no_network(config):
        raise AssertionError("the loss network was built")

    monkeypatch.setattr(gatys, "loss_network", no_network)
    config = gatys.GatysConfig(image_size=32, iterations=1)
    square = np.zeros((32, 32, 3), np.float32)
    with pytest.raises(StyleError, match="style image 2 is 32x1 pixels after resizing to 32"):
        gatys.stylize(None, square, [square, np.zeros((5, 300, 3), np.float32)], config=config)


# --- style_gatys ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case, size, message",
    [
        # 5x300 at a 32-pixel long side: 1 pixel wide, as content or as the second style.
        ("content", 32, "content image '{image}' is 1x32 pixels after resizing to 32 on the long side; "
                        "the loss network needs at least 16 pixels on each side"),
        ("style", 32, "style image '{image}' is 1x32 pixels after resizing to 32"),
        # 2000x100 at 256: 13 pixels high.
        ("panorama", 256, "content image '{image}' is 256x13 pixels after resizing to 256"),
    ],
)
def test_gatys_refuses_thin_images(tmp_path, case, size, message):
    image = (_noise_png(tmp_path / "panorama.png", 2000, 100) if case == "panorama"
             else _noise_png(tmp_path / "thin.png", 5, 300))
    content, styles = (CONTENT_IMAGE, f"{STYLE_IMAGE},{image}") if case == "style" else (image, STYLE_IMAGE)
    out = tmp_path / "out" / "a.png"
    out.parent.mkdir()
    result = run_command(GATYS, f"--image_size={size}", "--iterations=2", f"--content_image={content}",
                         f"--style_images={styles}", f"--output_image={out}")
    assert result.returncode == 2
    assert_one_line_error(result, message.format(image=image))
    assert not any(out.parent.iterdir())


def test_gatys_refuses_negative_save_every(tmp_path):
    out = tmp_path / "a.png"
    result = run_command(GATYS, "--image_size=32", "--iterations=2", "--save_every=-1",
                         f"--content_image={CONTENT_IMAGE}", f"--style_images={STYLE_IMAGE}", f"--output_image={out}")
    assert result.returncode == 2
    assert_one_line_error(result, "--save_every must be >= 0 (0 turns snapshots off), got -1")
    assert list(tmp_path.iterdir()) == []


def test_gatys_checks_snapshot_paths_up_front(tmp_path):
    out = tmp_path / "a.png"
    taken = tmp_path / "a_s1_00004.png"  # the second snapshot of --save_every=2 --iterations=4
    taken.write_bytes(b"mine")
    result = run_command(GATYS, "--image_size=32", "--iterations=4", "--save_every=2",
                         f"--content_image={CONTENT_IMAGE}", f"--style_images={STYLE_IMAGE}", f"--output_image={out}")
    assert result.returncode == 2
    assert_one_line_error(result, f"'{taken}' exists")
    assert sorted(p.name for p in tmp_path.iterdir()) == [taken.name]  # no first snapshot, no output
    assert taken.read_bytes() == b"mine"


def test_gatys_snapshot_paths_cover_every_stage(tmp_path):
    out = tmp_path / "a.png"
    taken = tmp_path / "a_s2_00002.png"
    taken.write_bytes(b"mine")
    result = run_command(GATYS, "--scales=32,40", "--iterations=2", "--save_every=2",
                         f"--content_image={CONTENT_IMAGE}", f"--style_images={STYLE_IMAGE}", f"--output_image={out}")
    assert_one_line_error(result, f"'{taken}' exists")
    assert sorted(p.name for p in tmp_path.iterdir()) == [taken.name]


# --- style_evaluate ---------------------------------------------------------------------


@pytest.mark.parametrize("which, method", [("content", "starry_night"), ("style", "starry_night"),
                                           ("style", "adain")])
def test_evaluate_refuses_thin_images_before_writing(tmp_path, thin, which, method):
    images = {"content": CONTENT_IMAGE, "style": STYLE_IMAGE, which: thin}
    out = tmp_path / "ev"
    result = run_command(EVALUATE, "--image_size=64", "--max_pairs=1", "--alphas=1", f"--content={images['content']}",
                         f"--style={images['style']}", f"--methods={method}", f"--output_dir={out}")
    assert result.returncode == 2
    assert_one_line_error(result, f"{which} image '{thin}' is 1x64 pixels at image_size 64; the metrics need at "
                                  "least 16 pixels on each side")
    assert not out.exists()  # no results.csv, no folder


def test_evaluate_keeps_summary_and_results(tmp_path):
    out = tmp_path / "ev"
    out.mkdir()
    summary = out / "summary.csv"
    summary.write_text("mine\n")
    # A torn results.csv is rewritten only once the run is accepted.
    results = out / "results.csv"
    from keras_style.evaluation.results_file import COLUMNS

    torn = ",".join(COLUMNS) + "\nstarry_night,a,b"
    results.write_text(torn)
    result = run_command(EVALUATE, "--image_size=32", "--max_pairs=1", f"--content={CONTENT_IMAGE}",
                         f"--style={STYLE_IMAGE}", "--methods=starry_night", f"--output_dir={out}")
    assert result.returncode == 2
    assert_one_line_error(result, f"'{summary}' exists and 1 new pair(s) would change it; pass --overwrite")
    assert summary.read_text() == "mine\n"
    assert results.read_text() == torn
    assert sorted(p.name for p in out.iterdir()) == ["results.csv", "summary.csv"]


def test_results_file_defers_rewriting_a_torn_file(tmp_path):
    from keras_style.evaluation.results_file import COLUMNS, ResultsFile

    path = tmp_path / "results.csv"
    torn = ",".join(COLUMNS) + "\nstarry_night,a,b"
    path.write_text(torn)
    results = ResultsFile(path, create=False)
    assert path.read_text() == torn and results.rows == []
    results.create()
    assert path.read_text() == ",".join(COLUMNS) + "\n"
    path.write_text(torn)
    ResultsFile(path)  # create=True drops the torn line at once, as before
    assert path.read_text() == ",".join(COLUMNS) + "\n"


# --- trainers -----------------------------------------------------------------------------

_TRAINERS = {
    "fast": ("trainers.train_fast", "flags/fast_style_smoke.cfg"),
    "adain": ("trainers.train_adain", "flags/adain_smoke.cfg"),
    "metanet": ("trainers.train_metanet", "flags/metanet_smoke.cfg"),
}


@pytest.mark.parametrize("trainer, flag, message", [
    ("fast", "--learning_rate=nan", "learning_rate must be a finite number, got nan"),
    ("fast", "--content_weight=inf", "content_weight must be a finite number, got inf"),
    ("fast", "--crop_size=100000", "crop_size must be <= 4096, got 100000"),
    ("adain", "--style_weight=nan", "style_weight must be a finite number, got nan"),
    ("adain", "--learning_rate_decay=-inf", "learning_rate_decay must be a finite number, got -inf"),
    ("metanet", "--tv_weight=nan", "tv_weight must be a finite number, got nan"),
    ("metanet", "--style_layer_weights=1,1,nan,1", "style layer weights must be finite numbers"),
])
def test_trainer_refuses_before_model_dir(tmp_path, trainer, flag, message):
    module, flagfile = _TRAINERS[trainer]
    model_dir = tmp_path / "m"
    result = run_command(module, f"--flagfile={flagfile}", f"--model_dir={model_dir}", flag)
    assert result.returncode == 2
    assert_one_line_error(result, message)
    assert not model_dir.exists()  # no events file, no checkpoint


def _configs():
    from keras_style.tasks.adain import AdaINConfig
    from keras_style.tasks.fast_style import FastStyleConfig
    from keras_style.tasks.metanet import MetaNetConfig

    return {
        "fast": lambda **kw: FastStyleConfig(style_image="s.jpg", content_data="c", **kw),
        "adain": lambda **kw: AdaINConfig(content_data="c", style_data="s", **kw),
        "metanet": lambda **kw: MetaNetConfig(content_data="c", style_data="s", **kw),
    }


_FLOAT_FIELDS = {
    "fast": ("learning_rate", "content_weight", "style_weight", "tv_weight"),
    "adain": ("learning_rate", "learning_rate_decay", "content_weight", "style_weight"),
    "metanet": ("learning_rate", "content_weight", "style_weight", "tv_weight", "weight_norm_penalty"),
}


@pytest.mark.parametrize("trainer, field", [(t, f) for t, fields in _FLOAT_FIELDS.items() for f in fields])
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_every_float_hyper_parameter_must_be_finite(trainer, field, value):
    from keras_style.errors import StyleError

    config = _configs()[trainer](**{field: value})
    with pytest.raises(StyleError, match=f"^{field} must be a finite number, got {value}$"):
        config.validate()


@pytest.mark.parametrize("trainer", list(_TRAINERS))
def test_layer_weights_and_crop_size_limits(trainer):
    from keras_style.errors import StyleError

    make = _configs()[trainer]
    layers = make().style_layers
    with pytest.raises(StyleError, match="style layer weights must be finite numbers"):
        make(style_layer_weights=[1.0] * (len(layers) - 1) + [math.inf]).validate()
    with pytest.raises(StyleError, match="crop_size must be <= 4096, got 4104"):
        kwargs = {"short_side_range": (4104, 4104)} if trainer == "adain" else {}
        make(crop_size=4104, **kwargs).validate()
    make(crop_size=4096, **({"short_side_range": (4096, 4096)} if trainer == "adain" else {})).validate()


def test_adain_short_sides_are_bounded():
    from keras_style.errors import StyleError

    make = _configs()["adain"]
    with pytest.raises(StyleError, match=r"^short_side_range 256\.\.100000: high must be <= 8192"):
        make(short_side_range=(256, 100000)).validate()
    with pytest.raises(StyleError, match=r"^style_short_side_range 256\.\.8200: high must be <= 8192"):
        make(style_short_side_range=(256, 8200)).validate()
    make(short_side_range=(256, 8192), style_short_side_range=(256, 8192)).validate()
