"""The recipes in flags/ against the models in saved_models/.

A shipped model's recipe must reproduce it: the flagfile, parsed by its own training
command, builds the very config that the export recorded (`keras_style.json`,
"training"), so rerunning the recipe trains what saved_models/ holds. The smoke recipes
must at least parse.
"""

import glob
import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.join(REPO, "..", "shared", "data")

# Every shipped trained model: recipe -> (training command module, model folder).
SHIPPED = {
    **{
        f"fast_style_{name}.cfg": ("keras_style.trainers.train_fast", name)
        for name in ("starry_night", "great_wave", "auvers", "hokusai_bridge")
    },
    "adain.cfg": ("keras_style.trainers.train_adain", "adain"),
    "metanet.cfg": ("keras_style.trainers.train_metanet", "metanet"),
}
# Earlier stages of a shipped recipe: stage recipe -> (the next stage's recipe, which starts
# from its export (--init_from), the data/network settings the later stage changes on purpose).
# A chain ends at a shipped recipe.
STAGES = {
    "metanet_stage1.cfg": ("metanet.cfg", ()),
    # The networks are fully convolutional, so a stage may train on other crops.
    "adain_stage1.cfg": ("adain.cfg", ("crop_size",)),
    "fast_style_hokusai_bridge_stage1.cfg": ("fast_style_hokusai_bridge.cfg", ("crop_size",)),
    "fast_style_great_wave_stage1.cfg": ("fast_style_great_wave_stage2.cfg", ("crop_size",)),
    "fast_style_great_wave_stage2.cfg": ("fast_style_great_wave.cfg", ("crop_size",)),
    "fast_style_starry_night_stage1.cfg": ("fast_style_starry_night_stage2.cfg", ()),
    "fast_style_starry_night_stage2.cfg": ("fast_style_starry_night.cfg", ()),
    "fast_style_auvers_stage1.cfg": ("fast_style_auvers.cfg", ()),
}
SMOKE = {
    "fast_style_smoke.cfg": "keras_style.trainers.train_fast",
    "adain_smoke.cfg": "keras_style.trainers.train_adain",
    "metanet_smoke.cfg": "keras_style.trainers.train_metanet",
}

# Parses a flagfile with the command's own flags and prints the config it builds. In a
# subprocess: each command defines its own absl flags, and some names are shared.
_PARSE = """
import dataclasses, importlib, json, sys
from absl import flags
module = importlib.import_module(sys.argv[1])
flags.FLAGS([sys.argv[1], "--flagfile=" + sys.argv[2]])
print(json.dumps({"config": dataclasses.asdict(module.config_from_flags()),
                  "train_steps": flags.FLAGS.train_steps, "export_dir": flags.FLAGS.export_dir,
                  "init_from": flags.FLAGS.init_from}))
"""


def parse_recipe(module, recipe):
    result = subprocess.run(
        [sys.executable, "-c", _PARSE, module, os.path.join("flags", recipe)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_every_training_recipe_is_covered():
    training_recipes = {
        os.path.basename(p) for p in glob.glob(os.path.join(REPO, "flags", "*.cfg"))
        if not os.path.basename(p).startswith("gatys")
    }
    assert training_recipes == set(SHIPPED) | set(STAGES) | set(SMOKE)


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_recipes_feed_their_shipped_recipe(stage):
    """A stage exports where the next stage's --init_from reads, outside saved_models/,
    and trains the same network on the same data."""
    shipped, changed = STAGES[stage]
    last = shipped
    while last in STAGES:  # a middle stage: follow the chain to the shipped recipe
        last = STAGES[last][0]
    module = SHIPPED[last][0]
    first, second = parse_recipe(module, stage), parse_recipe(module, shipped)
    # Only the first stage starts from scratch; a middle one is fed by the stage before it.
    feeders = [earlier for earlier, (nxt, _) in STAGES.items() if nxt == stage]
    assert (first["init_from"] is None) == (not feeders)
    assert second["init_from"] == first["export_dir"] and not first["export_dir"].startswith("saved_models/")
    keys = ("content_data", "style_data", "style_image", "base", "hidden_per_layer", "crop_size", "style_size",
            "batch_size", "short_side_range", "style_short_side_range", "flip_styles", "style_layers")
    same = [k for k in keys if k not in changed]
    first_kept = {k: v for k, v in first["config"].items() if k in same}
    assert first_kept == {k: v for k, v in second["config"].items() if k in same}
    # Not vacuous: every kind compares its data and batch (AdaIN has no base or style_size).
    assert {"content_data", "batch_size"} <= set(first_kept) and {"style_data", "style_image"} & set(first_kept)
    assert {"base", "style_size"} <= set(first_kept) or {"short_side_range", "style_layers"} <= set(first_kept)


@pytest.mark.parametrize("recipe", sorted(SMOKE))
def test_smoke_recipes_parse(recipe):
    parsed = parse_recipe(SMOKE[recipe], recipe)
    assert parsed["train_steps"] <= 10


@pytest.mark.parametrize("recipe", sorted(SHIPPED))
def test_recipe_reproduces_the_shipped_model(recipe, monkeypatch):
    module, name = SHIPPED[recipe]
    parsed = parse_recipe(module, recipe)
    assert parsed["export_dir"] == f"saved_models/{name}/saved_model"
    with open(os.path.join(REPO, parsed["export_dir"], "keras_style.json")) as f:
        recorded = json.load(f)["training"]
    expected = {**parsed["config"], "train_steps": parsed["train_steps"]}
    if parsed["init_from"]:  # a recipe that starts from another model records it
        expected["init_from"] = parsed["init_from"]
    recorded_styles = recorded.pop("styles", None)  # the MetaNet also records its style count
    # Compared key by key, so a failure names the setting.
    assert sorted(recorded) == sorted(expected)
    for key, value in expected.items():
        assert recorded[key] == value, (key, value, recorded[key])

    config = parsed["config"]
    if "style_image" in config:
        assert os.path.isfile(os.path.join(REPO, config["style_image"]))
    if not os.path.isdir(os.path.join(SHARED_DATA, "content")):
        pytest.skip("shared data not present")
    from keras_style import data, image_io

    monkeypatch.chdir(REPO)  # the recipes' paths are relative to the repository root
    # The bundled example photos (pypi_*) and paintings (examples/styles/) are held out
    # of training, so the contact sheets show images the models never saw.
    photos = image_io.list_images(config["content_data"])
    assert len(photos) == 402 and not any(os.path.basename(p).startswith("pypi_") for p in photos)
    if "style_data" in config:
        styles = data.list_training_images(config["style_data"])
        held_out = {os.path.basename(p) for p in glob.glob(os.path.join("examples", "styles", "*"))}
        assert len(styles) == 72 and not {os.path.basename(p) for p in styles} & held_out
        assert recorded_styles in (None, len(styles))
