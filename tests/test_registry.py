"""The model-kind registry: lookups, unknown kinds, and a kind registered from outside the library."""

import json
import sys

import numpy as np
import pytest

from keras_style import registry
from keras_style.errors import StyleError
from keras_style.inference import Stylizer, load_stylizer, resolve_model

BUILT_IN = ("fast_style", "adain", "metanet")
PARTS = ("model", "task", "exporter", "saved_model_stylizer", "tflite_stylizer")


def test_built_in_kinds_register_every_part():
    assert registry.names()[:3] == BUILT_IN
    for name in BUILT_IN:
        kind = registry.get(name)
        for field in PARTS:
            assert kind.has(field), (name, field)
    assert registry.names(lambda k: k.takes_style) == ("adain", "metanet")


def test_lookup_imports_nothing_heavy():
    """The registry names its parts as strings: looking a kind up imports no TensorFlow."""
    code = (
        "import sys; from keras_style import registry; registry.get('adain'); registry.kinds(); "
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_stylizer_parts_resolve_without_tensorflow():
    kind = registry.get("metanet")
    assert issubclass(kind.part("tflite_stylizer"), Stylizer)
    assert issubclass(kind.part("saved_model_stylizer"), Stylizer)


def test_unknown_kind_is_refused_with_one_line():
    with pytest.raises(StyleError) as excinfo:
        registry.get("pix2pix", "my_model")
    message = str(excinfo.value)
    assert "\n" not in message
    assert "'my_model'" in message and "'pix2pix'" in message and "fast_style, adain, metanet" in message


def test_unknown_kind_in_a_model_is_refused_on_load(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "saved_model.pb").write_bytes(b"")
    (model / "keras_style.json").write_text(json.dumps({"kind": "pix2pix"}))
    spec = resolve_model(str(model))
    assert not spec.takes_style
    with pytest.raises(StyleError, match=r"of kind 'pix2pix', which this version of keras-style cannot run"):
        spec.load()


def test_missing_part_is_one_line():
    with pytest.raises(StyleError, match="model kind 'fast_style' has no tflite pair file"):
        registry.get("fast_style").part("tflite_pair_file")


class _InvertStylizer(Stylizer):
    """A toy kind's stylizer: 255 - image."""

    backend = "tflite"

    def __init__(self, path, metadata=None, name=None):
        super().__init__(name or path, metadata)

    def _stylize_batch(self, images, style):
        return 255.0 - images


@pytest.fixture
def toy_kind():
    kind = registry.register(registry.ModelKind(
        name="toy_invert",
        saved_model_stylizer=f"{__name__}:_InvertStylizer",
        tflite_stylizer=f"{__name__}:_InvertStylizer",
    ))
    yield kind
    registry.unregister("toy_invert")


def test_a_toy_kind_registered_from_a_test_is_found(toy_kind, tmp_path):
    assert registry.get("toy_invert") is toy_kind
    assert "toy_invert" in registry.names()
    model = tmp_path / "toy"
    model.mkdir()
    (model / "saved_model.pb").write_bytes(b"")
    (model / "keras_style.json").write_text(json.dumps({"kind": "toy_invert"}))
    stylizer = load_stylizer(str(model))
    assert isinstance(stylizer, _InvertStylizer) and stylizer.kind == "toy_invert"
    image = np.full((4, 5, 3), 55.0, np.float32)
    np.testing.assert_array_equal(stylizer.stylize(image), np.full((4, 5, 3), 200.0, np.float32))


def test_registering_a_name_twice_is_refused(toy_kind):
    with pytest.raises(ValueError, match="already registered"):
        registry.register(registry.ModelKind(name="toy_invert"))
    registry.register(registry.ModelKind(name="toy_invert", takes_style=True), replace=True)
    assert registry.get("toy_invert").takes_style


def test_style_transfer_refuses_an_unknown_kind_with_one_line(tmp_path):
    from conftest import CONTENT_IMAGE, assert_one_line_error, run_command

    model = tmp_path / "model"
    model.mkdir()
    (model / "saved_model.pb").write_bytes(b"")
    (model / "keras_style.json").write_text(json.dumps({"kind": "pix2pix"}))
    result = run_command("keras_style.cli.transfer", f"--model={model}", f"--content={CONTENT_IMAGE}",
                         f"--output={tmp_path / 'out.png'}")
    assert_one_line_error(result, "of kind 'pix2pix', which this version of keras-style cannot run")
    assert not (tmp_path / "out.png").exists()
