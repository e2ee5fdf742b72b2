"""Gatys optimisation: evaluator gradient, a short real run, options."""

import numpy as np
import pytest

from conftest import CONTENT_IMAGE, STYLE_IMAGE, STYLE_IMAGE_2
from keras_style import gatys, image_io
from keras_style.errors import StyleError
from keras_style.vgg import VGGFeatureExtractor

SMALL = dict(content_layers=["block2_conv1"], style_layers=["block1_conv1", "block2_conv1"])


@pytest.fixture(scope="module")
def images(vgg19_weights_path):
    return image_io.load_image(CONTENT_IMAGE, max_size=64), image_io.load_image(STYLE_IMAGE, max_size=64)


def test_evaluator_gradient_matches_finite_differences(images):
    content, style = images
    config = gatys.GatysConfig(image_size=12, **SMALL, tv_weight=1.0, style_weight=100.0)
    extractor = VGGFeatureExtractor(["block2_conv1", "block1_conv1"])
    c = np.clip(image_io.resize_image(content, (12, 12)), 0, 255)
    s = image_io.resize_image(style, (12, 12))
    loss = gatys.GatysLoss(extractor, config, c, [s], [1.0])
    evaluator = gatys.Evaluator(loss, 12, 12)
    rng = np.random.default_rng(0)
    x = rng.uniform(20, 230, 12 * 12 * 3)
    value, grad = evaluator(x)
    assert grad.dtype == np.float64 and grad.shape == x.shape and isinstance(value, float)
    eps = 0.5
    # The loss (~1.6e6) is summed in float32: its last bits depend on how the CPU's kernels
    # order the sums (AVX2 and AVX-512 differ), ~1e-6 relative, which leaves ~2 units of noise
    # in each difference quotient: hence the 0.5%-of-the-largest-component floor beside the 5%.
    for i in rng.choice(x.size, 8, replace=False):
        step = np.zeros_like(x)
        step[i] = eps
        numeric = (evaluator(x + step)[0] - evaluator(x - step)[0]) / (2 * eps)
        assert numeric == pytest.approx(grad[i], rel=0.05, abs=5e-3 * np.abs(grad).max())


def test_short_run_lowers_the_loss(images):
    content, style = images
    reports = []
    config = gatys.GatysConfig(image_size=64, iterations=30)
    out = gatys.stylize(None, content, [style], config=config, on_progress=reports.append)
    assert out.shape == (64, 64, 3) and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 255
    first, last = reports[0], reports[-1]
    assert first.evaluation == 1 and last.evaluation >= 30
    # L-BFGS over real VGG19 features: 30 evaluations cut the total loss at least 5x,
    # the style term at least 10x.
    assert last.loss < first.loss / 5
    assert last.style_loss < first.style_loss / 10
    assert not np.allclose(out, np.clip(image_io.resize_image(content, (64, 64)), 0, 255), atol=5)


def test_blending_multiscale_noise_init_and_colour(images):
    content, style = images
    style2 = image_io.load_image(STYLE_IMAGE_2, max_size=64)
    stages = []
    config = gatys.GatysConfig(
        scales=[32, 48], iterations=3, init="noise", style_blend_weights=[0.7, 0.3],
        preserve_color="luminance", seed=3, **SMALL,
    )
    out = gatys.stylize(None, content, [style, style2], config=config, on_progress=lambda p: stages.append((p.stage, p.size)))
    assert out.shape == (48, 48, 3)
    assert {s for s, _ in stages} == {0, 1} and (32, 32) in {size for _, size in stages}
    again = gatys.stylize(None, content, [style, style2], config=config)
    np.testing.assert_allclose(out, again, atol=1e-3)  # seeded: reproducible


def test_style_blend_weights_change_the_target(images):
    content, style = images
    style2 = image_io.load_image(STYLE_IMAGE_2, max_size=64)
    extractor = VGGFeatureExtractor(["block2_conv1", "block1_conv1"])
    config = gatys.GatysConfig(**SMALL)
    c = np.clip(image_io.resize_image(content, (32, 32)), 0, 255)
    a = gatys.GatysLoss(extractor, config, c, [style, style2], [1.0, 0.0]).style_targets["block1_conv1"]
    b = gatys.GatysLoss(extractor, config, c, [style], [1.0]).style_targets["block1_conv1"]
    mix = gatys.GatysLoss(extractor, config, c, [style, style2], [0.5, 0.5]).style_targets["block1_conv1"]
    only2 = gatys.GatysLoss(extractor, config, c, [style2], [1.0]).style_targets["block1_conv1"]
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(mix), 0.5 * (np.asarray(b) + np.asarray(only2)), rtol=1e-4)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"style_weight": -1}, "style_weight must be >= 0"),
        ({"image_size": 8}, "too small"),
        ({"style_layer_weights": [1.0]}, "1 style layer weights for 5 style layers"),
        ({"content_layer_weights": [-1.0]}, "content layer weights must be >= 0"),
        ({"iterations": 0}, "iterations must be >= 1"),
        ({"preserve_color": "yuv"}, "unknown colour preservation"),
        ({"style_scale": 0}, "style_scale must be > 0"),
        # NaN passes every `< 0` check and gave an unstyled picture with exit 0 (issue 15).
        ({"content_weight": float("nan")}, "content_weight must be a finite number, got nan"),
        ({"style_weight": float("inf")}, "style_weight must be a finite number, got inf"),
        ({"tv_weight": float("nan")}, "tv_weight must be a finite number"),
        ({"style_blend_weights": [1.0, float("nan")]}, "style blend weights must be finite and >= 0"),
        ({"style_layer_weights": [1.0, 1.0, 1.0, 1.0, float("inf")]}, "style layer weights must be finite numbers"),
        ({"content_layer_weights": [float("nan")]}, "content layer weights must be finite numbers"),
        ({"style_scale": float("nan")}, "style_scale must be a finite number, got nan"),
        ({"style_scale": float("inf")}, "style_scale must be a finite number, got inf"),
        # No memory bound: 150 x 64 px made a 9600 px style image.
        ({"style_scale": 150, "image_size": 64}, "style images 9600 px on the long side .* limit is 4096 px"),
        ({"style_scale": 2, "scales": [256, 512, 2560]}, "5120 px"),
    ],
)
def test_bad_config(kwargs, message):
    with pytest.raises(StyleError, match=message):
        gatys.GatysConfig(**kwargs).validate()


def test_style_scale_limit_allows_large_images_and_numpy_weights():
    gatys.GatysConfig(style_scale=8, image_size=512).validate()  # 4096 px: at the limit
    gatys.GatysConfig(style_scale=1, image_size=6000).validate()  # the image itself is larger
    gatys.GatysConfig(style_blend_weights=np.array([0.5, 0.5], np.float32)).validate()


def test_blend_weight_count_must_match(images):
    content, style = images
    with pytest.raises(StyleError, match=r"style blend weights: 2 value\(s\) for 1 style\(s\)"):
        gatys.stylize(None, content, [style], config=gatys.GatysConfig(style_blend_weights=[1, 1], image_size=32))
