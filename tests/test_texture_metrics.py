"""E per VGG block and the luminance texture retrieval (`keras_style.evaluation.metrics`)."""

import glob
import io
import math
import os

import numpy as np
import pytest
from conftest import CONTENT_IMAGE, EXAMPLES

from keras_style import image_io

SIZE = 128
PAINTINGS = sorted(glob.glob(os.path.join(EXAMPLES, "styles", "*.jpg")))


@pytest.fixture(scope="module")
def style_metrics(vgg19_weights_path):
    from keras_style.evaluation import StyleMetrics

    return StyleMetrics(weights=vgg19_weights_path)


@pytest.fixture(scope="module")
def paintings():
    return {os.path.basename(p): image_io.load_image(p, max_size=SIZE) for p in PAINTINGS}


def _perturbed(image: np.ndarray) -> np.ndarray:
    """A lightly degraded copy: resized to 7/8, JPEG at quality 60, 10 % brighter."""
    from PIL import Image

    height, width = image.shape[:2]
    small = image_io.resize_image(image, (height * 7 // 8, width * 7 // 8))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(small, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=60)
    decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"), np.float32)
    return np.clip(decoded * 1.1, 0.0, 255.0)


def _hue_rotated(image: np.ndarray, turn: float = 1 / 3) -> np.ndarray:
    import tensorflow as tf

    hsv = tf.image.rgb_to_hsv(np.asarray(image, np.float32) / 255.0)
    hsv = tf.stack([(hsv[..., 0] + turn) % 1.0, hsv[..., 1], hsv[..., 2]], axis=-1)
    return np.asarray(tf.image.hsv_to_rgb(hsv)) * 255.0


def test_block_columns_name_the_effectiveness_layers():
    from keras_style.evaluation import metrics

    assert metrics.E_BLOCK_COLUMNS == ("E_relu1_1", "E_relu2_1", "E_relu3_1", "E_relu4_1", "E_relu5_1")
    assert metrics.TEXTURE_LAYERS == metrics.EFFECTIVENESS_LAYERS[:4]


def test_block_effectiveness_combines_to_e(style_metrics, paintings):
    from keras_style.evaluation import metrics

    content = image_io.load_image(CONTENT_IMAGE, max_size=SIZE)
    names = list(paintings)
    values = style_metrics.evaluate(content, paintings[names[0]], paintings[names[1]])
    blocks = [values[n] for n in metrics.E_BLOCK_COLUMNS]
    assert all(0 < b < metrics.MAX_EFFECTIVENESS for b in blocks)
    assert len(set(np.round(blocks, 6))) == len(blocks)  # really per layer, not E copied
    assert metrics.combine_block_effectiveness(blocks) == pytest.approx(values["effectiveness"], rel=1e-12)
    # The same E as the one-layer-at-a-time moments give.
    assert style_metrics.effectiveness(paintings[names[0]], paintings[names[1]]) == pytest.approx(
        values["effectiveness"], rel=1e-9)


def test_block_effectiveness_closed_form():
    from keras_style.evaluation import metrics

    # Layer 0: KL(N(0,1) || N(1,1)) = 1/2 per direction; layer 1: identical (KL 0).
    moments_o = [(np.zeros(4), np.ones(4)), (np.zeros(4), np.ones(4))]
    moments_s = [(np.ones(4), np.ones(4)), (np.zeros(4), np.ones(4))]
    blocks = metrics.block_effectiveness(moments_o, moments_s)
    assert blocks == pytest.approx([math.log(2), metrics.MAX_EFFECTIVENESS])
    assert metrics.effectiveness_from_moments(moments_o, moments_s) == pytest.approx(math.log(4))
    assert metrics.combine_block_effectiveness(blocks) == pytest.approx(math.log(4))


def test_texture_distance_definition():
    from keras_style.evaluation import metrics

    a = [np.eye(2), np.eye(3)]
    assert metrics.texture_distance(a, a) == 0.0
    # Layer 0: ‖I − 3I‖ / (‖I‖ + ‖3I‖) = 2/4; layer 1 equal: mean 1/4.
    assert metrics.texture_distance(a, [3 * np.eye(2), np.eye(3)]) == pytest.approx(0.25)
    candidates = {"own": [3 * np.eye(2), np.eye(3)], "near": [1.1 * np.eye(2), np.eye(3)], "far": [9 * np.eye(2),
                                                                                                    np.eye(3)]}
    assert metrics.texture_rank(a, "near", candidates) == 1
    assert metrics.texture_rank(a, "own", candidates) == 2
    assert metrics.texture_rank(a, "far", candidates) == 3
    assert metrics.texture_rank(a, "own", {"own": a, "twin": a}) == 2  # a tie counts against


def test_descriptor_does_not_depend_on_image_size(style_metrics, paintings):
    """Grams are means over positions: a 2 x 2 tiling (4 times the pixels, the same
    texture) keeps the descriptor, up to the seams."""
    from keras_style.evaluation import metrics

    descriptors = {name: style_metrics.texture_descriptor(p) for name, p in paintings.items()}
    for name, image in paintings.items():
        tiled = style_metrics.texture_descriptor(np.tile(image, (2, 2, 1)))
        near = metrics.texture_distance(descriptors[name], tiled)
        others = [metrics.texture_distance(descriptors[name], d) for n, d in descriptors.items() if n != name]
        assert near < 0.5 * min(others), name


def test_perturbed_paintings_retrieve_their_own(style_metrics, paintings):
    from keras_style.evaluation import metrics

    assert len(paintings) >= 3
    candidates = {name: style_metrics.style_reference(p)["texture"] for name, p in paintings.items()}
    for name, painting in paintings.items():
        descriptor = style_metrics.texture_descriptor(_perturbed(painting))
        assert metrics.texture_rank(descriptor, name, candidates) == 1, name


def test_colour_change_leaves_descriptor_nearly_unchanged(style_metrics, paintings):
    from keras_style.evaluation import metrics

    descriptors = {name: style_metrics.texture_descriptor(p) for name, p in paintings.items()}
    for name, painting in paintings.items():
        rotated = style_metrics.texture_descriptor(_hue_rotated(painting))
        shift = metrics.texture_distance(descriptors[name], rotated)
        nearest_other = min(metrics.texture_distance(descriptors[name], d) for n, d in descriptors.items() if n != name)
        assert shift < 0.5 * nearest_other, name
        # A grey copy has exactly the painting's luminance: the same descriptor.
        grey = metrics.luminance_rgb(painting)
        assert metrics.texture_distance(descriptors[name], style_metrics.texture_descriptor(grey)) < 1e-3


def test_evaluate_ranks_among_the_run_styles(style_metrics, paintings):
    names = list(paintings)
    references = {n: style_metrics.style_reference(paintings[n]) for n in names}
    content = image_io.load_image(CONTENT_IMAGE, max_size=SIZE)
    own = names[2]
    values = style_metrics.evaluate(content, _perturbed(paintings[own]), references[own],
                                    texture_styles=references, own_style=own)
    assert values["texture_rank"] == 1 and values["texture_hit"] == 1
    # One output's ranks against each style in turn are a permutation: one hit only.
    ranks = [style_metrics.evaluate(content, content, references[n], texture_styles=references,
                                    own_style=n)["texture_rank"] for n in names]
    assert sorted(ranks) == list(range(1, len(names) + 1))
    # One style: nothing to rank among, left NaN.
    single = style_metrics.evaluate(content, paintings[own], references[own],
                                    texture_styles={own: references[own]}, own_style=own)
    assert math.isnan(single["texture_rank"]) and math.isnan(single["texture_hit"])


def test_summary_and_table_report_texture_and_blocks():
    from keras_style.evaluation import report
    from keras_style.evaluation.metrics import E_BLOCK_COLUMNS

    def row(style, rank, blocks):
        return {"method": "m", "content": "c", "style": style, "effectiveness": "2", "coherence": "0.5",
                "palette": "3", "seconds": "1", "style_loss": "1", "content_loss": "1", "peak_rss_mib": "1",
                "texture_rank": str(rank), "texture_hit": str(int(rank == 1)),
                **{n: str(b) for n, b in zip(E_BLOCK_COLUMNS, blocks)}}

    rows = [row("a", 1, [1, 2, 3, 4, 5]), row("b", 2, [3, 2, 1, 0, 1]), row("c", 4, [2, 2, 2, 2, 3])]
    (summary,) = report.summarize(rows, ["m"], styles=4)
    assert summary["texture_hit_rate"] == pytest.approx(1 / 3)
    assert summary["texture_mrr"] == pytest.approx((1 + 1 / 2 + 1 / 4) / 3)
    assert summary["E_relu1_1_mean"] == pytest.approx(2.0) and summary["E_relu5_1_mean"] == pytest.approx(3.0)
    assert summary["texture_styles"] == 4
    assert set(summary) == set(report.SUMMARY_COLUMNS)
    table = report.format_table([summary])
    assert "texture hit" in table and "0.3333" in table and "E_relu1_1 mean" in table
    assert "among 4 styles" in table

    blank = [dict(r, texture_rank="", texture_hit="") for r in rows[:1]]
    (summary,) = report.summarize(blank, ["m"], styles=1)
    assert math.isnan(summary["texture_hit_rate"]) and math.isnan(summary["texture_styles"])
    assert "needs at least 2" in report.format_table([summary])


def test_evaluate_writes_blocks_and_retrieval(tmp_path, vgg19_weights_path):
    import csv
    import shutil

    import keras

    from keras_style.evaluation import EvaluationConfig, evaluate
    from keras_style.export.fast_style import export_fast_style_model
    from keras_style.models import TransformNet

    keras.utils.set_random_seed(0)
    own = os.path.splitext(os.path.basename(PAINTINGS[0]))[0]
    model = export_fast_style_model(TransformNet(base=4), tmp_path / "m" / "saved_model", style_name=own)
    content_dir, styles_dir = tmp_path / "content", tmp_path / "styles"
    content_dir.mkdir()
    styles_dir.mkdir()
    shutil.copy(CONTENT_IMAGE, content_dir)
    for path in PAINTINGS[:2]:
        shutil.copy(path, styles_dir)

    def run(style, output_dir):
        return evaluate(EvaluationConfig(content=str(content_dir), style=style, methods=[model],
                                         output_dir=str(tmp_path / output_dir), image_size=48, cell_size=32,
                                         weights=vgg19_weights_path))

    result = run(str(styles_dir), "eval")
    with open(result["results_csv"], newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert row["style"] == own and row["texture_rank"] in ("1", "2")
    assert row["texture_hit"] == str(int(row["texture_rank"] == "1"))
    blocks = [float(row[f"E_relu{b}_1"]) for b in range(1, 6)]
    from keras_style.evaluation.metrics import combine_block_effectiveness

    assert combine_block_effectiveness(blocks) == pytest.approx(float(row["effectiveness"]), rel=1e-6)
    with open(result["summary_csv"], newline="") as f:
        (summary,) = list(csv.DictReader(f))
    assert float(summary["texture_hit_rate"]) == float(row["texture_hit"])
    assert float(summary["texture_mrr"]) == pytest.approx(1 / int(row["texture_rank"]))
    assert summary["texture_styles"] == "2" and float(summary["E_relu1_1_mean"]) == float(row["E_relu1_1"])
    assert "among 2 styles" in result["table"]
    assert os.path.getsize(tmp_path / "eval" / "e_blocks.png") > 0

    single = run(str(styles_dir / os.path.basename(PAINTINGS[0])), "eval1")
    with open(single["results_csv"], newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert row["texture_rank"] == row["texture_hit"] == "" and row["E_relu3_1"] != ""
    assert "needs at least 2" in single["table"]
