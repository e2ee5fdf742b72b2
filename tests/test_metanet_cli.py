"""MetaNet commands end to end: style_transfer, style_export, style_metanet_extract and
style_train_metanet, each a subprocess (started together by one fixture: each pays
TensorFlow's start-up), with a tiny exported MetaNet (random weights, base 4).
"""

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from conftest import STYLE_IMAGE, STYLE_IMAGE_2, assert_no_native_start_up_lines, assert_one_line_error, run_command
from test_metanet_export import shared_metanet_saved_model, shared_metanet_tflite

SIZES = {"a.png": (40, 52), "b.png": (33, 47)}  # (height, width)
TILE = ["--tile=24", "--tile_overlap=8"]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    root = tmp_path_factory.mktemp("metanet_cli")
    content = root / "content"
    content.mkdir()
    rng = np.random.default_rng(0)
    for name, (h, w) in SIZES.items():
        # Smooth gradients plus noise: the VGG statistics of pure noise are untypical.
        y, x = np.mgrid[0:h, 0:w]
        image = np.stack([255 * x / w, 255 * y / h, 128 + 60 * np.sin(x / 5.0)], -1) + rng.normal(0, 20, (h, w, 3))
        Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(content / name)
    for d in ("out", "bad", "export_int8"):
        (root / d).mkdir()
    return {
        "root": root,
        "content": content,
        "saved_model": shared_metanet_saved_model(tmp_path_factory),
        "tflite": shared_metanet_tflite(tmp_path_factory, "float16")["stylize_with_weights"],
    }


def _commands(w):
    root, sm, content = w["root"], w["saved_model"], w["content"]
    a = str(content / "a.png")
    styles = f"--style={STYLE_IMAGE},{STYLE_IMAGE_2}"
    transfer = "keras_style.cli.transfer"
    extract = "keras_style.cli.metanet_extract"
    bad = root / "bad"
    return {
        # Good runs.
        # float32, to compare with the library to 1 level (the bfloat16 default: "one_default").
        "one": (transfer, f"--model={sm}", f"--content={a}", f"--output={root}/out/one.png", f"--style={STYLE_IMAGE}",
                "--precision=float32"),
        "one_default": (transfer, f"--model={sm}", f"--content={a}", f"--output={root}/out/one_default.png",
                        f"--style={STYLE_IMAGE}", "--precision=bfloat16"),
        "tiled": (transfer, f"--model={sm}", f"--content={content}", f"--output_dir={root}/out/tiled", styles,
                  "--style_weights=1,3", "--alpha=0.6", "--precision=float32", *TILE),
        "tflite": (transfer, f"--model={w['tflite']}", f"--content={a}", f"--output={root}/out/tflite.png",
                   f"--style={STYLE_IMAGE}", *TILE),
        "export": ("keras_style.cli.export", f"--saved_model={sm}", f"--tflite={root}/out/pair.tflite",
                   "--quantize=float16", "--parity_size=48"),
        "extract": (extract, f"--model={sm}", styles, "--style_weights=2,1", f"--export_dir={root}/out/standalone",
                    f"--tflite={root}/out/standalone_int8.tflite", "--quantize=int8", "--parity_size=48"),
        "train": ("trainers.train_metanet", "--flagfile=flags/metanet_smoke.cfg", f"--model_dir={root}/train",
                  f"--export_dir={root}/train/export"),
        # Bad inputs: one error line, nothing written.
        "no_style": (transfer, f"--model={sm}", f"--content={a}", f"--output={bad}/o.png"),
        "weights_count": (transfer, f"--model={sm}", f"--content={a}", f"--output={bad}/o.png", styles,
                          "--style_weights=1,2,3"),
        "weights_negative": (transfer, f"--model={sm}", f"--content={a}", f"--output={bad}/o.png", styles,
                             "--style_weights=1,-2"),
        "mask": (transfer, f"--model={sm}", f"--content={a}", f"--output={bad}/o.png", f"--style={STYLE_IMAGE}",
                 f"--mask={a}"),
        "alpha": (transfer, f"--model={sm}", f"--content={a}", f"--output={bad}/o.png", f"--style={STYLE_IMAGE}",
                  "--alpha=1.5"),
        "style_missing": (transfer, f"--model={sm}", f"--content={a}", f"--output={bad}/o.png",
                          f"--style={root}/nope.jpg"),
        "export_int8": ("keras_style.cli.export", f"--saved_model={sm}", f"--tflite={root}/export_int8/m.tflite",
                        "--quantize=int8"),
        "extract_weights": (extract, f"--model={sm}", styles, "--style_weights=1", f"--export_dir={bad}/x"),
        "extract_not_metanet": (extract, f"--model={content}", f"--style={STYLE_IMAGE}", f"--export_dir={bad}/x"),
        "train_batch": ("trainers.train_metanet", "--flagfile=flags/metanet_smoke.cfg", f"--model_dir={bad}/t",
                        "--batch_size=0"),
        "train_styles": ("trainers.train_metanet", "--flagfile=flags/metanet_smoke.cfg", f"--model_dir={bad}/t",
                         f"--style_data={root}/no_styles"),
    }


@pytest.fixture(scope="module")
def runs(work):
    commands = _commands(work)
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {name: pool.submit(run_command, *command, timeout=600) for name, command in commands.items()}
        return {name: future.result() for name, future in futures.items()}


def _ok(result):
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def _load(path):
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)


@pytest.fixture(scope="module")
def stylizer(work):
    from keras_style.inference.metanet import MetaNetSavedModelStylizer

    return MetaNetSavedModelStylizer(work["saved_model"])


def test_style_transfer_one_style_matches_the_library(work, runs, stylizer):
    from keras_style import image_io

    _ok(runs["one"])
    content = image_io.load_image(str(work["content"] / "a.png"))
    style = stylizer.prepare_style([image_io.load_image(STYLE_IMAGE)])
    raw = stylizer.stylize(content, style=style)
    expected = style.palette.apply(raw)  # the palette step is on by default
    written = _load(work["root"] / "out" / "one.png")
    assert np.abs(written - expected).max() <= 1.0
    # It gives the output the painting's mean colour, which the raw network misses.
    target = style.palette.moments[0].mean
    assert np.abs(written.reshape(-1, 3).mean(axis=0) - target).max() < 2.0
    assert np.abs(raw.reshape(-1, 3).mean(axis=0) - target).max() > 10.0


def test_style_transfer_runs_a_bfloat16_copy_close_to_float32(work, runs):
    """A MetaNet SavedModel in bfloat16 runs from a copy made once (as fast style and
    AdaIN do); the seeded test MetaNet's picture stays close to the float32 one."""
    _ok(runs["one_default"])
    assert "making a mixed_bfloat16 copy" in runs["one_default"].stderr
    bf16, f32 = _load(work["root"] / "out" / "one_default.png"), _load(work["root"] / "out" / "one.png")
    assert 10 * np.log10(255.0**2 / max(np.mean((bf16 - f32) ** 2), 1e-12)) >= 30.0


def test_style_transfer_tiled_mix_with_alpha(work, runs, stylizer):
    from keras_style import image_io
    from keras_style.inference.pipeline import StyleOptions, StylePipeline

    _ok(runs["tiled"])
    assert "wrote 2 images" in runs["tiled"].stderr
    styles = tuple(image_io.load_image(path) for path in (STYLE_IMAGE, STYLE_IMAGE_2))
    pipeline = StylePipeline(stylizer, StyleOptions(styles=styles, style_weights=(1.0, 3.0), alpha=0.6,
                                                    tile=24, overlap=8))
    for name, (h, w) in SIZES.items():
        out = _load(work["root"] / "out" / "tiled" / name)
        assert out.shape == (h, w, 3)
        content = image_io.load_image(str(work["content"] / name))
        expected = np.clip(pipeline.stylize(content), 0, 255)
        assert np.abs(out - expected).max() <= 1.0


def test_style_transfer_tflite_pair(work, runs):
    _ok(runs["tflite"])
    assert "stylizing (tflite)" in runs["tflite"].stderr
    assert _load(work["root"] / "out" / "tflite.png").shape == (*SIZES["a.png"], 3)


def test_style_export_writes_the_pair_with_parity(work, runs):
    result = runs["export"]
    _ok(result)
    out = work["root"] / "out"
    for role in ("style_to_weights", "stylize_with_weights"):
        assert (out / f"pair_{role}_fp16.tflite").is_file()
        assert f"wrote {out}/pair_{role}_fp16.tflite" in result.stderr
    line = result.stdout.strip()
    assert line.startswith("parity (float16) vs SavedModel") and "end to end max abs diff" in line, line
    assert not [p for p in os.listdir(out) if p.startswith(".")]  # no staging left


def test_style_export_refuses_full_int8(work, runs):
    message = assert_one_line_error(runs["export_int8"], "int8 conv needs constant filters")
    assert "zero_point" in message and "--quantize=float16" in message and "style_metanet_extract" in message
    assert os.listdir(work["root"] / "export_int8") == []


def test_extract_standalone_model_and_int8_tflite(work, runs, stylizer):
    from keras_style import image_io
    from keras_style.inference import load_stylizer

    result = runs["extract"]
    _ok(result)
    assert_no_native_start_up_lines(result.stderr)
    out = work["root"] / "out"
    standalone = load_stylizer(str(out / "standalone"))
    assert standalone.kind == "fast_style" and standalone.metadata["style_weights"] == pytest.approx([2 / 3, 1 / 3])
    content = image_io.load_image(str(work["content"] / "b.png"))
    styles = [image_io.load_image(p) for p in (STYLE_IMAGE, STYLE_IMAGE_2)]
    expected = stylizer.stylize_with_weights(content, stylizer.prepare_style(styles, [2.0, 1.0]).weights)
    assert np.abs(standalone.stylize(content) - expected).max() <= 1e-2
    assert (out / "standalone_int8.tflite").is_file()
    assert result.stdout.startswith("parity (int8) vs SavedModel: max abs diff")
    int8 = load_stylizer(str(out / "standalone_int8.tflite"))
    assert int8.stylize(content).shape == content.shape


def test_train_metanet_smoke_and_export_loads(work, runs):
    from keras_style import image_io
    from keras_style.inference import load_stylizer

    result = runs["train"]
    _ok(result)
    assert "done: loss" in result.stderr
    assert_no_native_start_up_lines(result.stderr)
    model = load_stylizer(str(work["root"] / "train" / "export"))
    assert model.kind == "metanet" and model.metadata["base"] == 4 and model.metadata["style_size"] == 32
    assert model.metadata["training"]["train_steps"] == 4
    content = image_io.load_image(str(work["content"] / "a.png"))
    out = model.stylize(content, style=model.prepare_style([image_io.load_image(STYLE_IMAGE)]))
    assert out.shape == content.shape and np.all(np.isfinite(out))


@pytest.mark.parametrize("case,message", [
    ("no_style", "is a MetaNet (arbitrary-style) model; pass --style"),
    ("weights_count", "--style_weights: 3 value(s) for 2 style(s)"),
    ("weights_negative", "--style_weights must be finite and >= 0"),
    ("mask", "--mask is not supported for MetaNet model"),
    ("alpha", "--alpha must be in [0, 1], got 1.5"),
    ("style_missing", "nope.jpg"),
    ("extract_weights", "--style_weights: 1 value(s) for 2 style(s)"),
    ("extract_not_metanet", "holds no saved_model.pb"),
    ("train_batch", "batch_size must be an integer >= 1"),
    ("train_styles", "no_styles"),
])
def test_bad_inputs_one_line_and_no_output(work, runs, case, message):
    assert_one_line_error(runs[case], message)
    bad = work["root"] / "bad"
    assert os.listdir(bad) == []
