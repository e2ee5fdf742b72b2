"""One `check_export_dir` (keras_style.export.saved_model): a folder the export would refuse
is refused before training starts, by every trainer and by the training commands."""

import os

import pytest

from conftest import EXAMPLES, STYLE_IMAGE, assert_one_line_error, run_command
from keras_style import registry
from keras_style.errors import StyleError
from keras_style.export.saved_model import check_export_dir
from keras_style.tasks.adain import AdaINConfig
from keras_style.tasks.fast_style import FastStyleConfig
from keras_style.tasks.metanet import MetaNetConfig
from keras_style.training.trainer import TrainerConfig

CONTENT_DIR = os.path.join(EXAMPLES, "content")
STYLE_DIR = os.path.join(EXAMPLES, "styles")
CONFIGS = {
    "fast_style": lambda: FastStyleConfig(STYLE_IMAGE, CONTENT_DIR),
    "adain": lambda: AdaINConfig(CONTENT_DIR, STYLE_DIR),
    "metanet": lambda: MetaNetConfig(CONTENT_DIR, STYLE_DIR),
}


@pytest.fixture
def unrelated_folder(tmp_path):
    """A non-empty folder that holds no SavedModel: the export refuses it even with overwrite."""
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "holiday.jpg").write_bytes(b"not a model")
    return str(folder)


def test_export_refuses_an_unrelated_folder(unrelated_folder):
    with pytest.raises(StyleError, match="holds no SavedModel"):
        check_export_dir(unrelated_folder, overwrite=True)


@pytest.mark.parametrize("kind", sorted(CONFIGS))
def test_trainers_refuse_it_before_training(kind, unrelated_folder, tmp_path):
    train = registry.get(kind).part("task")
    progress = []
    trainer_config = TrainerConfig(str(tmp_path / "model"), train_steps=1, steps_per_loop=1, summary_interval=0)
    with pytest.raises(StyleError, match="holds no SavedModel"):
        train(CONFIGS[kind](), trainer_config, "one_device", export_dir=unrelated_folder,
              on_progress=progress.append, overwrite_export=True)
    assert progress == [] and not os.path.exists(tmp_path / "model")  # nothing trained, nothing written
    assert sorted(os.listdir(unrelated_folder)) == ["holiday.jpg"]


@pytest.mark.parametrize("kind", sorted(CONFIGS))
def test_trainers_refuse_a_file(kind, tmp_path):
    path = tmp_path / "export"
    path.write_text("x")
    trainer_config = TrainerConfig(str(tmp_path / "model"), train_steps=1, steps_per_loop=1, summary_interval=0)
    with pytest.raises(StyleError, match="not a directory"):
        registry.get(kind).part("task")(CONFIGS[kind](), trainer_config, export_dir=str(path))


def test_train_fast_command_refuses_it_before_training(unrelated_folder, tmp_path):
    result = run_command(
        "keras_style.trainers.train_fast", f"--style_image={STYLE_IMAGE}", f"--content_data={CONTENT_DIR}",
        f"--model_dir={tmp_path / 'model'}", f"--export_dir={unrelated_folder}", "--overwrite", "--train_steps=1",
    )
    assert_one_line_error(result, "holds no SavedModel")
    assert not os.path.exists(tmp_path / "model" / "checkpoint")
