"""Broken inputs that used to crash commands: int8 calibration sets that abort LiteRT,
SavedModels with missing or truncated variables, and HDF5 files that are not Keras VGG19
weights. Each gives one error line, a non-zero exit and leaves nothing behind.

The command runs are independent subprocesses, started together by one fixture (each
pays TensorFlow's start-up) and checked by the tests below.
"""

import os
import shutil
from concurrent.futures import ThreadPoolExecutor

import h5py
import numpy as np
import pytest
from PIL import Image

from conftest import CONTENT_IMAGE, REPO, STYLE_IMAGE, assert_one_line_error, run_command
from keras_style import weights
from keras_style.errors import StyleError
from keras_style.export import serving_precision, tflite

STARRY_NIGHT = os.path.join(REPO, "saved_models", "starry_night", "saved_model")


def _save_png(path, array):
    Image.fromarray(np.asarray(array, np.uint8)).save(path)
    return str(path)


def _broken_saved_models(root):
    """{name: dir}: copies of a small shipped SavedModel without variables, and with its
    variables data cut in half."""
    no_variables = root / "no_variables"
    shutil.copytree(STARRY_NIGHT, no_variables)
    shutil.rmtree(no_variables / "variables")
    truncated = root / "truncated"
    shutil.copytree(STARRY_NIGHT, truncated)
    (data,) = (truncated / "variables").glob("variables.data-*")
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    return {"no_variables": str(no_variables), "truncated": str(truncated)}


def _bad_h5_files(root):
    """{name: path}: an HDF5 file whose first VGG layer lacks `weight_names`, and one
    whose layer lists a kernel but no bias."""
    no_attr = root / "noattr.h5"
    with h5py.File(no_attr, "w") as f:
        f.create_group("block1_conv1").create_dataset("kernel", data=np.zeros((3, 3, 3, 64), np.float32))
    one_weight = root / "oneweight.h5"
    with h5py.File(one_weight, "w") as f:
        group = f.create_group("block1_conv1")
        group.attrs["weight_names"] = [b"kernel"]
        group.create_dataset("kernel", data=np.zeros((3, 3, 3, 64), np.float32))
    return {"no_attr": str(no_attr), "one_weight": str(one_weight)}


def _visible_and_hidden(directory):
    return sorted(os.listdir(directory)) if os.path.isdir(directory) else []


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{name: (CompletedProcess, output folder)} for every command below, run in parallel."""
    root = tmp_path_factory.mktemp("broken_inputs")
    rng = np.random.default_rng(0)
    images = root / "images"
    images.mkdir()
    white = _save_png(images / "white.png", np.full((16, 16, 3), 255))
    tiny = _save_png(images / "tiny.png", rng.integers(0, 256, (2, 2, 3)))
    two_by_two = _save_png(images / "two.png", np.broadcast_to([10, 20, 30], (2, 2, 3)))
    one_pixel = _save_png(images / "one.png", np.full((1, 1, 3), 40))
    mix = root / "mix"  # a plain image beside an ordinary one: calibrates fine
    mix.mkdir()
    _save_png(mix / "white.png", np.full((16, 16, 3), 255))
    _save_png(mix / "noise.png", rng.integers(0, 256, (16, 16, 3)))
    models = _broken_saved_models(root)
    h5 = _bad_h5_files(root)
    cache = str(root / "precision_cache")  # no earlier precision copy can be reused

    commands = {}

    def add(name, module, *args, env=None):
        out = root / f"out_{name}"
        out.mkdir()
        commands[name] = (module, [a.replace("{out}", str(out)) for a in args], env, str(out))

    for name, image in (("white", white), ("two_by_two", two_by_two), ("one_pixel", one_pixel)):
        add(f"export_int8_{name}", "keras_style.cli.export", f"--saved_model={STARRY_NIGHT}",
            "--tflite={out}/a.tflite", "--quantize=int8", f"--representative_images={image}", "--parity_size=16")
    add("export_int8_mix", "keras_style.cli.export", f"--saved_model={STARRY_NIGHT}", "--tflite={out}/a.tflite",
        "--quantize=int8", f"--representative_images={mix}", "--parity_size=16")
    add("metanet_int8_white", "keras_style.cli.metanet_extract", "--model=metanet", f"--style={STYLE_IMAGE}",
        "--export_dir={out}/e", "--tflite={out}/a.tflite", "--quantize=int8", f"--representative_images={white}",
        "--parity_size=16")
    for name, model in models.items():
        env = {"KERAS_STYLE_CACHE": cache}
        add(f"transfer_{name}", "keras_style.cli.transfer", f"--model={model}", f"--content={tiny}",
            "--output={out}/a.png", env=env)
        add(f"transfer_float32_{name}", "keras_style.cli.transfer", f"--model={model}", "--precision=float32",
            f"--content={tiny}", "--output={out}/a.png", env=env)
        add(f"export_tflite_{name}", "keras_style.cli.export", f"--saved_model={model}", "--tflite={out}/a.tflite")
        add(f"export_bfloat16_{name}", "keras_style.cli.export", f"--saved_model={model}", "--precision=bfloat16",
            "--export_dir={out}/e", env=env)
        # The precision copy path (style_batch's own float32 loading is not covered here).
        add(f"batch_{name}", "keras_style.cli.batch", f"--input={tiny}", f"--model={model}",
            "--precision=bfloat16", "--output_dir={out}/d", env=env)
    keras_home = str(root / "keras_home")  # style_fetch_weights must not touch the real cache
    for name, path in h5.items():
        add(f"fetch_{name}", "keras_style.cli.fetch_weights", f"--source={path}", env={"KERAS_HOME": keras_home})
        add(f"gatys_{name}", "keras_style.cli.gatys", f"--weights={path}", f"--content_image={CONTENT_IMAGE}",
            f"--style_images={STYLE_IMAGE}", "--output_image={out}/g.png", "--iterations=1")

    def run(item):
        name, (module, args, env, out) = item
        return name, (run_command(module, *args, env=env), out)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = dict(pool.map(run, commands.items()))
    results["models"] = models
    results["keras_home"] = keras_home
    return results


def _assert_failed_cleanly(runs, name, contains):
    result, out = runs[name]
    line = assert_one_line_error(result, contains)
    assert result.returncode == 2, result.stderr
    assert _visible_and_hidden(out) == [], _visible_and_hidden(out)  # hidden staging folders included
    return line


# --- int8 calibration ---------------------------------------------------------------------


@pytest.mark.parametrize("image", ["white", "two_by_two", "one_pixel"])
def test_int8_export_refuses_a_set_that_cannot_calibrate(runs, image):
    line = _assert_failed_cleanly(runs, f"export_int8_{image}", "cannot calibrate int8")
    assert "one plain colour or at most 2x2 pixels" in line


def test_int8_metanet_extract_refuses_a_plain_set_before_writing(runs):
    _assert_failed_cleanly(runs, "metanet_int8_white", "cannot calibrate int8")


def test_int8_calibrates_on_a_plain_image_beside_an_ordinary_one(runs):
    result, out = runs["export_int8_mix"]
    assert result.returncode == 0, result.stderr
    assert _visible_and_hidden(out) == ["a.tflite"]


def test_check_representative_images_refuses_only_all_degenerate_sets():
    # Raw arrays: the commands scale a 2x2 file up to --parity_size, where it calibrates.
    plain = np.full((8, 8, 3), 255.0, np.float32)
    tiny = np.random.default_rng(0).uniform(0, 255, (2, 2, 3)).astype(np.float32)
    ordinary = np.random.default_rng(1).uniform(0, 255, (2, 3, 3)).astype(np.float32)
    with pytest.raises(StyleError, match="cannot calibrate int8"):
        tflite.check_representative_images([plain, tiny])
    with pytest.raises(StyleError, match="needs representative images"):
        tflite.check_representative_images([])
    assert len(tflite.check_representative_images([plain, tiny, ordinary])) == 3


# --- SavedModels with missing or truncated variables ----------------------------------------


@pytest.mark.parametrize("model", ["no_variables", "truncated"])
@pytest.mark.parametrize("command", ["transfer", "transfer_float32", "export_tflite", "export_bfloat16", "batch"])
def test_broken_saved_model_is_one_line(runs, command, model):
    path = runs["models"][model]
    line = _assert_failed_cleanly(runs, f"{command}_{model}", f"cannot load SavedModel '{path}': ")
    assert "different device" not in line  # TensorFlow's misleading advice is dropped
    if model == "truncated":
        assert "Read less bytes than requested" in line


def test_precision_cache_key_follows_the_variables_data(tmp_path):
    model = tmp_path / "model"
    shutil.copytree(STARRY_NIGHT, model)
    before = serving_precision._fingerprint(str(model))
    assert serving_precision._fingerprint(str(model)) == before
    (data,) = (model / "variables").glob("variables.data-*")
    stat = data.stat()
    data.write_bytes(bytes(stat.st_size))  # same size, other weights: the index is unchanged
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert serving_precision._fingerprint(str(model)) != before


# --- HDF5 files that are not Keras VGG19 weights --------------------------------------------


@pytest.mark.parametrize("h5", ["no_attr", "one_weight"])
@pytest.mark.parametrize("command", ["fetch", "gatys"])
def test_bad_vgg_weights_file_is_one_line(runs, command, h5):
    _assert_failed_cleanly(runs, f"{command}_{h5}", "is not a Keras VGG19 weights file")
    assert not os.path.exists(os.path.join(runs["keras_home"], "models"))


@pytest.mark.parametrize("h5", ["no_attr", "one_weight"])
def test_read_keras_h5_names_the_bad_layer(tmp_path, h5):
    path = _bad_h5_files(tmp_path)[h5]
    with pytest.raises(StyleError, match=r"is not a Keras VGG19 weights file \(layer 'block1_conv1'"):
        weights.read_keras_h5(path, "vgg19")
