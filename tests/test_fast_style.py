"""Tests for the fast style task (keras_style.tasks.fast_style) and `style_train_fast`.

Real VGG19 weights (cached in ~/.keras), tiny crops and a width-4 TransformNet.
"""

import glob
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import assert_no_native_start_up_lines
from keras_style import image_io
from keras_style.errors import StyleError
from keras_style.tasks.fast_style import FastStyleConfig, FastStyleTask, train_fast_style
from keras_style.training.trainer import Trainer, TrainerConfig

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STYLE = os.path.join(REPO, "examples", "styles", "opencv_000_starry_night.jpg")
CONTENT = os.path.join(REPO, "examples", "content")


@pytest.fixture(scope="module")
def content_dir(tmp_path_factory):
    """The example photos, shrunk to 48 px so decoding costs nothing."""
    root = tmp_path_factory.mktemp("content")
    for path in image_io.list_images(CONTENT):
        image_io.save_image(image_io.resize_long_side(image_io.load_image(path), 48), str(root / os.path.basename(path)))
    return str(root)


def _config(content_dir, **overrides):
    settings = dict(crop_size=32, batch_size=2, base=4, style_size=64, seed=0, learning_rate=1e-2)
    return FastStyleConfig(STYLE, content_dir, **{**settings, **overrides})


def test_loss_networks_stop_at_their_deepest_layer(content_dir):
    task = FastStyleTask(_config(content_dir))
    task.build_model()
    content_convs = [l.name for l in task.content_net.layers if "conv" in l.name]
    assert content_convs == ["block1_conv1", "block1_conv2", "block2_conv1", "block2_conv2"]
    loss_convs = [l.name for l in task.loss_net.layers if "conv" in l.name]
    assert loss_convs[-1] == "block4_conv3" and "block3_conv4" in loss_convs  # VGG19's extra conv is run, not used
    assert [l.name for l in task.loss_net.layers if "pool" in l.name] and all(
        "MaxPooling" in type(l).__name__ for l in task.loss_net.layers if "pool" in l.name
    )
    assert {n: tuple(g.shape) for n, g in task.style_targets.items()} == {
        "block1_conv2": (64, 64), "block2_conv2": (128, 128), "block3_conv3": (256, 256), "block4_conv3": (512, 512)
    }


def test_twenty_steps_lower_the_loss(tmp_path, content_dir):
    record = []
    trainer = Trainer(
        FastStyleTask(_config(content_dir)),
        TrainerConfig(str(tmp_path), train_steps=20, steps_per_loop=5, checkpoint_interval=0, summary_interval=20),
        on_progress=lambda p: record.append(p.metrics),
    )
    metrics = trainer.train()
    assert len(record) == 4
    # Loop means (5 steps each) smooth out batch-to-batch noise. From a random start the
    # style term falls by about 10x in 20 steps; a factor 3 leaves ample margin.
    assert record[-1]["loss"] < record[0]["loss"] / 3, [m["loss"] for m in record]
    assert metrics["loss"] == pytest.approx(metrics["content"] + metrics["style"] + metrics["tv"], rel=1e-5)
    assert glob.glob(os.path.join(str(tmp_path), "train", "events.out.tfevents.*"))


def test_train_fast_style_checkpoints_restore_and_export(tmp_path, content_dir):
    config = _config(content_dir)
    trainer_config = TrainerConfig(str(tmp_path / "model"), train_steps=2, steps_per_loop=1, summary_interval=0)
    try:
        import keras_style.export.fast_style  # noqa: F401

        export_dir = str(tmp_path / "export")
    except ImportError:
        export_dir = None
    metrics = train_fast_style(config, trainer_config, "one_device", export_dir=export_dir)
    assert set(metrics) == {"loss", "content", "style", "tv"} and np.isfinite(metrics["loss"])
    if export_dir:
        assert os.listdir(export_dir)
        with pytest.raises(StyleError, match="exists and is not empty"):
            train_fast_style(config, trainer_config, export_dir=export_dir)

    # A new trainer on the same model_dir gets the trained TransformNet and Adam state back.
    logs = []
    trainer_config.log = logs.append
    restored = Trainer(FastStyleTask(config), trainer_config)
    assert restored.step == 2 and logs[0].startswith("resumed from step 2")
    assert int(restored.optimizer.iterations.numpy()) == 2
    reference = Trainer(FastStyleTask(config), TrainerConfig(str(tmp_path / "fresh")))
    images = tf.random.stateless_uniform((1, 32, 32, 3), (1, 2), maxval=255.0)
    assert not np.allclose(restored.model(images), reference.model(images))  # trained != freshly built
    velocities = [v for v in restored.optimizer.variables if "velocity" in v.path]
    assert velocities and all(np.any(np.asarray(v) != 0) for v in velocities)


def test_init_from_starts_a_new_run_from_an_exported_model(tmp_path, content_dir):
    """init_from (--init_from): a run with no checkpoint starts from a SavedModel's weights at
    step 0 and its export records the source; a run with a checkpoint resumes from it
    instead; a model of another kind or width is refused."""
    import json

    config = _config(content_dir)
    quiet = dict(steps_per_loop=1, summary_interval=0, log=lambda message: None)
    source = str(tmp_path / "source")
    train_fast_style(config, TrainerConfig(str(tmp_path / "a"), train_steps=2, **quiet), export_dir=source)
    trained = Trainer(FastStyleTask(config), TrainerConfig(str(tmp_path / "a"), **quiet)).model

    logs = []
    started = Trainer(FastStyleTask(config), TrainerConfig(str(tmp_path / "b"), train_steps=1, init_from=source,
                                                            **{**quiet, "log": logs.append}))
    assert started.step == 0 and int(started.optimizer.iterations.numpy()) == 0
    assert any(m.startswith("initialised from") for m in logs)
    for ours, theirs in zip(started.model.weights, trained.weights):
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs), err_msg=ours.path)

    tuned = str(tmp_path / "tuned")
    train_fast_style(config, TrainerConfig(str(tmp_path / "b"), train_steps=1, init_from=source, **quiet),
                     export_dir=tuned)
    with open(os.path.join(tuned, "keras_style.json")) as f:
        training = json.load(f)["training"]
    assert training["init_from"] == source and training["train_steps"] == 1

    logs.clear()
    resumed = Trainer(FastStyleTask(config), TrainerConfig(str(tmp_path / "b"), init_from=source,
                                                            **{**quiet, "log": logs.append}))
    assert resumed.step == 1 and any("not used: resuming" in m for m in logs)

    with pytest.raises(StyleError, match="is a 'adain' saved model, but this run trains a TransformNet"):
        Trainer(FastStyleTask(config), TrainerConfig(str(tmp_path / "c"), init_from="adain", **quiet))
    with pytest.raises(StyleError, match="weights do not fit this TransformNet"):
        Trainer(FastStyleTask(_config(content_dir, base=8)), TrainerConfig(str(tmp_path / "d"), init_from=source,
                                                                           **quiet))


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"style_weight": -1.0}, "style_weight must be >= 0"),
        ({"style_layer_weights": [1.0]}, "1 style layer weights for 4 style layers"),
        ({"crop_size": 8}, "crop_size must be >= 16"),
        ({"learning_rate": 0.0}, "learning_rate must be > 0"),
        ({"style_layers": ["block9_conv1"]}, "unknown vgg19 layer"),
    ],
)
def test_bad_settings_raise_style_error(content_dir, overrides, message):
    with pytest.raises(StyleError, match=message):
        FastStyleTask(_config(content_dir, **overrides)).build_model()


def test_missing_inputs_raise_style_error(tmp_path, content_dir):
    with pytest.raises(StyleError, match="no such file"):
        FastStyleTask(FastStyleConfig(str(tmp_path / "nope.jpg"), content_dir))
    with pytest.raises(StyleError, match="no images in directory"):
        FastStyleTask(FastStyleConfig(STYLE, str(tmp_path)))


def _run_cli(*args, cwd=REPO):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(
        [sys.executable, "-m", "keras_style.trainers.train_fast", *args],
        capture_output=True, text=True, timeout=120, cwd=cwd, env=env,
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["--style_image=MISSING.jpg"], "cannot read image 'MISSING.jpg': no such file"),
        (["--content_data=EMPTY"], "no images in directory"),
        (["--style_weight=-3"], "style_weight must be >= 0"),
        (["--strategy=tpu"], "unknown strategy 'tpu'"),
        (["--init_from=NOWHERE/model"], "model 'NOWHERE/model' not found"),
    ],
)
def test_cli_bad_inputs_exit_with_one_line(tmp_path, content_dir, args, message):
    args = [a.replace("EMPTY", str(tmp_path)) for a in args]
    result = _run_cli(f"--style_image={STYLE}", f"--content_data={content_dir}", f"--model_dir={tmp_path}/m", *args)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_cli_smoke_recipe_trains(tmp_path):
    result = _run_cli("--flagfile=flags/fast_style_smoke.cfg", f"--model_dir={tmp_path}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "4/4" in result.stderr and "img/s" in result.stderr and "done: loss" in result.stderr
    assert "Traceback" not in result.stderr
    assert_no_native_start_up_lines(result.stderr)
    # The bar shows the trainer's clock, which includes the first loop (tracing), not 0 s.
    first = re.search(r"train \[[#-]+\] 2/4\s+([\d.]+)s", result.stderr)
    assert first and float(first.group(1)) > 0, result.stderr
    assert os.path.exists(os.path.join(str(tmp_path), "ckpt-4.index"))


