"""`--model_format=auto`: the runtime chosen by kind and image size (`model_spec.choose_runtime`),
and the shipped models on that default path against their golden outputs."""

import json

import numpy as np
import pytest

from conftest import CONTENT_IMAGE, STYLE_IMAGE, assert_one_line_error, run_command
from keras_style import image_io
from keras_style.errors import StyleError
from keras_style.inference import model_spec
from keras_style.inference.model_spec import choose_runtime, resolve_model


def _fake_shipped(root, name, kind, saved_model=True, tflite=True):
    """A shipped model directory ROOT/NAME whose files are placeholders: resolving reads
    only names and `keras_style.json`, never the models."""
    directory = root / name
    directory.mkdir(parents=True)
    if saved_model:
        (directory / "saved_model").mkdir()
        (directory / "saved_model" / "saved_model.pb").write_bytes(b"")
        (directory / "saved_model" / "keras_style.json").write_text(json.dumps({"kind": kind}))
    if tflite:
        (directory / f"{name}_fp16.tflite").write_bytes(b"")
        if not saved_model:
            (directory / "keras_style.json").write_text(json.dumps({"kind": kind}))
    return directory


@pytest.fixture
def models(tmp_path, monkeypatch):
    """$KERAS_STYLE_MODELS with one model of each kind (both files), and both runtimes
    installed, whatever this machine has."""
    for kind in ("fast_style", "adain", "metanet"):
        _fake_shipped(tmp_path, f"toy_{kind}", kind)
    monkeypatch.setenv(model_spec.MODELS_ENV, str(tmp_path))
    monkeypatch.setattr(model_spec, "litert_installed", lambda: True)
    monkeypatch.setattr(model_spec, "tensorflow_installed", lambda: True)
    return tmp_path


def _kind_with_crossover():
    kinds = [k for k, limit in model_spec.TFLITE_MAX_PIXELS.items() if limit]
    assert kinds, "no kind has a measured crossover"
    return kinds[0]


def test_auto_picks_tflite_up_to_the_crossover_and_the_saved_model_above(models):
    kind = _kind_with_crossover()
    limit = model_spec.TFLITE_MAX_PIXELS[kind]
    below = resolve_model(f"toy_{kind}", pixels=limit)
    assert below.format == "tflite" and below.path.endswith(f"toy_{kind}_fp16.tflite")
    above = resolve_model(f"toy_{kind}", pixels=limit + 1)
    assert above.format == "saved_model" and above.path.endswith("saved_model")
    assert below.kind == above.kind == kind
    # The same choice from a spec resolved first without a size (style_transfer's order).
    assert choose_runtime(resolve_model(f"toy_{kind}"), limit + 1).format == "saved_model"
    assert choose_runtime(resolve_model(f"toy_{kind}"), limit).format == "tflite"


def test_table_covers_every_kind_with_a_tflite_runtime():
    from keras_style import registry

    kinds = {k.name for k in registry.kinds() if k.has("tflite_stylizer")}
    assert kinds <= set(model_spec.TFLITE_MAX_PIXELS)
    for limit in model_spec.TFLITE_MAX_PIXELS.values():
        assert limit is None or (isinstance(limit, int) and limit >= 0)


def test_a_kind_without_a_limit_runs_tflite_at_any_size(models, monkeypatch):
    monkeypatch.setitem(model_spec.TFLITE_MAX_PIXELS, "fast_style", None)
    assert resolve_model("toy_fast_style", pixels=10_000 * 10_000).format == "tflite"
    monkeypatch.setitem(model_spec.TFLITE_MAX_PIXELS, "fast_style", 0)
    assert resolve_model("toy_fast_style", pixels=1).format == "saved_model"


def test_falls_back_to_the_saved_model_without_litert(models, monkeypatch):
    monkeypatch.setattr(model_spec, "litert_installed", lambda: False)
    spec = resolve_model("toy_fast_style", pixels=64 * 64)
    assert spec.format == "saved_model"
    assert "ai-edge-litert is not installed" in spec.announcement
    assert "--model_format=tflite for LiteRT" in spec.announcement


def test_falls_back_to_tflite_without_tensorflow(models, monkeypatch):
    kind = _kind_with_crossover()
    monkeypatch.setattr(model_spec, "tensorflow_installed", lambda: False)
    spec = resolve_model(f"toy_{kind}", pixels=model_spec.TFLITE_MAX_PIXELS[kind] + 1)
    assert spec.format == "tflite" and "TensorFlow is not installed" in spec.announcement


def test_explicit_format_is_respected(models):
    kind = _kind_with_crossover()
    limit = model_spec.TFLITE_MAX_PIXELS[kind]
    small = resolve_model(f"toy_{kind}", "saved_model", pixels=1)
    large = resolve_model(f"toy_{kind}", "tflite", pixels=100 * limit)
    assert (small.format, large.format) == ("saved_model", "tflite")
    assert small.announcement is None and large.announcement is None
    assert choose_runtime(small, 100 * limit) is small


def test_a_flag_that_needs_the_saved_model_gets_it(models):
    spec = resolve_model("toy_adain", pixels=1)
    assert spec.format == "tflite"
    spec = choose_runtime(resolve_model("toy_adain"), 1, needs_saved_model="--mask")
    assert spec.format == "saved_model" and "--mask needs it" in spec.announcement


def test_a_model_with_one_format_or_a_path_is_used_as_it_is(models, tmp_path):
    kind = _kind_with_crossover()
    limit = model_spec.TFLITE_MAX_PIXELS[kind]
    only_lite = _fake_shipped(models, "lite_only", kind, saved_model=False)
    only_saved = _fake_shipped(models, "saved_only", kind, tflite=False)
    spec = resolve_model("lite_only", pixels=100 * limit)
    assert spec.format == "tflite" and spec.announcement is None and spec.kind == kind
    spec = resolve_model("saved_only", pixels=1)
    assert spec.format == "saved_model" and spec.announcement is None
    # A file or SavedModel named by path: what it is, whatever the size.
    spec = resolve_model(str(only_lite / "lite_only_fp16.tflite"), pixels=100 * limit)
    assert spec.format == "tflite" and spec.announcement is None
    spec = resolve_model(str(only_saved / "saved_model"), pixels=1)
    assert spec.format == "saved_model" and spec.announcement is None


def test_announcement_is_one_line_naming_the_file_and_the_override(models):
    for pixels in (1, 10**9):
        spec = resolve_model("toy_adain", pixels=pixels)
        line = spec.announcement
        assert line.startswith("runtime: ") and "\n" not in line
        other = "saved_model" if spec.format == "tflite" else "tflite"
        assert f"--model_format={other}" in line
        assert spec.path.split("/")[-1] in line


def test_style_transfer_announces_the_runtime_in_one_line(tmp_path):
    """The README's command on a small photo: LiteRT from the shipped .tflite, said once."""
    out = tmp_path / "out.png"
    result = run_command("keras_style.cli.transfer", "--model=starry_night", f"--content={CONTENT_IMAGE}",
                         f"--output={out}", "--max_size=64")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("runtime:")]
    assert lines == ["runtime: LiteRT (saved_models/starry_night/starry_night_fp16.tflite); "
                     "--model_format=saved_model for TensorFlow"], result.stderr
    assert out.is_file()
    explicit = run_command("keras_style.cli.transfer", "--model=starry_night", "--model_format=tflite",
                           f"--content={CONTENT_IMAGE}", f"--output={tmp_path / 'b.png'}", "--max_size=64")
    assert explicit.returncode == 0 and "runtime:" not in explicit.stderr, explicit.stderr


def test_style_transfer_bad_format_is_one_line(tmp_path):
    result = run_command("keras_style.cli.transfer", "--model=starry_night", "--model_format=onnx",
                         f"--content={CONTENT_IMAGE}", f"--output={tmp_path / 'o.png'}")
    assert_one_line_error(result)


def test_style_batch_resolves_the_saved_model(monkeypatch, tmp_path):
    from keras_style.batch import beam_pipeline

    asked = []

    def spy(spec, format="auto", pixels=None):
        asked.append(format)
        raise StyleError("stop here")

    monkeypatch.setattr(beam_pipeline, "resolve_model", spy)
    config = beam_pipeline.BatchConfig(input=CONTENT_IMAGE, model="starry_night", output_dir=str(tmp_path / "o"))
    with pytest.raises(StyleError, match="stop here"):
        beam_pipeline.run_batch(config)
    assert asked == ["saved_model"]


def test_shipped_metanet_resolves_its_tflite_pair():
    spec = resolve_model("metanet", "tflite")
    assert spec.format == "tflite" and spec.kind == "metanet"
    assert spec.path.endswith("metanet_style_to_weights_fp16.tflite")
    assert set(resolve_model("metanet").choices) == {"saved_model", "tflite"}


# The shipped models on the default path (auto, at the golden images' size) at their default
# settings (no alpha given: the model's recorded default), against tests/golden/.
GOLDEN_SIZE = 64
DEFAULT_PATH_GOLDENS = {
    "starry_night": "starry_night_astronaut64.png",
    "great_wave": "great_wave_astronaut64.png",
    "auvers": "auvers_astronaut64.png",
    "hokusai_bridge": "hokusai_bridge_astronaut64.png",
    "adain": "adain_starry_night_default_astronaut64.png",  # default alpha 0.6
    "metanet": "metanet_starry_night_astronaut64.png",  # default alpha 1
}


@pytest.fixture(scope="module")
def content():
    return image_io.load_image(CONTENT_IMAGE, max_size=GOLDEN_SIZE)


def _default_path_output(name, content):
    spec = resolve_model(name, pixels=content.shape[0] * content.shape[1])
    assert spec.format == model_spec.faster_runtime(spec.kind, content.shape[0] * content.shape[1])
    stylizer = spec.load()
    if not stylizer.takes_style:
        return spec, stylizer.stylize(content)
    return spec, stylizer.stylize(content, style=stylizer.prepare_style([image_io.load_image(STYLE_IMAGE)]))


@pytest.mark.parametrize("name", sorted(DEFAULT_PATH_GOLDENS))
def test_default_path_matches_golden_output(name, content):
    from test_shipped_models import assert_matches_golden

    spec, out = _default_path_output(name, content)
    assert spec.format == "tflite"  # a 64 px photo runs on LiteRT for every shipped kind
    assert_matches_golden(out, DEFAULT_PATH_GOLDENS[name], content)


def test_metanet_tflite_pair_matches_its_saved_model(content):
    """The shipped float16 pair against the SavedModel it was converted from, within the
    export's parity (a rounding step of 255)."""
    from keras_style.inference import load_stylizer

    style = [image_io.load_image(STYLE_IMAGE)]
    saved, lite = load_stylizer("metanet", "saved_model"), load_stylizer("metanet", "tflite")
    assert (saved.backend, lite.backend) == ("saved_model", "tflite")
    a = saved.stylize(content, style=saved.prepare_style(style))
    b = lite.stylize(content, style=lite.prepare_style(style))
    assert np.abs(a - b).max() <= 1.0 and np.abs(a - b).mean() <= 0.1
