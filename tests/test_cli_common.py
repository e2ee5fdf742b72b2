"""keras_style.cli.common: how every command ends (issue 15).

SIGTERM ends a command like Ctrl-C (temporary files removed, one error line, exit 143),
and the out-of-memory message names only flags the command has. Each case runs a tiny
absl program (no TensorFlow) in a subprocess, as a user's shell would.
"""

import os
import signal
import subprocess
import sys
import threading

from conftest import CONTENT_IMAGE, REPO, STYLE_IMAGE, assert_one_line_error

SLOW_SAVE = r'''
import time

import numpy as np
from absl import flags
from PIL import Image

from keras_style import image_io
from keras_style.cli import common

_OUT = flags.DEFINE_string("out", None, "Output image.")


def slow_save(self, fp, *args, **kwargs):
    fp.write(b"\x89PNG\r\n\x1a\n half an image")
    fp.flush()
    print("saving", flush=True)
    time.sleep(120)  # a big image being encoded when the SIGTERM comes


def main(argv):
    Image.Image.save = slow_save
    image_io.save_image(np.zeros((8, 8, 3), np.uint8), _OUT.value)


if __name__ == "__main__":
    common.run(main)
'''

OUT_OF_MEMORY = r'''
from absl import flags

from keras_style.cli import common

flags.DEFINE_integer("tile", 0, "Tile size.")
flags.DEFINE_integer("max_size", None, "Long side.")


def main(argv):
    raise MemoryError()


if __name__ == "__main__":
    common.run(main)
'''


def _script(tmp_path, source):
    path = tmp_path / "program.py"
    path.write_text(source)
    return str(path)


# The program imports keras_style from this checkout (a script's own folder is on sys.path, not the cwd).
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO, *filter(None, [os.environ.get("PYTHONPATH")])]))


def _watchdog(process, seconds=240):
    timer = threading.Timer(seconds, process.kill)
    timer.daemon = True
    timer.start()
    return timer


def test_sigterm_during_a_save_removes_the_temp_file_and_exits_143(tmp_path):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    process = subprocess.Popen(
        [sys.executable, _script(tmp_path, SLOW_SAVE), f"--out={out_dir / 'img_07.png'}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=ENV,
    )
    timer = _watchdog(process)
    try:
        assert process.stdout.readline().strip() == "saving", process.communicate()[1]
        temp = os.listdir(out_dir)
        assert len(temp) == 1 and temp[0].startswith(".img_07.png.")  # the half-written temp file
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        timer.cancel()
        process.kill()
    assert process.returncode == 143, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines == ["error: terminated"], stderr
    assert os.listdir(out_dir) == []


def test_out_of_memory_names_only_the_commands_own_flags(tmp_path):
    result = subprocess.run([sys.executable, _script(tmp_path, OUT_OF_MEMORY)], capture_output=True, text=True,
                            cwd=REPO, env=ENV, timeout=120)
    line = assert_one_line_error(result, "out of memory")
    assert result.returncode == 1
    assert "--tile" in line and "--max_size" in line
    assert "--image_size" not in line  # this command has no such flag


def test_style_gatys_sigterm_mid_optimisation(tmp_path, vgg19_weights_path):
    out = tmp_path / "out.png"
    process = subprocess.Popen(
        [sys.executable, "-m", "keras_style.cli.gatys", f"--content_image={CONTENT_IMAGE}",
         f"--style_images={STYLE_IMAGE}", f"--output_image={out}", "--image_size=48", "--iterations=100000",
         "--style_layers=relu1_1,relu2_1", "--content_layers=relu2_1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )
    timer = _watchdog(process)
    seen = []
    try:
        for line in process.stderr:  # the progress bar's first line: the optimisation is running
            seen.append(line)
            if line.startswith("stage 1/1"):
                break
        assert seen and seen[-1].startswith("stage 1/1"), "".join(seen)
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=120)
    finally:
        timer.cancel()
        process.kill()
    stderr = "".join(seen) + rest
    assert process.returncode == 143, stderr
    assert "Traceback" not in stderr
    assert [line for line in rest.splitlines() if line.strip()][-1] == "error: terminated", stderr
    assert os.listdir(tmp_path) == []  # no output, no temporary file
