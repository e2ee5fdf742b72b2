"""Tests for keras_style.color."""

import numpy as np
import pytest

from keras_style.color import (
    ColorMoments,
    match_color_histogram,
    preserve_color,
    rgb_to_yiq,
    yiq_to_rgb,
)
from keras_style.errors import StyleError
from keras_style.inference.style_palette import StylePalette


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _stats(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pixels = image.reshape(-1, 3).astype(np.float64)
    return pixels.mean(axis=0), np.cov(pixels, rowvar=False, bias=True)


def test_yiq_round_trip_is_exact():
    image = _rng(0).uniform(0, 255, (16, 16, 3)).astype(np.float32)
    yiq = rgb_to_yiq(image)
    assert yiq.dtype == np.float32
    np.testing.assert_allclose(yiq_to_rgb(yiq), image, atol=1e-4)
    np.testing.assert_allclose(rgb_to_yiq(yiq_to_rgb(yiq)), yiq, atol=1e-4)


def test_yiq_known_values():
    # Greys have no chroma and Y equal to the grey level; red has I > 0.
    grey = rgb_to_yiq(np.array([255.0, 255.0, 255.0]))
    np.testing.assert_allclose(grey, [255.0, 0.0, 0.0], atol=1e-3)
    red = rgb_to_yiq(np.array([255.0, 0.0, 0.0]))
    np.testing.assert_allclose(red, [0.299 * 255, 0.595716 * 255, 0.211456 * 255], atol=1e-3)


def _low_chroma_content(seed: int, shape=(24, 24, 3)) -> np.ndarray:
    # Near-grey content, so recombined colours stay inside [0, 255] and clipping
    # does not blur what is being measured.
    rng = _rng(seed)
    base = rng.uniform(90, 170, shape[:2] + (1,))
    return (base + rng.uniform(-12, 12, shape)).astype(np.float32)


def test_luminance_keeps_content_chroma_and_stylized_luma():
    content = _low_chroma_content(1)
    stylized = _rng(2).uniform(100, 160, content.shape).astype(np.float32)
    out = preserve_color(content, stylized, "luminance", match_luminance=False)
    assert out.dtype == np.float32 and out.shape == content.shape
    out_yiq, content_yiq, stylized_yiq = rgb_to_yiq(out), rgb_to_yiq(content), rgb_to_yiq(stylized)
    np.testing.assert_allclose(out_yiq[..., 1:], content_yiq[..., 1:], atol=1e-3)
    np.testing.assert_allclose(out_yiq[..., 0], stylized_yiq[..., 0], atol=1e-3)


def test_luminance_matches_content_luma_mean_and_std():
    content = _low_chroma_content(3)
    stylized = _rng(4).uniform(60, 110, content.shape).astype(np.float32)  # darker, flatter
    out = preserve_color(content, stylized)  # default: luminance, match_luminance=True
    out_y, content_y = rgb_to_yiq(out)[..., 0], rgb_to_yiq(content)[..., 0]
    stylized_y = rgb_to_yiq(stylized)[..., 0]
    assert abs(out_y.mean() - content_y.mean()) < 1e-2
    assert abs(out_y.std() - content_y.std()) < 1e-2
    # Still the stylized luminance pattern, only shifted and scaled.
    assert np.corrcoef(out_y.ravel(), stylized_y.ravel())[0, 1] > 0.9999
    np.testing.assert_allclose(rgb_to_yiq(out)[..., 1:], rgb_to_yiq(content)[..., 1:], atol=1e-3)


def _correlated_content(seed: int, shape: tuple[int, int]) -> np.ndarray:
    # Correlated colours around a warm mean, narrow enough to stay inside [0, 255].
    mixing = np.array([[14.0, 0.0, 0.0], [6.0, 10.0, 0.0], [-3.0, 4.0, 8.0]])
    noise = _rng(seed).standard_normal((shape[0] * shape[1], 3))
    return (noise @ mixing.T + [150.0, 120.0, 90.0]).reshape(shape + (3,)).astype(np.float32)


def _cool_stylized(seed: int, shape: tuple[int, int]) -> np.ndarray:
    # Wide, bluish, with its own (different) channel correlation.
    image = _rng(seed).uniform(40, 220, shape + (3,))
    image[..., 2] = 0.5 * image[..., 0] + 0.5 * image[..., 2]
    return image.astype(np.float32)


def test_match_color_histogram_gives_target_mean_and_covariance():
    content = _correlated_content(5, (64, 64))
    style = _cool_stylized(6, (48, 40))  # sizes may differ
    out = match_color_histogram(style, content)
    assert out.dtype == np.float32 and out.shape == style.shape
    content_mean, content_cov = _stats(content)
    out_mean, out_cov = _stats(out)
    np.testing.assert_allclose(out_mean, content_mean, atol=0.05)
    np.testing.assert_allclose(out_cov, content_cov, rtol=0.01, atol=0.5)
    # Before matching the statistics were far apart.
    assert np.abs(_stats(style)[1] - content_cov).max() > 500


def test_preserve_color_histogram_method():
    content = _correlated_content(7, (32, 32))
    stylized = _cool_stylized(8, (32, 32))
    out = preserve_color(content, stylized, method="histogram")
    np.testing.assert_array_equal(out, match_color_histogram(stylized, content))
    content_mean, content_cov = _stats(content)
    out_mean, out_cov = _stats(out)
    np.testing.assert_allclose(out_mean, content_mean, atol=0.05)
    np.testing.assert_allclose(out_cov, content_cov, rtol=0.01, atol=0.5)


@pytest.mark.parametrize("method", ["luminance", "histogram"])
def test_flat_stylized_image_gives_finite_output_in_range(method):
    content = _rng(9).uniform(0, 255, (8, 8, 3)).astype(np.float32)
    out = preserve_color(content, np.full((8, 8, 3), 30.0, np.float32), method)
    assert np.isfinite(out).all()
    assert out.min() >= 0.0 and out.max() <= 255.0


def test_output_is_clipped_to_range():
    content = np.zeros((4, 4, 3), np.float32)
    content[..., 0] = 255.0  # saturated red: full-luma stylized pixels leave the RGB cube
    stylized = _rng(10).uniform(0, 255, (4, 4, 3)).astype(np.float32)
    out = preserve_color(content, stylized, match_luminance=False)
    assert out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 255.0


def test_size_mismatch_raises_style_error():
    with pytest.raises(StyleError) as excinfo:
        preserve_color(np.zeros((4, 6, 3)), np.zeros((5, 6, 3)))
    message = str(excinfo.value)
    assert "6×4" in message and "6×5" in message and "\n" not in message


def test_unknown_method_raises_style_error():
    with pytest.raises(StyleError, match="unknown colour preservation method 'hsv'.*luminance"):
        preserve_color(np.zeros((2, 2, 3)), np.zeros((2, 2, 3)), method="hsv")


def test_color_moments_mix_is_the_pooled_distribution():
    """Mixing two images' moments by their pixel shares gives the moments of all their
    pixels together (the mixture's covariance includes the spread between the means)."""
    a, b = _correlated_content(1, (20, 30)), _cool_stylized(2, (10, 30))
    mixed = ColorMoments.mix([ColorMoments.of(a), ColorMoments.of(b)], [2 / 3, 1 / 3])
    pooled_mean, pooled_cov = _stats(np.concatenate([a, b]))
    np.testing.assert_allclose(mixed.mean, pooled_mean, atol=1e-9)
    np.testing.assert_allclose(mixed.covariance, pooled_cov, atol=1e-8)
    weighted = ColorMoments.of(np.concatenate([a, b]), pixel_weights=np.r_[np.ones(20), np.zeros(10)][:, None]
                               * np.ones((1, 30)))
    np.testing.assert_allclose(weighted.mean, _stats(a)[0], atol=1e-9)
    with pytest.raises(StyleError, match="all zero"):
        ColorMoments.of(a, pixel_weights=np.zeros(a.shape[:2]))


def test_style_palette_gives_the_styles_mixed_colours():
    stylized = _cool_stylized(3, (40, 40))
    warm, other = _correlated_content(4, (32, 32)), _correlated_content(5, (16, 48)) * 0.5
    palette = StylePalette.of([warm, other], [0.75, 0.25])
    out = palette.apply(stylized)
    target = ColorMoments.mix([ColorMoments.of(warm), ColorMoments.of(other)], [0.75, 0.25])
    out_mean, out_cov = _stats(out)
    np.testing.assert_allclose(out_mean, target.mean, atol=0.05)
    np.testing.assert_allclose(out_cov, target.covariance, rtol=0.01, atol=0.5)
    assert np.abs(_stats(stylized)[0] - target.mean).max() > 20  # it was far off before


def test_style_palette_with_masks_colours_each_region_and_keeps_uncovered_pixels():
    stylized = _cool_stylized(6, (30, 40))
    warm, dark = _correlated_content(7, (24, 24)), _correlated_content(8, (24, 24)) * 0.4
    left, right = np.zeros((30, 40), np.float32), np.zeros((30, 40), np.float32)
    left[:, :15], right[:, 25:] = 1.0, 1.0  # columns 15..24 are in neither mask
    out = StylePalette.of([warm, dark], [0.5, 0.5]).apply(stylized, masks=[left, right])
    np.testing.assert_allclose(out[:, 15:25], stylized[:, 15:25], atol=1e-3)
    np.testing.assert_allclose(_stats(out[:, :15])[0], _stats(warm)[0], atol=0.05)
    np.testing.assert_allclose(_stats(out[:, 25:])[0], _stats(dark)[0], atol=0.05)
    np.testing.assert_allclose(_stats(out[:, 25:])[1], _stats(dark)[1], rtol=0.01, atol=0.5)
