"""The uniform Python API: one `stylize` shape per method module, one runtime `Stylizer`
interface with one name per capability flag, and `StyleError` for every bad image."""

import inspect

import numpy as np
import pytest

from keras_style import adain, checks, color, fast_style, gatys, metanet
from keras_style.contact_sheet import contact_sheet
from keras_style.errors import StyleError
from keras_style.inference import Stylizer, stylize_tiled
from keras_style.inference.adain import AdaINSavedModelStylizer, AdaINTFLiteStylizer
from keras_style.inference.fast_style import FastStyleSavedModelStylizer, FastStyleTFLiteStylizer
from keras_style.inference.metanet import MetaNetSavedModelStylizer, MetaNetTFLiteStylizer

METHODS = {"fast_style": fast_style, "gatys": gatys, "adain": adain, "metanet": metanet}
# (takes_style, supports_alpha, supports_masks) per runtime stylizer class.
CAPABILITIES = {
    FastStyleSavedModelStylizer: (False, False, False),
    FastStyleTFLiteStylizer: (False, False, False),
    AdaINSavedModelStylizer: (True, True, True),
    AdaINTFLiteStylizer: (True, True, False),
    MetaNetSavedModelStylizer: (True, True, False),
    MetaNetTFLiteStylizer: (True, True, False),
}
FLAGS = ("takes_style", "supports_alpha", "supports_masks")
BAD_IMAGES = [np.zeros((8, 8), np.float32), np.zeros((8, 8, 4), np.float32), np.zeros((0, 8, 3), np.float32)]


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_stylize_has_the_same_leading_parameters(method):
    parameters = list(inspect.signature(METHODS[method].stylize).parameters.values())
    leading = [(p.name, p.kind) for p in parameters[:4]]
    positional, keyword = inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY
    assert leading == [("model", positional), ("content", positional), ("styles", positional),
                       ("style_weights", keyword)]
    assert parameters[3].default is None
    # Every option after `styles` is keyword-only.
    assert all(p.kind == keyword for p in parameters[3:])
    if method != "gatys":  # Gatys has no content-style interpolation
        assert parameters[4].name == "alpha" and parameters[4].default == 1.0


def test_fast_style_stylize_on_a_tiny_transform_net():
    import keras

    from keras_style.models import TransformNet

    keras.utils.set_random_seed(0)
    model = TransformNet(base=4)
    rng = np.random.default_rng(0)
    for shape in ((17, 23, 3), (5, 9, 3)):  # any size, odd and below the net's minimum
        content = rng.uniform(0, 255, shape).astype(np.float32)
        out = fast_style.stylize(model, content)
        assert out.shape == shape and out.dtype == np.float32
        assert 0.0 <= out.min() and out.max() <= 255.0
        expected = np.clip(keras.ops.convert_to_numpy(model(content[None], training=False))[0], 0, 255)
        np.testing.assert_allclose(out, expected, atol=1e-5)
    np.testing.assert_array_equal(fast_style.stylize(model, content, None, alpha=1.0), out)
    with pytest.raises(StyleError, match="fixed style"):
        fast_style.stylize(model, content, [content])
    with pytest.raises(StyleError, match="fixed style"):
        fast_style.stylize(model, content, style_weights=[1.0])
    with pytest.raises(StyleError, match="alpha must be 1"):
        fast_style.stylize(model, content, alpha=0.5)
    with pytest.raises(StyleError, match="alpha must be in"):
        fast_style.stylize(model, content, alpha=2.0)
    with pytest.raises(StyleError, match="content image"):
        fast_style.stylize(model, content[..., 0])


def test_capability_flags_are_declared_once_in_the_base():
    for flag in FLAGS:
        assert inspect.getattr_static(Stylizer, flag) is False  # a plain class attribute, not a property
    for cls, expected in CAPABILITIES.items():
        assert tuple(getattr(cls, flag) for flag in FLAGS) == expected, cls.__name__
        for flag in FLAGS:
            assert isinstance(inspect.getattr_static(cls, flag), bool), (cls.__name__, flag)
        assert not hasattr(cls, "supports_mask")  # one name per flag


def test_one_stylize_and_prepare_style_signature():
    base_stylize = list(inspect.signature(Stylizer.stylize).parameters)
    base_prepare = list(inspect.signature(Stylizer.prepare_style).parameters)
    assert base_stylize == ["self", "image", "style", "alpha", "masks"]
    assert base_prepare == ["self", "styles", "weights"]
    for cls in CAPABILITIES:
        assert list(inspect.signature(cls.stylize).parameters) == base_stylize, cls.__name__
        assert list(inspect.signature(cls.prepare_style).parameters) == base_prepare, cls.__name__


class _Invert(Stylizer):
    backend = "test"

    def _stylize_batch(self, images, style):
        return 255.0 - images


def test_base_refuses_what_the_model_cannot_do_with_one_line():
    stylizer = _Invert("toy")
    image = np.full((6, 7, 3), 10.0, np.float32)
    np.testing.assert_array_equal(stylizer.stylize(image, alpha=1.0), 245.0)
    for kwargs, match in (
        (dict(alpha=0.5), "model 'toy' cannot apply an alpha below 1"),
        (dict(masks=[np.ones((6, 7))]), "model 'toy' cannot apply masks"),
        (dict(style=object()), "fixed-style model"),
        (dict(alpha=-1), "alpha must be in"),
    ):
        with pytest.raises(StyleError, match=match) as raised:
            stylizer.stylize(image, **kwargs)
        assert "\n" not in str(raised.value)
    with pytest.raises(StyleError, match="fixed-style model"):
        stylizer.prepare_style([image])


@pytest.mark.parametrize("bad", BAD_IMAGES, ids=lambda a: "x".join(map(str, a.shape)))
def test_a_bad_image_shape_is_a_style_error(bad):
    with pytest.raises(StyleError):
        _Invert("toy").stylize(bad)
    with pytest.raises(StyleError):
        stylize_tiled(lambda tile: tile, bad, tile=4, overlap=1)
    with pytest.raises(StyleError):
        checks.as_image(bad, "image")
    with pytest.raises(StyleError):
        contact_sheet([[bad]])
    if bad.ndim != 3 or bad.shape[-1] != 3:
        with pytest.raises(StyleError):
            color.preserve_color(bad, bad)
