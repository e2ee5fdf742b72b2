"""style_batch stopped and resumed: SIGTERM and Ctrl-C mid-run, --resume, progress lines,
a quiet stderr, and the DirectRunner's multi_processing mode with two workers.

The model is a small random TransformNet exported as float32 (so no precision copy is
made); the inputs are copies of the example photos, enough of them that a run is still
going when its first output appears.
"""

import importlib.util
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import EXAMPLES, REPO, assert_one_line_error, run_command
from keras_style.batch import beam_pipeline

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("apache_beam") is None,
    reason="apache-beam is not installed (pip install 'keras-style[beam]')",
)

NUM_IMAGES = 120
SOURCES = sorted(os.listdir(os.path.join(EXAMPLES, "content")))
PROGRESS = re.compile(r"^stylizing \[[#-]+\]\s+(\d+)/(\d+)\s+[\d.]+s ?(.*)$")
MULTI_PROCESSING = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    import keras

    from keras_style.export.fast_style import export_fast_style_model
    from keras_style.models import TransformNet

    keras.utils.set_random_seed(0)
    return export_fast_style_model(TransformNet(base=16), tmp_path_factory.mktemp("faults_model") / "saved_model")


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """NUM_IMAGES PNGs: photo<i>.png is example photo i % 3 at a long side of 128 px."""
    from keras_style import image_io

    folder = tmp_path_factory.mktemp("faults_photos")
    images = [image_io.load_image(os.path.join(EXAMPLES, "content", name), max_size=128) for name in SOURCES]
    for i in range(NUM_IMAGES):
        image_io.save_image(images[i % len(images)], folder / f"photo{i:03d}.png")
    return folder


def _args(photos, model, out, *extra):
    return [f"--input={photos}", f"--model={model}", f"--output_dir={out}", "--precision=float32",
            "--progress_every=0", *extra]


def _start(photos, model, out, *extra):
    return subprocess.Popen([sys.executable, "-m", "keras_style.cli.batch", *_args(photos, model, out, *extra)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            env=dict(os.environ))


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            line = f.read()
    except OSError:
        return False
    return line[line.rfind(b")") + 2:].split()[0] != b"Z"


def _interrupt_after_first_output(process, out, signum, timeout=300):
    """Sends `signum` once an output has appeared; returns (stderr, pids of the children
    the command had then)."""
    deadline = time.monotonic() + timeout
    while not (out.is_dir() and any(name.endswith(".png") for name in os.listdir(out))):
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, "no output appeared"
        time.sleep(0.01)
    children = beam_pipeline.descendant_processes(process.pid)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    return stderr, children


def _lines(stderr):
    return [line for line in stderr.splitlines() if line.strip()]


def _progress(stderr):
    return [tuple(map(int, m.groups()[:2])) for m in map(PROGRESS.match, _lines(stderr)) if m]


def _other_lines(stderr):
    return [line for line in _lines(stderr) if not PROGRESS.match(line)]


def _stats(out):
    return {name: (st.st_ino, st.st_mtime_ns) for name in os.listdir(out) if name.endswith(".png")
            for st in [os.stat(out / name)]}


def _assert_only_whole_outputs(out):
    """Nothing but outputs (and the failures list) in `out`, each a whole, readable image."""
    from keras_style import image_io

    names = sorted(os.listdir(out))
    assert all(name.endswith(".png") or name == "style_batch_failures.txt" for name in names), names
    for name in names:
        if name.endswith(".png"):
            assert image_io.load_image(out / name).shape[2] == 3
    return [name for name in names if name.endswith(".png")]


def _assert_same_for_same_photo(out, references, atol=0):
    """photo<i>.png must be the stylized example photo i % 3 (`references`: source index -> array)."""
    from keras_style import image_io

    for name in sorted(os.listdir(out)):
        if name.endswith(".png"):
            index = int(name[len("photo"):-len(".png")])
            np.testing.assert_allclose(image_io.load_image(out / name), references[index % len(SOURCES)],
                                       atol=atol, err_msg=name)


def test_sigterm_mid_run_leaves_only_whole_outputs_and_resume_finishes(model, photos, tmp_path):
    out = tmp_path / "out"
    stderr, _ = _interrupt_after_first_output(_start(photos, model, out), out, signal.SIGTERM)
    assert "Traceback" not in stderr, stderr
    assert _other_lines(stderr) == ["error: terminated"], stderr
    written = _assert_only_whole_outputs(out)  # no beam-temp-* folder, no hidden temporary file
    assert 1 <= len(written) < NUM_IMAGES
    before = _stats(out)

    # A plain rerun is refused, and says how to go on.
    refused = run_command("keras_style.cli.batch", *_args(photos, model, out))
    assert_one_line_error(refused, "exists; pass --overwrite to replace, --resume to keep the outputs")

    resumed = run_command("keras_style.cli.batch", *_args(photos, model, out, "--resume"))
    assert resumed.returncode == 0, resumed.stderr
    todo = NUM_IMAGES - len(written)
    # Quiet: the progress lines and the summary, nothing from Beam or TensorFlow.
    assert _other_lines(resumed.stderr) == [
        f"stylized {todo} of {NUM_IMAGES} image(s) into {out} ({len(written)} skipped: their outputs exist); "
        "0 bad image(s), 0 failed; computed in float32"], resumed.stderr
    progress = _progress(resumed.stderr)
    assert progress[0] == (0, todo) and progress[-1] == (todo, todo), resumed.stderr
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)
    assert len(progress) >= 3, resumed.stderr  # --progress_every=0: a line whenever more are done
    assert "images/s" in resumed.stderr and " left" in resumed.stderr, resumed.stderr
    assert len(_assert_only_whole_outputs(out)) == NUM_IMAGES
    after = _stats(out)
    assert {name: after[name] for name in before} == before  # the first run's outputs were kept, untouched
    # Whichever run wrote them, the outputs of copies of one photo are the same picture.
    from keras_style import image_io

    _assert_same_for_same_photo(out, {i: image_io.load_image(out / f"photo{i:03d}.png") for i in range(len(SOURCES))})


def test_ctrl_c_mid_run_is_one_line_and_exit_130(model, photos, tmp_path):
    out = tmp_path / "out"
    stderr, _ = _interrupt_after_first_output(_start(photos, model, out), out, signal.SIGINT)
    assert _other_lines(stderr) == ["error: interrupted"], stderr
    assert 1 <= len(_assert_only_whole_outputs(out)) < NUM_IMAGES


@pytest.mark.slow  # two runs of three TensorFlow processes each: minutes on two busy cores
def test_multi_processing_workers_die_on_sigterm_and_resume_matches_in_process(model, photos, tmp_path):
    from keras_style import image_io
    from keras_style.batch.beam_pipeline import BatchConfig, run_batch

    # In-process outputs of the three example photos: the reference.
    sources = tmp_path / "sources"
    sources.mkdir()
    for i in range(len(SOURCES)):
        os.link(photos / f"photo{i:03d}.png", sources / f"photo{i:03d}.png")
    calls = []
    result = run_batch(BatchConfig(input=str(sources), model=str(model), output_dir=str(tmp_path / "reference")),
                       ["--runner=DirectRunner"], on_progress=lambda done, total: calls.append((done, total)))
    assert result["stylized"] == len(SOURCES) and calls[0] == (0, 3) and calls[-1] == (3, 3)
    references = {i: image_io.load_image(tmp_path / "reference" / f"photo{i:03d}.png") for i in range(len(SOURCES))}

    out = tmp_path / "out"
    process = _start(photos, model, out, *MULTI_PROCESSING)
    stderr, children = _interrupt_after_first_output(process, out, signal.SIGTERM)
    assert process.returncode == 128 + signal.SIGTERM
    assert _other_lines(stderr) == ["error: terminated"], stderr
    assert len(children) >= 2, children  # the two workers (and their shells)
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in children if _alive(pid)]
    written = _assert_only_whole_outputs(out)
    assert 1 <= len(written) < NUM_IMAGES

    resumed = run_command("keras_style.cli.batch", *_args(photos, model, out, "--resume", *MULTI_PROCESSING))
    assert resumed.returncode == 0, resumed.stderr
    # The workers' own INFO and WARNING lines are held back too.
    assert _other_lines(resumed.stderr) == [
        f"stylized {NUM_IMAGES - len(written)} of {NUM_IMAGES} image(s) into {out} ({len(written)} skipped: "
        "their outputs exist); 0 bad image(s), 0 failed; computed in float32"], resumed.stderr
    assert len(_assert_only_whole_outputs(out)) == NUM_IMAGES
    _assert_same_for_same_photo(out, references, atol=1)


def test_resume_settings_are_checked_up_front(model, photos, tmp_path):
    from keras_style.batch.beam_pipeline import BatchConfig, run_batch
    from keras_style.errors import StyleError

    with pytest.raises(StyleError, match="--resume and --overwrite cannot be combined"):
        run_batch(BatchConfig(input=str(photos), model=str(model), output_dir=str(tmp_path), resume=True,
                              overwrite=True))
    (tmp_path / "photo000.png").mkdir()
    with pytest.raises(StyleError, match="photo000.png' exists and is not a file, so --resume cannot skip"):
        run_batch(BatchConfig(input=str(photos), model=str(model), output_dir=str(tmp_path), resume=True))


def test_temporary_files_are_those_write_atomically_leaves(tmp_path):
    from keras_style import files

    names = [".a.png.0123456789abcdef", ".a.png.0123456789abcdeg", ".b.png.0123456789abcdef", "a.png",
             ".a.png.0123456789abcdef.tmp"]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    assert files.temporary_files(str(tmp_path), ["a.png"], suffix="") == [str(tmp_path / names[0])]
    assert files.temporary_files(str(tmp_path), ["a.png"]) == [str(tmp_path / names[4])]
