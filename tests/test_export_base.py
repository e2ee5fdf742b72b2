"""The exporter base (`keras_style.export.base.Exporter`): a toy kind exported through it,
its metadata and result format, and the cleanup when a parity check fails."""

import json
import os

import numpy as np
import pytest

from keras_style import registry
from keras_style.errors import StyleError
from keras_style.export import base, saved_model, tflite


def _toy_model():
    import keras

    inputs = keras.Input((None, None, 3))
    outputs = keras.layers.Conv2D(3, 1, kernel_initializer="ones", bias_initializer="zeros")(inputs)
    return keras.Model(inputs, outputs / 3.0)


class ToyExporter(base.Exporter):
    """A one-file kind: a 1x1 conv (grey image), with one metadata field of its own."""

    kind = "toy_grey"
    title = "a toy"

    def signatures(self):
        return saved_model.image_signatures(lambda images: self.model(images, training=False))

    def metadata(self):
        return {"model_class": "ToyGrey", "channels": 3}

    def parity(self, saved_model_dir, staged, content):
        result = tflite.parity_check(saved_model_dir, staged["model"], [content])
        return base.Parity(result["max_abs_diff"], result["mean_abs_diff"], result, "toy details")


class ToyPairExporter(ToyExporter):
    """Two files from the same signature; its parity check fails after both are converted."""

    def tflite_files(self, output, quantize):
        return [base.TFLiteFile(role, f"{output}_{role}.tflite", (saved_model.STYLIZE_FLOAT,))
                for role in ("first", "second")]

    def parity(self, saved_model_dir, staged, content):
        assert all(os.path.isfile(path) for path in staged.values())
        raise StyleError("toy parity failed")


@pytest.fixture(scope="module")
def toy_saved_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("toy") / "saved_model"
    assert ToyExporter(_toy_model()).export(path, extra_metadata={"training": {"steps": 1}}) == str(path)
    return str(path)


def test_the_base_is_abstract():
    with pytest.raises(TypeError):
        base.Exporter()


def test_toy_export_writes_signatures_and_metadata(toy_saved_model):
    import tensorflow as tf

    metadata = json.loads(open(os.path.join(toy_saved_model, "keras_style.json")).read())
    assert metadata["kind"] == "toy_grey" and metadata["model_class"] == "ToyGrey" and metadata["channels"] == 3
    assert metadata["training"] == {"steps": 1}
    assert metadata["format_version"] == saved_model.METADATA_FORMAT_VERSION
    assert sorted(metadata["signatures"]) == ["serving_default", "stylize_bytes", "stylize_float"]
    loaded = tf.saved_model.load(toy_saved_model)
    assert sorted(loaded.signatures) == ["serving_default", "stylize_bytes", "stylize_float"]
    out = loaded.signatures["serving_default"](images=tf.constant(np.full((1, 4, 5, 3), 30, np.uint8)))
    np.testing.assert_array_equal(out["stylized"].numpy(), np.full((1, 4, 5, 3), 30, np.uint8))
    # Refused when it exists, before tracing; and without a model.
    with pytest.raises(StyleError, match="exists and is not empty"):
        ToyExporter(_toy_model()).export(toy_saved_model)
    with pytest.raises(StyleError, match="has no model to export"):
        ToyExporter().export(os.path.dirname(toy_saved_model) + "/other")


def test_toy_tflite_export_result_and_report(toy_saved_model, tmp_path, capsys):
    out = tmp_path / "toy_fp16.tflite"
    result = ToyExporter().export_tflite(toy_saved_model, out, "float16", parity_size=24)
    assert isinstance(result, base.ExportResult)
    assert result.paths == {"model": str(out)} and out.is_file()
    assert result.sizes_mb == {"model": pytest.approx(out.stat().st_size / 1e6)}
    assert result.quantize == "float16" and result.parity.max_abs_diff < 1.0
    assert result.parity.figures["num_images"] == 1
    result.report()
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB, float16)"]
    assert captured.out.startswith(f"parity (float16) vs SavedModel on {result.parity_inputs}: max abs diff ")
    assert captured.out.rstrip().endswith("(0..255 scale); toy details")
    assert [p.name for p in tmp_path.iterdir()] == ["toy_fp16.tflite"]  # no staging folder left
    # Cheap checks before converting: the kind, an existing output.
    with pytest.raises(StyleError, match="exists; pass --overwrite"):
        ToyExporter().export_tflite(toy_saved_model, out, "float16")
    with pytest.raises(StyleError, match=r"is not a toy SavedModel \(its keras_style.json says kind 'toy_grey'\)"):
        type("Other", (ToyExporter,), {"kind": "other"})().convert_tflite(toy_saved_model, tmp_path / "x.tflite")


def test_failing_parity_check_leaves_nothing(toy_saved_model, tmp_path):
    with pytest.raises(StyleError, match="parity check failed for --quantize=none"):
        ToyExporter().export_tflite(toy_saved_model, tmp_path / "m.tflite", "none", parity_size=24, max_abs_diff=-1.0)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(StyleError, match="toy parity failed"):
        ToyPairExporter().export_tflite(toy_saved_model, str(tmp_path / "pair"), "none", parity_size=24)
    assert list(tmp_path.iterdir()) == []


def test_pair_conversion_without_parity_writes_both(toy_saved_model, tmp_path):
    paths = ToyPairExporter().convert_tflite(toy_saved_model, str(tmp_path / "pair"), "none")
    assert sorted(os.path.basename(p) for p in paths.values()) == ["pair_first.tflite", "pair_second.tflite"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pair_first.tflite", "pair_second.tflite"]


def test_refused_quantization_is_one_line(toy_saved_model, tmp_path):
    refusing = type("Refusing", (ToyExporter,), {"refused_quantize": {"int8": "no int8 for toys"}})()
    with pytest.raises(StyleError, match="^no int8 for toys$"):
        refusing.export_tflite(toy_saved_model, tmp_path / "m.tflite", "int8")
    with pytest.raises(StyleError, match="unknown quantization 'int4'; use one of none, float16, dynamic$"):
        refusing.export_tflite(toy_saved_model, tmp_path / "m.tflite", "int4")
    assert list(tmp_path.iterdir()) == []


def test_every_kind_registers_an_exporter_class():
    for kind in registry.kinds()[:3]:
        exporter = kind.part("exporter")
        assert issubclass(exporter, base.Exporter) and exporter.kind == kind.name
