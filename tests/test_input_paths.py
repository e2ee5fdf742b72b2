"""No command writes into or over its own inputs, however the paths are spelled; an
existing path is always taken literally; a path that is not a file says what it is
(issue 40, items 1, 2 and 13)."""

import json
import os
import shutil
import threading

import numpy as np
import pytest
from absl import flags

from conftest import CONTENT_IMAGE, REPO, STYLE_IMAGE, assert_one_line_error, run_command
from keras_style import files, image_io
from keras_style.cli import common
from keras_style.errors import StyleError

SHIPPED = os.path.join(REPO, "saved_models")
STARRY_TFLITE = os.path.join(SHIPPED, "starry_night", "starry_night_fp16.tflite")


def snapshot(root):
    """{relative path: (size, mtime_ns, sha of the first bytes)} of every file under `root`
    (or of `root` itself): what a refused command must leave exactly as it was."""
    root = str(root)
    paths = [root] if os.path.isfile(root) else [
        os.path.join(d, n) for d, _, names in os.walk(root) for n in names]
    found = {}
    for path in sorted(paths):
        st = os.stat(path)
        with open(path, "rb") as f:
            head = f.read(1 << 16)
        found[os.path.relpath(path, root)] = (st.st_size, st.st_mtime_ns, hash(head))
    return found


def listing(root):
    return sorted(os.path.relpath(os.path.join(d, n), root) for d, dirs, names in os.walk(root) for n in names + dirs)


@pytest.fixture
def metanet_copy(tmp_path):
    """A copy of the shipped MetaNet SavedModel (26 MB: copied, never loaded when refused)."""
    path = tmp_path / "models" / "metanet" / "saved_model"
    shutil.copytree(os.path.join(SHIPPED, "metanet", "saved_model"), path)
    return path


@pytest.fixture
def fast_copy(tmp_path):
    """A copy of the shipped starry_night fast-style SavedModel (1 MB)."""
    path = tmp_path / "models" / "starry" / "saved_model"
    shutil.copytree(os.path.join(SHIPPED, "starry_night", "saved_model"), path)
    return path


# --- item 1: an output over, around or inside an input ------------------------------------------


def test_metanet_extract_refuses_to_replace_its_own_model(metanet_copy, tmp_path):
    link = tmp_path / "link"
    os.symlink(metanet_copy.parent, link)
    before = snapshot(metanet_copy)
    # The same directory spelled through a symlink and through "..".
    for model, export_dir in ((link / "saved_model", metanet_copy),
                              (metanet_copy, tmp_path / "models" / "x" / ".." / "metanet" / "saved_model")):
        (tmp_path / "models" / "x").mkdir(exist_ok=True)
        result = run_command("keras_style.cli.metanet_extract", f"--model={model}", f"--style={STYLE_IMAGE}",
                             f"--export_dir={export_dir}", "--overwrite")
        assert_one_line_error(result, "is the MetaNet --model itself; choose another output")
    assert snapshot(metanet_copy) == before
    assert json.loads((metanet_copy / "keras_style.json").read_text())["kind"] == "metanet"
    assert not [n for n in os.listdir(metanet_copy.parent) if n.startswith(".")]  # no staging left


def test_metanet_extract_refuses_an_export_inside_its_model(metanet_copy):
    before = snapshot(metanet_copy)
    result = run_command("keras_style.cli.metanet_extract", f"--model={metanet_copy}", f"--style={STYLE_IMAGE}",
                         f"--export_dir={metanet_copy / 'variables' / '..' / 'baked'}")
    assert_one_line_error(result, "is inside the MetaNet --model")
    assert snapshot(metanet_copy) == before


def test_style_export_refuses_outputs_inside_the_saved_model(fast_copy, tmp_path):
    link = tmp_path / "link"
    os.symlink(fast_copy, link)
    before = snapshot(fast_copy)
    copy = run_command("keras_style.cli.export", f"--saved_model={fast_copy}", "--weights_dtype=float16",
                       f"--export_dir={fast_copy / 'variables' / '..' / 'half'}")
    assert_one_line_error(copy, "is inside the SavedModel it copies")
    tflite = run_command("keras_style.cli.export", f"--saved_model={fast_copy}", f"--tflite={link / 'm.tflite'}")
    assert_one_line_error(tflite, "is inside the SavedModel")
    # An export folder that would replace the folder holding the SavedModel.
    around = run_command("keras_style.cli.export", f"--saved_model={link}", "--weights_dtype=float16",
                         f"--export_dir={fast_copy.parent}", "--overwrite")
    assert_one_line_error(around)
    assert snapshot(fast_copy) == before and listing(fast_copy.parent) == ["saved_model"] + [
        os.path.join("saved_model", p) for p in listing(fast_copy)]


def test_style_transfer_refuses_an_output_inside_its_model(fast_copy, tmp_path):
    link = tmp_path / "link"
    os.symlink(fast_copy, link)
    before = snapshot(fast_copy)
    result = run_command("keras_style.cli.transfer", f"--model={fast_copy}", f"--content={CONTENT_IMAGE}",
                         f"--output={link / 'out.png'}")
    assert_one_line_error(result, "is inside the model")
    assert snapshot(fast_copy) == before


def test_style_batch_refuses_an_output_dir_inside_its_model(fast_copy, tmp_path):
    pytest.importorskip("apache_beam")
    from keras_style.batch.beam_pipeline import BatchConfig, run_batch

    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(CONTENT_IMAGE, photos / "a.jpg")
    before = snapshot(fast_copy)
    with pytest.raises(StyleError, match="is inside the --model"):
        run_batch(BatchConfig(input=str(photos), model=str(fast_copy),
                              output_dir=str(fast_copy / "variables" / ".." / "styled")))
    assert snapshot(fast_copy) == before


def test_style_train_refuses_to_export_over_init_from_and_checkpoints_in_the_data(fast_copy, tmp_path):
    photos = tmp_path / "data" / "photos"
    photos.mkdir(parents=True)
    shutil.copy(CONTENT_IMAGE, photos / "a.jpg")
    link = tmp_path / "link"
    os.symlink(fast_copy, link)
    before, data_before = snapshot(fast_copy), snapshot(photos)
    common_args = [f"--style_image={STYLE_IMAGE}", f"--content_data={photos}", "--train_steps=1"]
    over_init = run_command("keras_style.trainers.train_fast", *common_args, f"--model_dir={tmp_path / 'run'}",
                            f"--init_from={fast_copy}", f"--export_dir={link}", "--overwrite")
    assert_one_line_error(over_init, "is the --init_from model itself")
    in_data = run_command("keras_style.trainers.train_fast", *common_args,
                          f"--model_dir={photos / '..'}")
    assert_one_line_error(in_data, "contains the --content_data image")
    assert snapshot(fast_copy) == before and snapshot(photos) == data_before
    assert not (tmp_path / "run").exists() and listing(tmp_path / "data") == ["photos", "photos/a.jpg"]


def test_style_evaluate_refuses_an_output_dir_holding_its_images(tmp_path):
    from keras_style.evaluation import evaluate
    from keras_style.evaluation.evaluate import EvaluationConfig

    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(CONTENT_IMAGE, photos / "a.jpg")
    before = snapshot(photos)
    config = EvaluationConfig(content=str(photos), style=STYLE_IMAGE, methods=[STARRY_TFLITE],
                              output_dir=str(photos / "." / ".." / "photos"))
    with pytest.raises(StyleError, match="contains the content image"):
        evaluate(config)
    assert snapshot(photos) == before and os.listdir(photos) == ["a.jpg"]


def test_check_not_an_input_spellings(tmp_path):
    model = tmp_path / "m" / "saved_model"
    (model / "variables").mkdir(parents=True)
    os.symlink(model, tmp_path / "link")
    inputs = [("model", model)]
    files.check_not_an_input([tmp_path / "m" / "other", tmp_path / "out.png"], inputs)  # beside it: fine
    for output, words in ((tmp_path / "link", "is the model itself"),
                          (tmp_path / "m" / "x" / ".." / "saved_model" / "v", "is inside the model"),
                          (tmp_path / "link" / "..", "contains the model")):
        with pytest.raises(StyleError, match=words):
            files.check_not_an_input([output], inputs)
    # A holder (the training --model_dir) may take the export inside it, not be or hold it.
    files.check_not_an_input([model / "export"], [], holders=inputs)
    with pytest.raises(StyleError, match="contains the model"):
        files.check_not_an_input([tmp_path / "m"], [], holders=inputs)


# --- item 2: an existing path is taken literally ------------------------------------------------


def _photo(path, size):
    image_io.save_image(image_io.resize_image(image_io.load_image(CONTENT_IMAGE, max_size=64), size), path)


@pytest.mark.parametrize("with_lookalike", [True, False])
def test_style_transfer_takes_a_bracketed_name_literally(tmp_path, with_lookalike):
    _photo(tmp_path / "photo[1].png", (24, 40))
    if with_lookalike:
        _photo(tmp_path / "photo1.png", (32, 32))  # what the glob photo[1].png matches
    out = tmp_path / "out.png"
    result = run_command("keras_style.cli.transfer", f"--model={STARRY_TFLITE}",
                         f"--content={tmp_path / 'photo[1].png'}", f"--output={out}")
    assert result.returncode == 0, result.stderr
    assert image_io.load_image(out).shape == (24, 40, 3)  # photo[1].png's size, not photo1.png's


def test_style_batch_takes_a_bracketed_name_literally(tmp_path):
    pytest.importorskip("apache_beam")
    from keras_style.batch.beam_pipeline import BatchConfig, expand_inputs, plan_outputs

    _photo(tmp_path / "photo[1].png", (24, 40))
    _photo(tmp_path / "photo1.png", (32, 32))
    spec = str(tmp_path / "photo[1].png")
    assert expand_inputs(spec) == [spec]
    jobs = plan_outputs(expand_inputs(spec), BatchConfig(input=spec, model="x", output_dir=str(tmp_path / "o")))
    assert jobs == [(spec, str(tmp_path / "o" / "photo[1].png"))]
    (tmp_path / "photo1.png").unlink()
    assert expand_inputs(spec) == [spec]  # was "no images match"


def test_list_images_literal_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("photo[1].png", "photo1.png", "what?.png", "star*.png", "a,b.png", "c.png"):
        _photo(tmp_path / name, (8, 8))
    assert image_io.list_images("photo[1].png") == ["photo[1].png"]
    assert image_io.list_images("what?.png") == ["what?.png"]
    assert image_io.list_images("star*.png") == ["star*.png"]
    assert image_io.list_images("photo[1].png,c.png") == ["photo[1].png", "c.png"]
    assert image_io.list_images("a,b.png") == ["a,b.png"]
    assert image_io.list_images("c.png,a,b.png") == ["c.png", "a,b.png"]
    assert image_io.list_images("photo[0-1].png") == ["photo1.png"]  # no such file: still a pattern
    with pytest.raises(StyleError, match="image 'a' not found"):
        image_io.list_images("a,c.png")


def test_style_transfer_content_with_a_comma(tmp_path):
    _photo(tmp_path / "a,b.png", (24, 40))
    out = tmp_path / "out.png"
    result = run_command("keras_style.cli.transfer", f"--model={STARRY_TFLITE}",
                         f"--content={tmp_path / 'a,b.png'}", f"--output={out}")
    assert result.returncode == 0, result.stderr
    assert image_io.load_image(out).shape == (24, 40, 3)


def test_path_list_flags_take_comma_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("a,b.png", "c.png"):
        _photo(tmp_path / name, (8, 8))
    values = flags.FlagValues()
    style = common.define_path_list("style", None, "Style images.", flag_values=values)
    for argument, expected in (("a,b.png", ["a,b.png"]), ("a,b.png,c.png", ["a,b.png", "c.png"]),
                               ("c.png,a,b.png", ["c.png", "a,b.png"]), ('"a,b.png",c.png', ["a,b.png", "c.png"]),
                               ("x.png,y.png", ["x.png", "y.png"])):
        values(["prog", f"--style={argument}"])
        assert style.value == expected, argument


# --- item 13: say what the path is --------------------------------------------------------------


@pytest.fixture
def odd_paths(tmp_path):
    os.symlink(tmp_path / "loop.png", tmp_path / "loop.png")
    os.mkfifo(tmp_path / "fifo.png")
    os.symlink(tmp_path / "gone.png", tmp_path / "broken.png")
    return tmp_path


@pytest.mark.parametrize("name, words", [
    ("loop.png", "is a symlink loop"),
    ("fifo.png", "is a FIFO (named pipe), not an image file"),
    ("broken.png", "is a broken symlink"),
])
def test_style_transfer_says_what_the_content_path_is(odd_paths, name, words):
    result = run_command("keras_style.cli.transfer", f"--model={STARRY_TFLITE}", f"--content={odd_paths / name}",
                         f"--output={odd_paths / 'out.png'}", timeout=120)
    line = assert_one_line_error(result, words)
    assert "not found" not in line
    assert not (odd_paths / "out.png").exists()


def test_load_image_refuses_a_fifo_without_blocking(odd_paths):
    fifo = odd_paths / "fifo.png"

    def unblock():  # a reader blocked in open() would wait for a writer forever
        fd = os.open(fifo, os.O_WRONLY)
        os.close(fd)

    writer = threading.Timer(10, unblock)
    writer.daemon = True
    writer.start()
    try:
        with pytest.raises(StyleError, match="it is a FIFO"):
            image_io.load_image(fifo)
    finally:
        writer.cancel()
    with pytest.raises(StyleError, match="it is a symlink loop"):
        image_io.load_image(odd_paths / "loop.png")
    with pytest.raises(StyleError, match="it is a character device"):
        image_io.load_image(os.devnull)


def test_model_paths_say_what_they_are(odd_paths):
    from keras_style.inference import resolve_model

    with pytest.raises(StyleError, match="model '.*loop.png' is a symlink loop"):
        resolve_model(str(odd_paths / "loop.png"))
    with pytest.raises(StyleError, match="is a FIFO"):
        resolve_model(str(odd_paths / "fifo.png"))
    assert files.path_problem(odd_paths) is not None and files.path_problem(odd_paths, directory_ok=True) is None
    assert files.path_problem(np.__file__) is None
