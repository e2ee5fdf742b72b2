"""style_transfer end to end (file, folder, glob + list) and every bad input.

All command runs are independent subprocesses, started together by one fixture
(each pays TensorFlow's start-up) and checked by the tests below.
"""

import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from conftest import CONTENT_IMAGE, assert_no_native_start_up_lines, assert_one_line_error, run_command
from test_export import shared_saved_model, shared_tflite

SIZES = {"a.png": (30, 40), "b.jpg": (36, 24), "c.png": (23, 17)}  # (height, width)


def _writable(directory):
    try:
        with tempfile.TemporaryFile(dir=directory):
            return True
    except OSError:
        return False


def _unwritable_dir(root):
    """A directory this process cannot write to (root ignores permission bits)."""
    locked = root / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    if not _writable(locked):
        return str(locked)
    if os.path.isdir("/sys") and not _writable("/sys"):
        return "/sys"
    return None


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    root = tmp_path_factory.mktemp("transfer")
    content = root / "content"
    content.mkdir()
    rng = np.random.default_rng(0)
    for name, (h, w) in SIZES.items():
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(content / name)
    bad = root / "bad"
    bad.mkdir()
    Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(bad / "ok.png")
    (bad / "corrupt.jpg").write_bytes((content / "b.jpg").read_bytes()[:300])
    models = root / "models"
    shutil.copytree(shared_saved_model(tmp_path_factory), models / "toy" / "saved_model")
    tflite = shared_tflite(tmp_path_factory, "none")
    shutil.copy(tflite, models / "toy" / "toy_fp16.tflite")
    for d in ("o_file", "o_folder", "o_glob", "o_exist", "o_compute"):
        (root / d).mkdir()
    (root / "o_glob" / "a.png").write_bytes(b"old")  # replaced: --overwrite
    (root / "o_exist" / "a.png").write_bytes(b"keep")  # kept: no --overwrite
    Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(root / "painting.png")
    (root / "latin1.cfg").write_bytes("--max_size=8\n--style=caf\u00e9.png\n".encode("latin-1"))
    return {"root": root, "content": content, "tflite": tflite, "env": {"KERAS_STYLE_MODELS": str(models)},
            "unwritable": _unwritable_dir(root), "painting": (root / "painting.png").read_bytes()}


def _cases(w):
    root, content, tflite = w["root"], w["content"], w["tflite"]
    cases = {
        "file": [f"--model={tflite}", f"--content={content / 'a.png'}", f"--output={root / 'o_file' / 'out.png'}",
                 "--tile=16", "--tile_overlap=4", "--preserve_color=luminance"],
        "folder": ["--model=toy", f"--content={content}", f"--output_dir={root / 'o_folder' / 'new'}",
                   "--output_format=jpg"],
        # A glob and a file, comma-separated; a shipped model's .tflite file.
        "glob": ["--model=toy", "--model_format=tflite", f"--content={content}/*.png,{content / 'b.jpg'}",
                 f"--output_dir={root / 'o_glob'}", "--max_size=16", "--overwrite"],
        # Stylized at 20 px on the long side, written at the image's 30x40.
        "compute_size": [f"--model={tflite}", f"--content={content / 'a.png'}",
                         f"--output={root / 'o_compute' / 'out.png'}", "--compute_size=20"],
        "bad_compute_size": [f"--model={tflite}", f"--content={content}", f"--output_dir={root / 'o_x5'}",
                             "--compute_size=8"],
        "missing_model": [f"--model={root / 'nope.tflite'}", f"--content={content}", f"--output_dir={root / 'o_x1'}"],
        "missing_content": [f"--model={tflite}", f"--content={content / 'missing.png'}",
                            f"--output_dir={root / 'o_x2'}"],
        "existing_output": [f"--model={tflite}", f"--content={content}", f"--output_dir={root / 'o_exist'}"],
        "corrupt_image": [f"--model={tflite}", f"--content={root / 'bad'}", f"--output_dir={root / 'o_x3'}"],
        "style_on_fast_model": ["--model=toy", f"--content={content}", f"--output_dir={root / 'o_x4'}",
                                f"--style={content / 'a.png'}"],
        # Enlarging is bounded like decoding: 10^6 px on the long side is 7.5e11 pixels.
        "huge_max_size": [f"--model={tflite}", f"--content={content / 'a.png'}", f"--output_dir={root / 'o_x6'}",
                          "--max_size=1000000"],
        "latin1_flagfile": [f"--flagfile={root / 'latin1.cfg'}", f"--model={tflite}", f"--content={content}",
                            f"--output_dir={root / 'o_x7'}"],
        # An input is never an output, --overwrite or not: the style image too (issue 15).
        "output_is_style": ["--model=adain", f"--content={content / 'a.png'}", f"--style={root / 'painting.png'}",
                            f"--output={root / 'painting.png'}", "--overwrite"],
    }
    if w["unwritable"]:
        cases["unwritable_output_dir"] = [f"--model={tflite}", f"--content={content}",
                                          f"--output_dir={w['unwritable']}"]
    return cases


@pytest.fixture(scope="module")
def runs(work):
    cases = _cases(work)
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(run_command, "keras_style.cli.transfer", *args, env=work["env"])
                   for name, args in cases.items()}
        return {name: future.result() for name, future in futures.items()}


def _size(path):
    with Image.open(path) as image:
        return image.height, image.width


def _listing(directory):
    return sorted(os.listdir(directory))  # hidden temporaries would show up here


def test_single_file_tiled_with_colour_preservation(work, runs):
    result = runs["file"]
    assert result.returncode == 0, result.stderr
    assert "stylizing (tflite)" in result.stderr and "wrote 1 image to" in result.stderr
    assert _listing(work["root"] / "o_file") == ["out.png"]
    assert _size(work["root"] / "o_file" / "out.png") == SIZES["a.png"]


def test_folder_with_shipped_model_name(work, runs):
    result = runs["folder"]
    assert result.returncode == 0, result.stderr
    # A name with both files: small images run on LiteRT (--model_format=auto), said in one line.
    assert "stylizing (tflite)" in result.stderr and result.stderr.count("runtime: LiteRT (") == 1
    out = work["root"] / "o_folder" / "new"  # created
    assert _listing(out) == ["a.jpg", "b.jpg", "c.jpg"]
    for name, size in SIZES.items():
        assert _size(out / (os.path.splitext(name)[0] + ".jpg")) == size


def test_glob_and_list_with_max_size_and_overwrite(work, runs):
    result = runs["glob"]
    assert result.returncode == 0, result.stderr
    assert "stylizing (tflite)" in result.stderr
    out = work["root"] / "o_glob"
    assert _listing(out) == ["a.png", "b.png", "c.png"]
    assert _size(out / "a.png") == (12, 16) and _size(out / "b.png") == (16, 11) and _size(out / "c.png") == (16, 12)


def test_compute_size_stylizes_smaller_and_writes_the_image_size(work, runs):
    from keras_style import image_io
    from keras_style.inference import load_stylizer

    result = runs["compute_size"]
    assert result.returncode == 0, result.stderr
    out = image_io.load_image(work["root"] / "o_compute" / "out.png")
    assert out.shape[:2] == SIZES["a.png"]
    content = image_io.load_image(work["content"] / "a.png")
    model = load_stylizer(str(work["tflite"]))
    small = np.clip(image_io.resize_long_side(content, 20), 0, 255)
    assert small.shape[:2] == (15, 20)
    expected = np.clip(image_io.resize_image(model.stylize(small), content.shape[:2]), 0, 255)
    assert np.abs(out - np.round(expected)).max() <= 1.0  # the same pipeline, up to rounding
    assert np.abs(out - np.clip(model.stylize(content), 0, 255)).mean() > 2.0  # not the full-size result


@pytest.mark.parametrize(
    "case, message",
    [
        ("bad_compute_size", "--compute_size must be at least 16 pixels, got 8"),
        ("huge_max_size", "would make it 1000000×750000 = 750000000000 pixels, over the limit of"),
        ("latin1_flagfile", "latin1.cfg) is not UTF-8 text (invalid continuation byte at byte 24)"),
        ("missing_model", "nope.tflite' not found"),
        ("missing_content", "missing.png' not found"),
        ("existing_output", "a.png' exists; pass --overwrite to replace it"),
        ("corrupt_image", "corrupt.jpg"),
        ("style_on_fast_model", "model toy is a fixed-style model; --style needs an arbitrary-style model "
                                "(adain, metanet)"),
        ("unwritable_output_dir", "cannot write to directory"),
        ("output_is_style", "is the style image itself; choose another output"),
    ],
)
def test_bad_input_one_line_and_no_outputs(work, runs, case, message):
    if case not in runs:
        pytest.skip("no unwritable directory available (running as root without a read-only /sys)")
    assert_one_line_error(runs[case], message)
    root = work["root"]
    for name in ("o_x1", "o_x2", "o_x3", "o_x4", "o_x5", "o_x6", "o_x7"):
        assert not (root / name).exists(), name  # the output directory is not even created
    assert _listing(root / "o_exist") == ["a.png"] and (root / "o_exist" / "a.png").read_bytes() == b"keep"
    assert (root / "painting.png").read_bytes() == work["painting"]
    if work["unwritable"] and work["unwritable"] != "/sys":
        assert _listing(work["unwritable"]) == []


def test_a_successful_run_prints_no_tensorflow_start_up_lines(tmp_path):
    """TensorFlow's first import, wherever a command makes it (here: the precision
    choice), goes through `native_logs.import_tensorflow`, so none of its native
    start-up lines ("I0000 ... oneDNN custom operations", the absl preamble) show."""
    result = run_command("keras_style.cli.transfer", "--model=starry_night", "--model_format=saved_model",
                         f"--content={CONTENT_IMAGE}", "--max_size=32", f"--output={tmp_path / 'out.png'}")
    assert result.returncode == 0, result.stderr
    assert_no_native_start_up_lines(result.stderr)
    assert "precision: " in result.stderr and "wrote 1 image" in result.stderr
