"""The one pipeline (`keras_style.inference.pipeline`): the same pixels as style_transfer,
the style prepared once, every option checked in one place (`keras_style.checks`).

Runs on the shipped models in saved_models/ with tiny images; the style_transfer runs
are subprocesses (started together by one fixture), everything else is in-process.
"""

import importlib.util
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from conftest import CONTENT_IMAGE, REPO, STYLE_IMAGE, STYLE_IMAGE_2, assert_one_line_error, run_command
from keras_style import checks, image_io
from keras_style.errors import StyleError
from keras_style.inference import load_stylizer
from keras_style.inference.pipeline import StyleOptions, StylePipeline

HEIGHT, WIDTH = 48, 64
MODELS = {kind: os.path.join(REPO, "saved_models", name, "saved_model")
          for kind, name in (("fast", "starry_night"), ("adain", "adain"), ("metanet", "metanet"))}


def _save(array, path, mode=None):
    Image.fromarray(np.clip(np.round(array), 0, 255).astype(np.uint8), mode).save(path)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    _save(image_io.resize_image(image_io.load_image(CONTENT_IMAGE), (HEIGHT, WIDTH)), root / "content.png")
    _save(image_io.resize_image(image_io.load_image(STYLE_IMAGE), (48, 40)), root / "a.png")
    _save(image_io.resize_image(image_io.load_image(STYLE_IMAGE_2), (40, 56)), root / "b.png")
    left = np.zeros((HEIGHT, WIDTH))
    left[:, : WIDTH // 2] = 255
    _save(left, root / "left.png", "L")
    _save(255 - left, root / "right.png", "L")
    images = {name: image_io.load_image(root / f"{name}.png") for name in ("content", "a", "b")}
    images["masks"] = tuple(image_io.load_image(root / f"{n}.png").mean(axis=-1) / 255.0 for n in ("left", "right"))
    return root, images


def _cases(root):
    a, b = root / "a.png", root / "b.png"
    return {
        # A fixed-style model: tiles, a compute size, luminance kept from the full-size content.
        "fast": ("fast", ["--tile=24", "--tile_overlap=8", "--compute_size=40", "--preserve_color=luminance"],
                 dict(tile=24, overlap=8, compute_size=40, preserve_color="luminance")),
        # AdaIN: two styles mixed by weights, masks, alpha, the palette step in each mask's region.
        "adain": ("adain", [f"--style={a},{b}", "--style_weights=1,3", "--alpha=0.7",
                            f"--mask={root / 'left.png'},{root / 'right.png'}"],
                  dict(styles="ab", style_weights=(1.0, 3.0), alpha=0.7, masks=True)),
        # AdaIN at a compute size: the style scaled with the content; no tile flag (auto: whole image).
        "adain_compute": ("adain", [f"--style={a}", "--compute_size=32", "--preserve_color=luminance"],
                          dict(styles="a", compute_size=32, preserve_color="luminance", tile=None)),
        # MetaNet: alpha (filters once per image, from the tiles' pooled statistics), tiles, palette.
        "metanet": ("metanet", [f"--style={a},{b}", "--alpha=0.8", "--tile=32", "--tile_overlap=8"],
                    dict(styles="ab", alpha=0.8, tile=32, overlap=8)),
    }


@pytest.fixture(scope="module")
def runs(work):
    root, _ = work
    (root / "out").mkdir()
    commands = {
        name: ["keras_style.cli.transfer", f"--model={MODELS[model]}", f"--content={root / 'content.png'}",
               f"--output={root / 'out' / name}.png", "--precision=float32", *args]
        for name, (model, args, _) in _cases(root).items()
    }
    # A bad flag: the command's message is the checks.py rule's, named by the flag.
    commands["bad_alpha"] = ["keras_style.cli.transfer", f"--model={MODELS['adain']}",
                             f"--content={root / 'content.png'}", f"--output={root / 'out' / 'x.png'}",
                             f"--style={root / 'a.png'}", "--alpha=1.5"]
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {name: pool.submit(run_command, *command) for name, command in commands.items()}
        return {name: future.result() for name, future in futures.items()}


@pytest.fixture(scope="module")
def stylizers():
    return {}


def _stylizer(stylizers, model):
    if model not in stylizers:
        stylizers[model] = load_stylizer(MODELS[model])
    return stylizers[model]


def _options(images, settings):
    settings = dict(settings)
    if "styles" in settings:
        settings["styles"] = tuple(images[k] for k in settings["styles"])
    if settings.pop("masks", False):
        settings["masks"] = images["masks"]
    return StyleOptions(**settings)


@pytest.mark.parametrize("name", ["fast", "adain", "adain_compute", "metanet"])
def test_pipeline_gives_style_transfers_pixels(work, runs, stylizers, name):
    root, images = work
    model, _, settings = _cases(root)[name]
    result = runs[name]
    assert result.returncode == 0, result.stderr
    written = image_io.load_image(root / "out" / f"{name}.png")
    pipeline = StylePipeline(_stylizer(stylizers, model), _options(images, settings))
    expected = np.clip(np.round(pipeline.stylize(images["content"])), 0, 255)
    assert written.shape == (HEIGHT, WIDTH, 3)
    assert np.abs(written - expected).max() <= 1.0, name
    # The pipeline did something: not the content, unchanged.
    assert np.abs(written - images["content"]).mean() > 5.0


def test_adain_masks_route_each_style_to_its_half(work, stylizers):
    _, images = work
    stylizer = _stylizer(stylizers, "adain")
    masked = StylePipeline(stylizer, _options(images, dict(styles="ab", alpha=0.7, masks=True))).stylize(
        images["content"])
    alone = {k: StylePipeline(stylizer, _options(images, dict(styles=k, alpha=0.7))).stylize(images["content"])
             for k in "ab"}
    left, right = slice(None, 16), slice(-16, None)  # away from the seam (64 px wide)

    def distance(x, y, side):
        return np.abs(x[:, side] - y[:, side]).mean()

    assert distance(masked, alone["a"], left) < distance(masked, alone["b"], left) / 2
    assert distance(masked, alone["b"], right) < distance(masked, alone["a"], right) / 2


def _count_prepare(monkeypatch, stylizer):
    calls = []
    original = type(stylizer).prepare_style

    def counting(self, styles, weights=None):
        calls.append(tuple(s.shape for s in styles))
        return original(self, styles, weights)

    monkeypatch.setattr(type(stylizer), "prepare_style", counting)
    return calls


def test_the_style_is_prepared_once_for_many_images(work, stylizers, monkeypatch):
    _, images = work
    stylizer = _stylizer(stylizers, "adain")
    calls = _count_prepare(monkeypatch, stylizer)
    content = images["content"]
    pipeline = StylePipeline(stylizer, _options(images, dict(styles="ab", style_weights=(1.0, 2.0))))
    first = [pipeline.stylize(image) for image in (content, content[:40, :36], content[8:, 4:60])]
    assert len(calls) == 1  # three images (three sizes), one preparation
    # Other settings share the prepared style; only a new style prepares again.
    again = pipeline.replace(alpha=0.5, style_palette=False)
    again.stylize(content)
    assert len(calls) == 1
    np.testing.assert_array_equal(pipeline.stylize(content), first[0])
    pipeline.replace(styles=(images["a"],), style_weights=None).stylize(content)
    assert len(calls) == 2
    # With a compute size: once per style scale (the style is scaled with the content).
    big = np.clip(image_io.resize_image(images["a"], (160, 200)), 0, 255)
    scaled = StylePipeline(stylizer, StyleOptions(styles=(big,), compute_size=32))
    scaled.prepare(content)  # ahead of time (e.g. outside a timed call)
    for image in (content, content, content[:, :48]):  # scales 1/2, 1/2, 2/3
        scaled.stylize(image)
    assert calls[2:] == [((80, 100, 3),), ((106, 133, 3),)], calls
    # Histogram colour preservation recolours the styles to each image: once per image.
    histogram = StylePipeline(stylizer, _options(images, dict(styles="a", preserve_color="histogram")))
    histogram.stylize(content)
    histogram.stylize(content)
    assert len(calls) == 6


def test_metanet_generates_its_filters_once_per_run(work, stylizers):
    from keras_style.inference.metanet import IMAGE_STATISTICS, STATISTICS_TO_WEIGHTS

    _, images = work
    stylizer = _stylizer(stylizers, "metanet")
    pipeline = StylePipeline(stylizer, _options(images, dict(styles="ab", alpha=1.0, tile=32, overlap=8)))
    before = dict(stylizer.calls)
    for _ in range(3):
        pipeline.stylize(images["content"])
    calls = {k: stylizer.calls[k] - before[k] for k in (IMAGE_STATISTICS, STATISTICS_TO_WEIGHTS)}
    assert calls == {IMAGE_STATISTICS: 2, STATISTICS_TO_WEIGHTS: 1}, calls


def _message(fn, *args, **kwargs):
    with pytest.raises(StyleError) as error:
        fn(*args, **kwargs)
    return str(error.value)


def test_options_are_checked_in_one_place(work, runs):
    _, images = work
    style = (images["a"],)
    cases = [
        (dict(alpha=1.5), checks.check_alpha, (1.5,)),
        (dict(alpha=float("nan")), checks.check_alpha, (float("nan"),)),
        (dict(styles=style, style_weights=(1.0, 2.0)), checks.normalised_weights, ((1.0, 2.0), 1)),
        (dict(styles=style, style_weights=(-1.0,)), checks.normalised_weights, ((-1.0,), 1)),
        (dict(tile=-1), checks.check_tile, (-1, 64)),
        (dict(tile=16, overlap=16), checks.check_tile, (16, 16)),
        (dict(compute_size=8), checks.check_compute_size, (8,)),
        (dict(styles=style, masks=images["masks"]), checks.check_masks, (images["masks"], 1, (HEIGHT, WIDTH))),
    ]
    for settings, rule, args in cases:
        assert _message(StyleOptions, **settings) == _message(rule, *args), settings
    assert "masks work on whole images" in _message(StyleOptions, styles=style * 2, masks=images["masks"], tile=32, overlap=8)
    # The command's message is the same rule's, naming its flag.
    assert_one_line_error(runs["bad_alpha"], _message(checks.check_alpha, 1.5, "--alpha"))


def test_what_a_model_cannot_do_is_refused_before_any_image(work, stylizers):
    _, images = work
    fast, metanet = _stylizer(stylizers, "fast"), _stylizer(stylizers, "metanet")
    with pytest.raises(StyleError, match="fixed-style model"):
        StylePipeline(fast, StyleOptions(styles=(images["a"],)))
    with pytest.raises(StyleError, match="give at least one style image"):
        StylePipeline(metanet, StyleOptions())
    with pytest.raises(StyleError, match="cannot apply masks"):
        StylePipeline(metanet, StyleOptions(styles=(images["a"], images["b"]), masks=images["masks"]))
    with pytest.raises(StyleError, match="mask 1 is 48x64, content is 40x64"):
        adain = StylePipeline(_stylizer(stylizers, "adain"),
                              StyleOptions(styles=(images["a"], images["b"]), masks=images["masks"]))
        adain.stylize(images["content"][:40])


@pytest.mark.skipif(importlib.util.find_spec("apache_beam") is None, reason="apache-beam is not installed")
def test_batch_handler_runs_the_pipeline(work, stylizers):
    from keras_style.batch.model_handler import StyleModelHandler

    _, images = work
    for model, style in (("fast", None), ("metanet", images["a"])):
        handler = StyleModelHandler(MODELS[model], style=style)
        options = StyleOptions(styles=() if style is None else (style,), tile=0)
        expected = StylePipeline(_stylizer(stylizers, model), options).stylize(images["content"])
        np.testing.assert_allclose(handler.load_model()(images["content"]), expected, atol=1e-3)


def test_the_pipeline_imports_no_tensorflow():
    code = ("import sys, keras_style.inference.pipeline, keras_style.inference.adain, keras_style.inference.metanet; "
            "print('tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
