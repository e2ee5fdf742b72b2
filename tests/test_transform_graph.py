"""The shared Johnson graph: TransformNet and GeneratedTransformNet keep the layout that
shipped models and existing checkpoints were written with.

`tests/golden/transform_graph/` holds that layout, recorded from the code before the two
networks shared one graph: `structure.json` (per network at base 2: config, registered
name, layers in order with their class and the layers feeding them, weight paths and
shapes) and a `tf.train.Checkpoint(model=...)` of each network at base 1 whose variable
i holds `linspace(i, i + 1)`. Running this file as a script rewrites them: do that only
for an intended layout change, which breaks old checkpoints and SavedModel rebuilds.
"""

import json
import os
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_style.models import GeneratedTransformNet, TransformNet
from keras_style.models import transform_graph

GOLDEN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "transform_graph")
STRUCTURE_FILE = os.path.join(GOLDEN_DIR, "structure.json")
NETWORKS = {"TransformNet": TransformNet, "GeneratedTransformNet": GeneratedTransformNet}
CHECKPOINTS = {"TransformNet": "transform_net_base1", "GeneratedTransformNet": "generated_transform_net_base1"}


def describe(model):
    """The layout a checkpoint or a SavedModel rebuild depends on, as JSON-ready lists."""
    producer = {}
    for layer in model.layers:
        for tensor in keras.tree.flatten(layer.output):
            producer[id(tensor)] = layer.name
    layers = []
    for layer in model.layers:
        sources = [] if isinstance(layer, keras.layers.InputLayer) else keras.tree.flatten(layer.input)
        layers.append([layer.name, type(layer).__name__, [producer[id(t)] for t in sources]])
    return {
        "config": model.get_config(),
        "registered": keras.saving.get_registered_name(type(model)),
        "layers": layers,
        "weights": [[v.path, list(v.shape)] for v in model.weights],
    }


def golden_values(shape, index):
    return np.linspace(index, index + 1, int(np.prod(shape)), dtype="float32").reshape(shape)


@pytest.mark.parametrize("network", sorted(NETWORKS))
def test_layout_matches_golden(network):
    with open(STRUCTURE_FILE) as f:
        expected = json.load(f)[network]
    # Named as the golden one: default model names get a suffix once other tests made models.
    model = NETWORKS[network](base=2, name=expected["config"]["name"])
    actual = json.loads(json.dumps(describe(model)))
    assert actual["config"] == expected["config"]
    assert actual["registered"] == expected["registered"]
    assert [layer[0] for layer in actual["layers"]] == [layer[0] for layer in expected["layers"]]
    assert actual["layers"] == expected["layers"]
    assert actual["weights"] == expected["weights"]


@pytest.mark.parametrize("network", sorted(NETWORKS))
def test_golden_checkpoint_restores(network):
    model = NETWORKS[network](base=1)
    status = tf.train.Checkpoint(model=model).read(os.path.join(GOLDEN_DIR, CHECKPOINTS[network]))
    status.assert_consumed()
    for index, variable in enumerate(model.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(variable), golden_values(variable.shape, index))


def test_transform_graph_takes_its_normalisation():
    """Another norm plugged into the one graph (Magenta's `normalizer_fn` pattern)."""

    def layer_norm(x, spec):
        return keras.layers.LayerNormalization(name=f"{spec.name}_norm")(x)

    images = keras.Input(shape=(None, None, 3), name="image")
    model = keras.Model(images, transform_graph.transform_graph(images, 2, norm_fn=layer_norm))
    assert isinstance(model.get_layer("res3_conv1_norm"), keras.layers.LayerNormalization)
    assert [s.name for s in transform_graph.conv_layer_specs(2)] == [
        layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)
    ]
    out = keras.ops.convert_to_numpy(model(np.full((1, 5, 7, 3), 100.0, "float32")))
    assert out.shape == (1, 5, 7, 3) and np.all((out >= 0) & (out <= 255))


def test_conv_layer_specs_are_transform_net_specs():
    assert TransformNet.conv_layer_specs(3) == transform_graph.conv_layer_specs(3)
    assert transform_graph.conv_layer_specs(3)[0] == ("conv1", 9, 3, 3, 1)


def _write_golden():
    structure = {name: describe(cls(base=2)) for name, cls in NETWORKS.items()}
    os.makedirs(GOLDEN_DIR, exist_ok=True)
    with open(STRUCTURE_FILE, "w") as f:
        json.dump(structure, f, indent=None, separators=(",", ":"))
        f.write("\n")
    for name, cls in NETWORKS.items():
        model = cls(base=1)
        for index, variable in enumerate(model.weights):
            variable.assign(golden_values(variable.shape, index))
        tf.train.Checkpoint(model=model).write(os.path.join(GOLDEN_DIR, CHECKPOINTS[name]))


if __name__ == "__main__":
    sys.exit(_write_golden())
