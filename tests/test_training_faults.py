"""Faults around a training run's model directory (issue 40 items 6-8, issue 39 item 5):
two runs on one --model_dir, damaged checkpoints, a resume with other settings, and a
two-process multi-worker cluster that is killed and restarted.

One tiny `style_train_fast` run (flags/fast_style_smoke.cfg: 32 px crops, base 4,
2 steps) gives the model directory the other tests copy and damage.
"""

import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import REPO, STYLE_IMAGE, STYLE_IMAGE_2, assert_one_line_error, run_command
from keras_style.errors import StyleError
from keras_style.training import model_dir as model_dirs

TRAIN_FAST = "keras_style.trainers.train_fast"
SMOKE = "--flagfile=flags/fast_style_smoke.cfg"


def _train(model_dir, *args, env=None):
    return run_command(TRAIN_FAST, SMOKE, f"--model_dir={model_dir}", *args, env=env)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A model directory with ckpt-2 and ckpt-4 (and run_config.json) from the CLI."""
    model_dir = tmp_path_factory.mktemp("trained") / "model"
    result = _train(model_dir, "--train_steps=4", "--summary_interval=0")
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(p for p in os.listdir(model_dir) if p.endswith(".index")) == ["ckpt-2.index", "ckpt-4.index"]
    # A run that ended (as any run that was not killed) released its lock.
    assert os.path.getsize(model_dir / model_dirs.LOCK_FILE) == 0
    return str(model_dir)


@pytest.fixture
def model_dir(trained, tmp_path):
    """A fresh copy of the trained directory."""
    copy = str(tmp_path / "model")
    shutil.copytree(trained, copy)
    return copy


def _smoke_config(style_image=STYLE_IMAGE):
    """The `FastStyleConfig` that flags/fast_style_smoke.cfg builds (paths from the repository)."""
    from keras_style.tasks.fast_style import FastStyleConfig

    return FastStyleConfig(style_image, os.path.join(REPO, "examples", "content"), crop_size=32, batch_size=2,
                           base=4, style_size=64, learning_rate=0.01, seed=0)


def _trainer(model_dir, config=None, **trainer_settings):
    from keras_style.tasks.fast_style import FastStyleTask
    from keras_style.training.trainer import Trainer, TrainerConfig

    logs = []
    trainer = Trainer(FastStyleTask(config or _smoke_config()),
                      TrainerConfig(model_dir, train_steps=6, log=logs.append, precision="float32",
                                    **trainer_settings))
    trainer.logs = logs
    return trainer


def _holder(path, name=model_dirs.LOCK_FILE):
    """A process that holds the lock of `path` until its stdin closes."""
    code = ("import sys; from keras_style.training.model_dir import ModelDirLock as L; "
            f"l = L(sys.argv[1], {name!r}); l.acquire(); print('locked', flush=True); sys.stdin.read()")
    holder = subprocess.Popen([sys.executable, "-c", code, path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, cwd=REPO)
    assert holder.stdout.readline().strip() == "locked"
    return holder


# --- item 6: one run per model directory -------------------------------------------------------


def test_a_second_run_on_a_locked_model_dir_is_refused_naming_the_first(model_dir):
    holder = _holder(model_dir)
    try:
        result = _train(model_dir, "--train_steps=6")
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert_one_line_error(result, f"--model_dir {model_dir} is in use by another training run (pid {holder.pid})")
    assert sorted(p for p in os.listdir(model_dir) if p.endswith(".index")) == ["ckpt-2.index", "ckpt-4.index"]


def test_a_lock_left_by_a_dead_process_is_taken_over_with_a_note(model_dir):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with open(os.path.join(model_dir, model_dirs.LOCK_FILE), "w") as f:
        f.write(f"{dead.pid} {socket.gethostname()}\n")
    trainer = _trainer(model_dir)
    try:
        assert trainer.logs[0] == (
            f"note: took over the lock on {model_dir} left by pid {dead.pid}, which is no longer running")
        assert trainer.initial_step == 4
        with open(os.path.join(model_dir, model_dirs.LOCK_FILE)) as f:
            assert f.read().split()[0] == str(os.getpid())
    finally:
        trainer.close()
    # Released: emptied, and another process can take it.
    assert os.path.getsize(os.path.join(model_dir, model_dirs.LOCK_FILE)) == 0
    holder = _holder(model_dir)
    holder.stdin.close()
    assert holder.wait(timeout=30) == 0


def test_the_workers_of_one_cluster_lock_separate_files(tmp_path):
    with model_dirs.ModelDirLock(str(tmp_path)):  # the chief's
        holder = _holder(str(tmp_path), model_dirs.lock_file_name("worker_1"))
        holder.stdin.close()
        assert holder.wait(timeout=30) == 0
        # This process's own Trainers share its lock (a resume in the same notebook).
        with model_dirs.ModelDirLock(str(tmp_path)):
            pass


# --- item 7: damaged checkpoints ---------------------------------------------------------------


def _truncate_data(prefix):
    path = prefix + ".data-00000-of-00001"
    os.truncate(path, os.path.getsize(path) // 3)


def _empty_index(prefix):
    open(prefix + ".index", "w").close()


def _remove_data(prefix):
    os.remove(prefix + ".data-00000-of-00001")


@pytest.mark.parametrize("damage, reason", [
    (_truncate_data, "Read less bytes than requested"),
    (_empty_index, "too short"),
    (_remove_data, "its .data file is missing"),
])
def test_a_damaged_checkpoint_falls_back_to_the_previous_one(model_dir, damage, reason):
    newest, previous = os.path.join(model_dir, "ckpt-4"), os.path.join(model_dir, "ckpt-2")
    damage(newest)
    with _trainer(model_dir) as trainer:
        assert trainer.initial_step == trainer.step == 2
        note, resumed = trainer.logs[:2]
        assert note.startswith(f"note: checkpoint {newest} (")
        assert note.endswith(f") is damaged; resuming from {previous}")
        assert reason in note, note
        assert resumed == f"resumed from step 2 ({previous})"
        assert trainer.last_checkpoint_step() == 2


def test_no_readable_checkpoint_is_one_line(model_dir):
    for step in (2, 4):
        _truncate_data(os.path.join(model_dir, f"ckpt-{step}"))
    result = _train(model_dir, "--train_steps=6")
    line = assert_one_line_error(result, f"no checkpoint in {model_dir} can be read: {model_dir}/ckpt-4 (")
    assert f"{model_dir}/ckpt-2 (" in line


# --- item 8: resuming with other settings ------------------------------------------------------


def test_run_config_records_the_settings(trained):
    with open(os.path.join(trained, model_dirs.RUN_CONFIG_FILE)) as f:
        record = json.load(f)
    model = record["model"]
    assert model["config"] == "FastStyleConfig" and model["base"] == 4 and model["crop_size"] == 32
    assert model["style_image"]["path"] == STYLE_IMAGE and len(model["style_image"]["sha256"]) == 64
    assert model["content_data"] == os.path.join(REPO, "examples", "content")
    # What may change on resume is recorded apart from what defines the model.
    assert record["schedule"]["learning_rate"] == 0.01 and record["schedule"]["train_steps"] == 4
    assert "learning_rate" not in model and "train_steps" not in model


def test_another_style_image_is_refused_before_the_model_is_built(model_dir):
    with pytest.raises(StyleError) as error:
        _trainer(model_dir, _smoke_config(STYLE_IMAGE_2))
    message = str(error.value)
    assert f"(style_image {STYLE_IMAGE} -> {STYLE_IMAGE_2})" in message, message
    assert "--allow_config_change" in message and "--init_from" in message
    # The refused run released the directory and left the record alone.
    with _trainer(model_dir) as trainer:
        assert trainer.initial_step == 4


def test_a_moved_style_image_is_the_same_style(model_dir, tmp_path):
    moved = str(tmp_path / "renamed.jpg")
    shutil.copy(STYLE_IMAGE, moved)
    with _trainer(model_dir, _smoke_config(moved)) as trainer:
        assert trainer.initial_step == 4


def test_another_base_is_refused_in_one_line_from_the_cli(model_dir):
    result = _train(model_dir, "--train_steps=6", "--base=8", "--crop_size=48")
    assert_one_line_error(result, f"--model_dir {model_dir} holds a run trained with other settings "
                                  "(base 4 -> 8; crop_size 32 -> 48)")


def test_another_base_without_a_run_config_is_one_line_with_no_warnings(model_dir):
    # A directory from before run configs were saved: the checkpoint itself does not fit.
    os.remove(os.path.join(model_dir, model_dirs.RUN_CONFIG_FILE))
    result = _train(model_dir, "--train_steps=6", "--base=8")
    assert_one_line_error(result, f"checkpoint {model_dir}/ckpt-4 does not fit this model")


def test_allow_config_change_continues_and_records_the_new_settings(model_dir):
    with _trainer(model_dir, _smoke_config(STYLE_IMAGE_2), allow_config_change=True) as trainer:
        assert trainer.initial_step == 4
        assert trainer.logs[1] == (f"continuing with changed settings (style_image {STYLE_IMAGE} -> {STYLE_IMAGE_2}), "
                                   "as allow_config_change asks")
    record = model_dirs.read_run_config(model_dir)
    assert record["model"]["style_image"]["path"] == STYLE_IMAGE_2 and record["resumed_from_step"] == 4


def test_schedule_settings_may_change_on_resume(model_dir):
    config = dataclasses.replace(_smoke_config(), learning_rate=1e-3, batch_size=4, seed=3)
    with _trainer(model_dir, config, checkpoint_interval=5) as trainer:
        assert trainer.initial_step == 4
        assert trainer.logs[0] == f"resumed from step 4 ({model_dir}/ckpt-4)"


# --- issue 39: two local workers ---------------------------------------------------------------


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _start_cluster(model_dir, export_dir, train_steps):
    workers = [f"localhost:{port}" for port in _free_ports(2)]
    processes = []
    for index in range(2):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_CONFIG=json.dumps(
            {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}))
        processes.append(subprocess.Popen(
            [sys.executable, "-m", TRAIN_FAST, SMOKE, f"--model_dir={model_dir}", f"--export_dir={export_dir}",
             f"--train_steps={train_steps}", "--strategy=multi_worker", "--summary_interval=0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env,
        ))
    return processes


def _losses_at(step, stderr):
    """The losses the progress line for `step` shows."""
    bars = [line for line in stderr.splitlines() if line.startswith("train [") and f" {step}/" in line]
    assert bars, stderr[-2000:]
    return bars[0].split("s loss ", 1)[1].rsplit(" steps/s", 1)[0].rsplit(" ", 1)[0]


def test_two_workers_train_in_lockstep_and_only_the_chief_saves(tmp_path):
    model_dir, export_dir = str(tmp_path / "model"), str(tmp_path / "export")
    # A cluster killed once its second checkpoint is on disk (both have reported step 2 by then)...
    cluster = _start_cluster(model_dir, export_dir, train_steps=1000)
    try:
        deadline = time.time() + 400
        while not os.path.exists(os.path.join(model_dir, "ckpt-4.index")):
            assert time.time() < deadline and all(p.poll() is None for p in cluster), \
                [p.communicate()[1][-2000:] for p in cluster if p.poll() is not None]
            time.sleep(0.2)
    finally:
        for p in cluster:
            p.send_signal(signal.SIGKILL)
        killed = [p.communicate()[1] for p in cluster]
    assert _losses_at(2, killed[0]) == _losses_at(2, killed[1])  # the same global batches and weights
    assert not os.path.exists(export_dir)
    step = max(model_dirs.checkpoint_step(p) for p in model_dirs.checkpoint_candidates(model_dir))

    # ...restarts from its checkpoint on both workers, taking over the killed run's locks.
    cluster = _start_cluster(model_dir, export_dir, train_steps=step)
    (_, chief), (_, worker) = [p.communicate(timeout=400) for p in cluster]
    assert [p.returncode for p in cluster] == [0, 0], chief[-2000:] + worker[-2000:]
    for stderr in (chief, worker):
        assert "note: took over the lock on" in stderr and "resumed from step" in stderr, stderr[-2000:]
        # No worker left while the chief was still exporting (its coordination service would say so).
        assert "unhealthy" not in stderr and "eagerly" not in stderr, stderr[-2000:]
    # Only the chief wrote: the export, and no worker's temporary checkpoints are left.
    assert os.path.isfile(os.path.join(export_dir, "saved_model.pb"))
    assert not [name for name in os.listdir(model_dir) if name.startswith(".worker_tmp")]
    assert chief.strip().splitlines()[-1] == f"done: checkpoints in {model_dir}, model in {export_dir}"
    assert worker.strip().splitlines()[-1] == (
        f"done: worker 1 saved nothing; the chief wrote the checkpoints in {model_dir} and the model in {export_dir}")
