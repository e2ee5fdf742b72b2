"""style_transfer with AdaIN models (SavedModel and .tflite pair) and style_train_adain.

All command runs are subprocesses, started together by one fixture and checked by
the tests below. The model is test_adain_export's shared SavedModel (real VGG19
encoder, seeded random decoder) and its float16 TFLite pair.
"""

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from conftest import (
    CONTENT_IMAGE, REPO, STYLE_IMAGE, STYLE_IMAGE_2, assert_no_native_start_up_lines, assert_one_line_error, run_command,
)
from test_adain_export import shared_adain_saved_model, shared_adain_tflite

HEIGHT, WIDTH = 40, 72  # "big": 6 tiles of 32 px with 8 px overlap (2 rows x 3 columns)
TILE = ["--tile=32", "--tile_overlap=8"]

# Runs style_transfer counting the AdaIN stylizer's calls; prints them as JSON at exit.
_COUNTING = """
import atexit, json, sys
from keras_style.inference import adain as m
counts = {"prepare_style": 0, "encode_style": 0, "stylize_statistics": 0}
def counting(cls, name):
    original = getattr(cls, name)
    def wrapper(self, *args, **kwargs):
        counts[name] += 1
        return original(self, *args, **kwargs)
    setattr(cls, name, wrapper)
counting(m.AdaINStylizer, "prepare_style")
counting(m.AdaINSavedModelStylizer, "encode_style")
counting(m.AdaINSavedModelStylizer, "stylize_statistics")
atexit.register(lambda: print("COUNTS " + json.dumps(counts), flush=True))
from keras_style.cli import transfer
sys.argv = ["style_transfer"] + sys.argv[1:]
transfer.run()
"""


def _save(array, path, mode=None):
    Image.fromarray(np.clip(np.round(array), 0, 255).astype(np.uint8), mode).save(path)


def _load(path):
    from keras_style import image_io

    return image_io.load_image(str(path))


@pytest.fixture(scope="module")
def work(tmp_path_factory, vgg19_weights_path):
    from keras_style import image_io

    root = tmp_path_factory.mktemp("adain_cli")
    models = root / "models"
    shutil.copytree(shared_adain_saved_model(tmp_path_factory), models / "adainz" / "saved_model")
    for path in shared_adain_tflite(tmp_path_factory, "float16").values():
        shutil.copy(path, models / "adainz")
    content = root / "content"
    content.mkdir()
    photo = np.clip(image_io.resize_image(image_io.load_image(CONTENT_IMAGE), (HEIGHT, WIDTH)), 0, 255)
    _save(photo, content / "big.png")
    _save(photo[:24, 8:40], content / "small.png")
    _save(np.clip(image_io.resize_image(image_io.load_image(STYLE_IMAGE), (48, 40)), 0, 255), root / "a.png")
    _save(np.clip(image_io.resize_image(image_io.load_image(STYLE_IMAGE_2), (40, 56)), 0, 255), root / "b.png")
    _save(np.clip(image_io.resize_image(image_io.load_image(STYLE_IMAGE), (128, 160)), 0, 255), root / "c.png")
    left = np.zeros((HEIGHT, WIDTH))
    left[:, : WIDTH // 2] = 255
    _save(left, root / "left.png", "L")
    _save(255 - left, root / "right.png", "L")
    _save(np.full((20, 20), 255.0), root / "tiny_mask.png", "L")
    (root / "out").mkdir()
    (root / "train_exists" / "export").mkdir(parents=True)
    (root / "train_exists" / "export" / "keep.txt").write_text("keep")
    return {"root": root, "model": str(models / "adainz" / "saved_model"), "env": {"KERAS_STYLE_MODELS": str(models)}}


def _transfer_cases(w):
    root, model = w["root"], w["model"]
    big, out = root / "content" / "big.png", root / "out"
    styles = f"--style={root / 'a.png'},{root / 'b.png'}"
    masks = f"--mask={root / 'left.png'},{root / 'right.png'}"

    def case(name, *args, content=big, model=model):
        # float32: the outputs are compared with the float32 library stylizer below
        # (the bfloat16 default is checked in test_precision.py).
        return [f"--model={model}", f"--content={content}", f"--output={out / name}.png", "--precision=float32",
                *args]

    good = {
        "whole": case("whole", f"--style={root / 'a.png'}", "--alpha=0.5"),
        "weights": case("weights", styles, "--style_weights=0.7,0.3", "--nostyle_palette"),
        "masks": case("masks", styles, masks, "--style_weights=1,3", "--alpha=0.9", "--nostyle_palette"),
        "histogram": case("histogram", f"--style={root / 'a.png'}", "--preserve_color=histogram"),
        # 40x72 stylized at 20x36: the 128x160 style is scaled by 1/2 too.
        "compute": case("compute", f"--style={root / 'c.png'}", "--alpha=0.7", "--compute_size=36"),
        # A shipped model name, its .tflite pair; a folder of contents, tiled, luminance kept.
        "tflite_folder": ["--model=adainz", "--model_format=tflite", f"--content={root / 'content'}",
                          f"--output_dir={out / 'tflite'}", styles, "--alpha=0.8", "--preserve_color=luminance",
                          *TILE],
    }
    bad = {
        "missing_style": (case("x1", f"--style={root / 'nope.jpg'}"), "cannot read image"),
        "no_style": (case("x2"), "is an AdaIN (arbitrary-style) model; pass --style"),
        "mask_size": (case("x3", f"--style={root / 'a.png'}", f"--mask={root / 'tiny_mask.png'}"),
                      f"mask is 20x20, content is {HEIGHT}x{WIDTH}"),
        "alpha_high": (case("x4", styles, "--alpha=1.5"), "--alpha must be in [0, 1], got 1.5"),
        "alpha_negative": (case("x5", styles, "--alpha=-0.1"), "--alpha must be in [0, 1], got -0.1"),
        "weights_count": (case("x6", styles, "--style_weights=1"), "--style_weights: 1 value(s) for 2 style(s)"),
        "weights_negative": (case("x7", styles, "--style_weights=-1,2"), "--style_weights must be finite and >= 0"),
        "weights_text": (case("x8", styles, "--style_weights=a,b"), "must be comma-separated numbers"),
        "masks_count": (case("x9", styles, f"--mask={root / 'left.png'}"), "--mask has 1 file(s) for 2"),
        "mask_with_tile": (case("x10", styles, masks, *TILE), "drop --tile"),
        "mask_with_tflite": (case("x11", styles, masks, "--model_format=tflite", model="adainz"),
                             "--mask needs the AdaIN SavedModel"),
        "palette_and_preserve": (case("x12", styles, "--style_palette", "--preserve_color=luminance"),
                                 "--style_palette gives the result the style's colours and --preserve_color"),
    }
    return good, bad


def _train_cases(w):
    root = w["root"]
    smoke = ["--flagfile=flags/adain_smoke.cfg"]

    def run_dir(name):
        return f"--model_dir={root / 'train' / name}"

    good = smoke + [run_dir("smoke"), f"--export_dir={root / 'train' / 'smoke_export'}",
                    "--style_short_side_max=64", "--flip_styles"]
    bad = {
        "crop": (smoke + [run_dir("b1"), "--crop_size=36", "--short_side_min=40"], "multiple of 8"),
        "short_sides": (smoke + [run_dir("b2"), "--short_side_min=64", "--short_side_max=48"],
                        "--short_side_min (64) must be <= --short_side_max (48)"),
        "missing_styles": (smoke + [run_dir("b3"), f"--style_data={root / 'no_styles'}"], "no_styles"),
        "tflite_without_export": (smoke + [run_dir("b4"), "--tflite"], "pass --export_dir too"),
        "export_exists": (smoke + [run_dir("b5"), f"--export_dir={root / 'train_exists' / 'export'}"],
                          "exists and is not empty; pass --overwrite"),
        "strategy": (smoke + [run_dir("b6"), "--strategy=tpu"], "unknown strategy 'tpu'"),
        "style_short_sides": (smoke + [run_dir("b7"), "--style_short_side_min=24"],
                              "style_short_side_range 24..48 must satisfy crop_size (32) <= low <= high"),
    }
    return good, bad


@pytest.fixture(scope="module")
def runs(work):
    good, bad = _transfer_cases(work)
    train_good, train_bad = _train_cases(work)
    script = work["root"] / "counting_transfer.py"
    script.write_text(_COUNTING)
    env = dict(os.environ, **work["env"])
    tiled = [f"--model={work['model']}", f"--content={work['root'] / 'content' / 'big.png'}",
             f"--output={work['root'] / 'out' / 'tiled.png'}",
             f"--style={work['root'] / 'a.png'},{work['root'] / 'b.png'}", "--style_weights=0.7,0.3", *TILE,
             "--precision=float32"]

    def counting():
        return subprocess.run([sys.executable, str(script), *tiled], capture_output=True, text=True, cwd=REPO,
                              env=env, timeout=300)

    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {("train", "smoke"): pool.submit(run_command, "keras_style.trainers.train_adain", *train_good)}
        futures[("transfer", "tiled")] = pool.submit(counting)
        for name, args in good.items():
            futures[("transfer", name)] = pool.submit(run_command, "keras_style.cli.transfer", *args, env=work["env"])
        for name, (args, _) in bad.items():
            futures[("bad", name)] = pool.submit(run_command, "keras_style.cli.transfer", *args, env=work["env"])
        for name, (args, _) in train_bad.items():
            futures[("train_bad", name)] = pool.submit(run_command, "keras_style.trainers.train_adain", *args)
        results = {key: future.result() for key, future in futures.items()}
    return {"results": results, "bad": bad, "train_bad": train_bad}


@pytest.fixture(scope="module")
def stylizer(work):
    from keras_style.inference import load_stylizer

    return load_stylizer(work["model"])


def _ok(result):
    assert result.returncode == 0, result.stderr
    return result


def test_tiled_run_encodes_each_style_once(work, runs):
    result = _ok(runs["results"][("transfer", "tiled")])
    counts = json.loads(result.stdout.split("COUNTS ", 1)[1])
    # One prepare_style, one style_encode per style image, one stylize per tile (2 x 3).
    assert counts == {"prepare_style": 1, "encode_style": 2, "stylize_statistics": 6}, counts
    assert _load(work["root"] / "out" / "tiled.png").shape == (HEIGHT, WIDTH, 3)


def test_whole_image_alpha_and_weights_match_the_stylizer(work, runs, stylizer):
    root = work["root"]
    content = _load(root / "content" / "big.png")
    a, b = _load(root / "a.png"), _load(root / "b.png")
    _ok(runs["results"][("transfer", "whole")])
    _ok(runs["results"][("transfer", "weights")])
    style_a = stylizer.prepare_style([a])
    raw_a = stylizer.stylize(content, style=style_a, alpha=0.5)
    expected = {
        # The palette step is on by default, in full at any alpha.
        "whole": style_a.palette.apply(raw_a),
        "weights": stylizer.stylize(content, style=stylizer.prepare_style([a, b], [0.7, 0.3])),  # --nostyle_palette
    }
    for name, reference in expected.items():
        written = _load(root / "out" / f"{name}.png")
        assert np.abs(written - np.clip(np.round(reference), 0, 255)).max() <= 1, name
    assert np.abs(_load(root / "out" / "whole.png") - _load(root / "out" / "weights.png")).mean() > 0.1
    # The palette step moves the mean colour onto the painting's (the raw output is off by more).
    mean_a = style_a.palette.moments[0].mean
    assert np.abs(_load(root / "out" / "whole.png").reshape(-1, 3).mean(axis=0) - mean_a).max() < 2.0
    assert np.abs(raw_a.reshape(-1, 3).mean(axis=0) - mean_a).max() > 5.0


def test_masks_route_styles_like_the_library(work, runs, stylizer):
    root = work["root"]
    _ok(runs["results"][("transfer", "masks")])
    content, a, b = _load(root / "content" / "big.png"), _load(root / "a.png"), _load(root / "b.png")
    left = (_load(root / "left.png")[..., 0] / 255.0).astype(np.float32)
    masked = stylizer.stylize(content, style=stylizer.prepare_style([a, b], [1, 3]), alpha=0.9,
                              masks=[left, 1.0 - left])
    written = _load(root / "out" / "masks.png")
    assert np.abs(written - np.clip(np.round(masked), 0, 255)).max() <= 1
    # Away from the seam, each half is that style alone.
    alone = {k: stylizer.stylize(content, style=stylizer.prepare_style([s]), alpha=0.9)
             for k, s in (("a", a), ("b", b))}
    assert np.abs(written[:, :24] - np.clip(alone["a"][:, :24], 0, 255)).mean() < 2.0
    assert np.abs(written[:, -24:] - np.clip(alone["b"][:, -24:], 0, 255)).mean() < 2.0


def test_compute_size_scales_the_style_with_the_content(work, runs, stylizer):
    from keras_style import image_io

    root = work["root"]
    _ok(runs["results"][("transfer", "compute")])
    content, style = _load(root / "content" / "big.png"), _load(root / "c.png")
    work_image = np.clip(image_io.resize_long_side(content, 36), 0, 255)
    assert work_image.shape[:2] == (20, 36)

    def pipeline(style_image):
        prepared = stylizer.prepare_style([style_image])
        small = prepared.palette.apply(stylizer.stylize(work_image, style=prepared, alpha=0.7))
        return np.clip(np.round(np.clip(image_io.resize_image(small, content.shape[:2]), 0, 255)), 0, 255)

    half_style = np.clip(image_io.resize_long_side(style, 80), 0, 255)
    assert half_style.shape[:2] == (64, 80)
    written = _load(root / "out" / "compute.png")
    assert written.shape == (HEIGHT, WIDTH, 3)
    assert np.abs(written - pipeline(half_style)).max() <= 1
    # The unscaled style gives another picture: the scaling is not a no-op.
    assert np.abs(written - pipeline(style)).mean() > 5.0  # measured 13.5


def test_scaled_styles_keep_a_floor_and_never_enlarge():
    from keras_style.inference.pipeline import MIN_SCALED_STYLE_SIZE, scaled_styles

    big, small = np.zeros((300, 400, 3), np.float32), np.zeros((40, 50, 3), np.float32)
    assert [s.shape for s in scaled_styles([big, small], 0.375)] == [(112, 150, 3), (40, 50, 3)]
    assert scaled_styles([big], 0.1)[0].shape == (48, MIN_SCALED_STYLE_SIZE, 3)
    assert scaled_styles([big], 1.0)[0] is big


def test_histogram_colour_preservation(work, runs):
    root = work["root"]
    _ok(runs["results"][("transfer", "histogram")])
    assert _load(root / "out" / "histogram.png").shape == (HEIGHT, WIDTH, 3)


def test_tflite_pair_folder_tiled(work, runs):
    result = _ok(runs["results"][("transfer", "tflite_folder")])
    assert "stylizing (tflite)" in result.stderr
    out = work["root"] / "out" / "tflite"
    assert sorted(os.listdir(out)) == ["big.png", "small.png"]
    assert _load(out / "big.png").shape == (HEIGHT, WIDTH, 3)
    assert _load(out / "small.png").shape == (24, 32, 3)


@pytest.mark.parametrize("case", ["missing_style", "no_style", "mask_size", "alpha_high", "alpha_negative",
                                  "weights_count", "weights_negative", "weights_text", "masks_count",
                                  "mask_with_tile", "mask_with_tflite", "palette_and_preserve"])
def test_bad_input_one_line_error_and_no_output(work, runs, case):
    _, message = runs["bad"][case]
    assert_one_line_error(runs["results"][("bad", case)], message)
    assert not [n for n in os.listdir(work["root"] / "out") if n.startswith("x")]  # no output, no temporaries


def test_train_smoke_run_exports_a_loadable_model(work, runs):
    import tensorflow as tf

    from keras_style.inference import read_metadata

    result = _ok(runs["results"][("train", "smoke")])
    assert "done: loss" in result.stderr
    assert_no_native_start_up_lines(result.stderr)
    export = work["root"] / "train" / "smoke_export"
    loaded = tf.saved_model.load(str(export))
    assert {"serving_default", "style_encode", "stylize", "stylize_masked"} <= set(loaded.signatures)
    metadata = read_metadata(export)
    assert metadata["kind"] == "adain"
    assert metadata["training"]["train_steps"] == 4 and metadata["training"]["crop_size"] == 32
    assert metadata["training"]["style_short_side_range"] == [32, 64] and metadata["training"]["flip_styles"]
    stats = loaded.signatures["style_encode"](style=tf.zeros([1, 16, 16, 3]))["style_statistics"]
    out = loaded.signatures["stylize"](content=tf.fill([1, 24, 16, 3], 100.0), style_statistics=stats,
                                      alpha=tf.constant([1.0]))["stylized"]
    assert out.shape == (1, 24, 16, 3) and np.isfinite(out.numpy()).all()


@pytest.mark.parametrize("case", ["crop", "short_sides", "missing_styles", "tflite_without_export", "export_exists",
                                  "strategy", "style_short_sides"])
def test_train_bad_flags_fail_up_front(work, runs, case):
    _, message = runs["train_bad"][case]
    assert_one_line_error(runs["results"][("train_bad", case)], message)
    assert not (work["root"] / "train" / f"b{list(runs['train_bad']).index(case) + 1}").exists()
    assert (work["root"] / "train_exists" / "export" / "keep.txt").read_text() == "keep"
