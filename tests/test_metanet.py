"""Tests for the MetaNet (Shen et al. 2018): layers, models, library helpers and training task."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import EXAMPLES, STYLE_IMAGE, STYLE_IMAGE_2
from model_test_utils import assert_serialization_round_trip

from keras_style import image_io
from keras_style import metanet as metanet_lib
from keras_style.errors import StyleError
from keras_style.layers import ConditionalInstanceNormalization, InputKernelConv2D
from keras_style.models import GeneratedTransformNet, MetaNet, MetaNetStyleTransfer, TransformNet
from keras_style.models.generated_transform_net import (
    num_generated_params,
    split_weight_vector,
    to_transform_net,
    weight_layout,
)
from keras_style.models.metanet import STATISTICS_DIM, STATISTICS_LAYERS, STATISTICS_SCALE, weight_norms

BASE = 4
HIDDEN = 8
CONTENT_DIR = os.path.join(EXAMPLES, "content")


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def _images(shape, seed=0, high=255.0):
    return np.random.default_rng(seed).uniform(0.0, high, size=shape).astype("float32")


def _statistics(n=1, seed=0):
    # The size of real VGG statistics of [0, 255] images: tens to hundreds.
    return _images((n, STATISTICS_DIM), seed=seed, high=400.0)


@pytest.fixture(scope="module")
def metanet():
    """A MetaNet whose style part is not zero, as after training: an untrained one gives
    every style the same weights (`test_untrained_metanet_shares_...`)."""
    keras.utils.set_random_seed(0)
    model = MetaNet(base=BASE, hidden_per_layer=HIDDEN)
    rng = np.random.default_rng(0)
    for kernel in model.get_layer("heads").kernels:
        kernel.assign(rng.normal(scale=HIDDEN**-0.5, size=kernel.shape).astype("float32"))
    return model


@pytest.fixture(scope="module")
def generated_net():
    keras.utils.set_random_seed(1)
    net = GeneratedTransformNet(base=BASE)
    # Non-trivial shared weights, so copying them is actually tested.
    rng = np.random.default_rng(2)
    for layer in net.layers:
        if layer.name.endswith("_norm") and layer.weights:  # conv1_norm (the others are generated)
            gamma, beta = layer.get_weights()
            layer.set_weights([1.0 + 0.2 * rng.normal(size=gamma.shape), 0.2 * rng.normal(size=beta.shape)])
    return net


@pytest.fixture(scope="module")
def weight_vector(metanet):
    return _np(metanet(_statistics()))


@pytest.fixture(scope="module")
def extractor():
    return metanet_lib.statistics_extractor()


# Weight layout.


def test_weight_layout_follows_transform_net_specs():
    slots = weight_layout(BASE)
    specs = TransformNet.conv_layer_specs(BASE)
    assert [s.name for s in slots] == [s[0] for s in specs[1:-1]]
    assert len(slots) == 14
    offset = 0
    for slot, (_, k, c_in, c_out, stride) in zip(slots, specs[1:-1]):
        assert slot.offset == offset
        assert slot.kernel_shape == (k, k, c_in, c_out) and slot.stride == stride
        # The kernel, then the following instance norm's gamma and beta.
        assert slot.channels == c_out and slot.size == k * k * c_in * c_out + 2 * c_out
        offset += slot.size
    assert num_generated_params(BASE) == offset == 1620 * BASE**2 + 98 * BASE
    assert num_generated_params(8) == 104_464


def test_split_weight_vector():
    vector = np.arange(num_generated_params(BASE), dtype="float32")
    parts = split_weight_vector(vector[None], BASE)
    assert list(parts) == [s.name for s in weight_layout(BASE)]
    conv3, gamma, beta = parts["conv3"]
    assert conv3.shape == (3, 3, 2 * BASE, 4 * BASE) and gamma.shape == beta.shape == (4 * BASE,)
    start = weight_layout(BASE)[1].offset
    np.testing.assert_array_equal(
        np.concatenate([conv3.reshape(-1), gamma, beta]), vector[start: start + conv3.size + 8 * BASE]
    )
    with pytest.raises(StyleError, match="weight vector"):
        split_weight_vector(vector[:-1], BASE)


# Layers.


@pytest.mark.parametrize("stride,use_bias", [(1, False), (2, False), (2, True)])
def test_input_kernel_conv_equals_conv2d(stride, use_bias):
    rng = np.random.default_rng(stride)
    x = rng.normal(size=(2, 11, 9, 5)).astype("float32")
    reference = keras.layers.Conv2D(7, 3, strides=stride, padding="valid", use_bias=use_bias)
    expected = _np(reference(x))
    kernel = reference.kernel
    layer = InputKernelConv2D(strides=stride)
    inputs = [x, kernel] + ([tf.constant(rng.normal(size=7), tf.float32)] if use_bias else [])
    if use_bias:
        reference.bias.assign(inputs[2])
        expected = _np(reference(x))
    actual = _np(layer(inputs))
    assert actual.shape == expected.shape == layer.compute_output_shape([x.shape, kernel.shape])[:3] + (7,)
    np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_input_kernel_conv_config():
    layer = InputKernelConv2D(strides=2, name="c")
    config = layer.get_config()
    assert config["strides"] == [2, 2] and config["padding"] == "valid"
    assert InputKernelConv2D.from_config(config).get_config() == config
    assert keras.saving.serialize_keras_object(layer)["registered_name"] == "keras_style>InputKernelConv2D"
    with pytest.raises(ValueError):
        InputKernelConv2D(strides=0)
    with pytest.raises(ValueError, match="input channels"):
        layer([np.zeros((1, 5, 5, 3), "float32"), np.zeros((3, 3, 4, 2), "float32")])


# MetaNet.


def test_each_head_reads_only_its_hidden_group(metanet):
    heads = metanet.get_layer("heads")
    normalize = metanet.get_layer("weight_bounds")
    slots = weight_layout(BASE)
    hidden = np.random.default_rng(0).uniform(0.0, 2.0, size=(1, len(slots), HIDDEN)).astype("float32")
    base_raw = _np(heads(hidden))
    base_weights = _np(normalize(base_raw))
    for k, slot in enumerate(slots):
        perturbed = hidden.copy()
        perturbed[:, k, :] += np.random.default_rng(k).normal(size=HIDDEN).astype("float32")
        for before, after in ((base_raw, _np(heads(perturbed))), (base_weights, _np(normalize(heads(perturbed))))):
            changed = np.abs(after - before)[0] > 0
            inside = np.zeros_like(changed)
            inside[slot.offset: slot.offset + slot.size] = True
            assert changed[inside].any(), slot.name
            assert not changed[~inside].any(), f"perturbing group {k} changed other heads' outputs"


def test_metanet_structure_and_parameter_count(metanet):
    groups = len(weight_layout(BASE))
    assert metanet.get_layer("hidden").units == groups * HIDDEN
    assert tuple(metanet.get_layer("hidden_groups").output.shape) == (None, groups, HIDDEN)
    expected = STATISTICS_DIM * groups * HIDDEN + groups * HIDDEN + (HIDDEN + 1) * (1620 * BASE**2 + 98 * BASE)
    assert sum(int(np.prod(w.shape)) for w in metanet.trainable_weights) == expected
    # Plus the input standardisation's mean and 1/std (non-trainable).
    assert metanet.count_params() == expected + 2 * STATISTICS_DIM


def test_input_standardisation_is_applied_saved_and_restored(metanet, tmp_path):
    stats = _statistics(2, seed=3)
    layer = metanet.get_layer("input_normalization")
    # Default: (s - 0) * STATISTICS_SCALE.
    np.testing.assert_allclose(_np(layer(stats)), stats * STATISTICS_SCALE, rtol=1e-6)
    model = MetaNet(base=BASE, hidden_per_layer=HIDDEN)
    model.set_weights(metanet.get_weights())
    mean = stats.mean(axis=0)
    std = np.full(STATISTICS_DIM, 7.0, np.float32)
    before = _np(model(stats))
    model.set_statistics_normalization(mean, std)
    np.testing.assert_allclose(_np(model.get_layer("input_normalization")(stats)), (stats - mean) / 7.0,
                               rtol=1e-5, atol=1e-5)
    after = _np(model(stats))
    assert np.abs(after - before).max() > 1e-3
    path = tmp_path / "metanet.keras"
    model.save(path)
    np.testing.assert_allclose(_np(keras.models.load_model(path)(stats)), after, atol=1e-6)
    with pytest.raises(StyleError, match="positive standard deviations"):
        model.set_statistics_normalization(mean, np.zeros(STATISTICS_DIM))


def test_generated_weights_are_bounded(metanet):
    stats = _statistics(3, seed=5)
    weights, raw = metanet.call_with_raw(stats)
    np.testing.assert_allclose(_np(weights), _np(metanet(stats)), atol=1e-6)
    norms = weight_norms(BASE)
    bounds = metanet.get_layer("weight_bounds")
    huge = _np(bounds(1000.0 * raw))
    for row in range(3):
        generated = split_weight_vector(_np(weights)[row], BASE)
        for name, (kernel, gamma, beta) in generated.items():
            np.testing.assert_allclose(np.linalg.norm(kernel), norms[name], rtol=1e-5)
            assert np.all((gamma > -1.0) & (gamma < 3.0)) and np.all(np.abs(beta) < 2.0)
            assert gamma.std() > 0  # the norms' affine is generated, not constant
        # Scaling the raw output leaves the kernels alone (the free scale the instance
        # norms ignore) and pushes gamma and beta to their caps, never past them.
        for name, (kernel, gamma, beta) in split_weight_vector(huge[row], BASE).items():
            np.testing.assert_allclose(kernel, generated[name][0], rtol=1e-4, atol=1e-6)
            assert np.all((gamma >= -1.0) & (gamma <= 3.0)) and np.all(np.abs(beta) <= 2.0)
            assert np.abs(beta).max() > 1.9


def test_untrained_metanet_shares_a_he_initialised_transform_net():
    keras.utils.set_random_seed(11)
    model = MetaNet(base=BASE, hidden_per_layer=HIDDEN)
    # Standardised input, as after the trainer sets it (_statistics is uniform on [0, 400]).
    model.set_statistics_normalization(np.full(STATISTICS_DIM, 200.0), np.full(STATISTICS_DIM, 400.0 / np.sqrt(12.0)))
    assert model.get_layer("head_gain").scale == pytest.approx(1.0 / np.sqrt(HIDDEN))
    heads = model.get_layer("heads")
    shared = np.concatenate([_np(b) for b in heads.biases])
    stats = _statistics(2, seed=1)
    weights, raw = (_np(t) for t in model.call_with_raw(stats))
    hidden = _np(model.get_layer("hidden")(model.get_layer("input_normalization")(stats)))
    for slot_index, slot in enumerate(weight_layout(BASE)):
        kernel_size = int(np.prod(slot.kernel_shape))
        bias = shared[slot.offset: slot.offset + slot.size]
        # The shared kernel is He-normal (std sqrt(2 / fan_in)); gamma, beta start at 0.
        fan_in = np.prod(slot.kernel_shape[:3])
        assert bias[:kernel_size].std() == pytest.approx(np.sqrt(2.0 / fan_in), rel=0.35), slot.name
        assert not bias[kernel_size:].any()
        # The style part starts at zero: every style gets the shared network.
        np.testing.assert_array_equal(raw[:, slot.offset: slot.offset + slot.size], np.stack([bias, bias]))
        # ... and it can learn: its kernel gets a gradient, since the hidden units are not all zero.
        assert np.abs(hidden[:, slot_index * HIDDEN:(slot_index + 1) * HIDDEN]).max() > 0
    with tf.GradientTape() as tape:
        _, raw_t = model.call_with_raw(stats)
        loss = tf.reduce_sum(tf.square(raw_t[0] - 1.0))
    grads = tape.gradient(loss, heads.kernels)
    assert all(float(tf.reduce_max(tf.abs(g))) > 0 for g in grads)
    for kernel, gamma, beta in split_weight_vector(weights[0], BASE).values():
        assert np.all((gamma > -1.0) & (gamma < 3.0)) and np.all(np.abs(beta) < 2.0)


def test_metanet_round_trip(metanet):
    assert metanet.get_config() == {
        "name": metanet.name, "trainable": True, "base": BASE, "hidden_per_layer": HIDDEN,
    }
    assert_serialization_round_trip(metanet, _statistics(2), atol=1e-5)


@pytest.mark.parametrize("kwargs", [{"base": 0}, {"base": 2.5}, {"hidden_per_layer": 0}, {"base": True}])
def test_metanet_bad_arguments(kwargs):
    with pytest.raises(StyleError):
        MetaNet(**kwargs)


# GeneratedTransformNet.


@pytest.mark.parametrize("size", [(1, 1), (5, 7), (33, 47)])
def test_generated_net_output_shape_at_odd_sizes(generated_net, weight_vector, size):
    images = _images((2, *size, 3))
    out = _np(generated_net([tf.constant(images), tf.constant(weight_vector)]))
    assert out.shape == images.shape and out.dtype == np.float32
    assert np.all(out > 0.0) and np.all(out < 255.0)


def test_generated_net_accepts_flat_weight_vector(generated_net, weight_vector):
    images = tf.constant(_images((1, 12, 10, 3)))
    np.testing.assert_array_equal(
        _np(generated_net([images, tf.constant(weight_vector[0])])),
        _np(generated_net([images, tf.constant(weight_vector)])),
    )


def test_generated_net_layers(generated_net):
    convs = [layer for layer in generated_net.layers if isinstance(layer, (keras.layers.Conv2D, InputKernelConv2D))]
    assert [c.name for c in convs] == [s[0] for s in TransformNet.conv_layer_specs(BASE)]
    assert isinstance(generated_net.get_layer("conv1"), keras.layers.Conv2D)
    assert isinstance(generated_net.get_layer("conv_out"), keras.layers.Conv2D)
    assert all(isinstance(c, InputKernelConv2D) for c in convs[1:-1])
    # Shared weights: conv1, its instance norm (gamma + beta) and conv_out (kernel +
    # bias); the other 14 norms take gamma and beta from the weight vector.
    assert len(generated_net.trainable_weights) == 1 + 2 + 2
    assert all(
        isinstance(generated_net.get_layer(f"{s[0]}_norm"), ConditionalInstanceNormalization)
        for s in TransformNet.conv_layer_specs(BASE)[1:-1]
    )


def test_to_transform_net_matches_generated_run(generated_net, weight_vector):
    images = _images((2, 21, 18, 3))
    expected = _np(generated_net([tf.constant(images), tf.constant(weight_vector)]))
    standalone = to_transform_net(generated_net, weight_vector)
    assert isinstance(standalone, TransformNet) and standalone.base == BASE
    actual = _np(standalone(images))
    assert np.max(np.abs(actual - expected)) <= 1e-3
    assert expected.std() > 1.0  # not a degenerate constant image
    with pytest.raises(StyleError):
        to_transform_net(generated_net, weight_vector[:, :-1])


def test_solid_colour_content_gives_finite_output(generated_net, weight_vector):
    images = np.full((2, 16, 16, 3), 128.0, "float32")
    images[1] = 0.0
    out = _np(generated_net([tf.constant(images), tf.constant(weight_vector)]))
    assert np.all(np.isfinite(out))


def test_generated_net_round_trip(generated_net, weight_vector):
    assert generated_net.get_config() == {"name": generated_net.name, "trainable": True, "base": BASE}
    inputs = [_images((1, 9, 11, 3)), weight_vector]
    assert_serialization_round_trip(generated_net, inputs, atol=1e-4)


# Library: statistics, mixing, stylizing.


def test_style_statistics_vector_layout():
    rng = np.random.default_rng(0)
    features = {name: rng.uniform(0, 50, size=(2, 4, 4, c)).astype("float32")
                for name, c in zip(STATISTICS_LAYERS, (64, 128, 256, 512))}
    vector = _np(metanet_lib.style_statistics_vector(features))
    assert vector.shape == (2, STATISTICS_DIM) == (2, 1920)
    first = features["block1_conv2"]
    np.testing.assert_allclose(vector[:, :64], first.mean(axis=(1, 2)), rtol=1e-5)
    np.testing.assert_allclose(vector[:, 64:128], np.sqrt(first.var(axis=(1, 2)) + 1e-5), rtol=1e-4)
    np.testing.assert_allclose(vector[:, -512:], np.sqrt(features["block4_conv3"].var(axis=(1, 2)) + 1e-5), rtol=1e-4)
    with pytest.raises(StyleError, match="block4_conv3"):
        metanet_lib.style_statistics_vector({k: v for k, v in features.items() if k != "block4_conv3"})


@pytest.fixture(scope="module")
def styles():
    return [image_io.load_image(STYLE_IMAGE, max_size=48), image_io.load_image(STYLE_IMAGE_2, max_size=40)]


def test_generate_weights_mixes_statistics(metanet, extractor, styles):
    single = [metanet_lib.style_statistics(extractor, s) for s in styles]
    assert single[0].shape == (1, STATISTICS_DIM)
    np.testing.assert_allclose(
        metanet_lib.generate_weights(metanet, extractor, styles, [1.0, 0.0]),
        metanet_lib.generate_weights(metanet, extractor, styles[0]), atol=1e-6,
    )
    mixed = metanet_lib.generate_weights(metanet, extractor, styles, [3.0, 1.0])  # normalised to 0.75 / 0.25
    expected = _np(metanet(0.75 * single[0] + 0.25 * single[1]))
    np.testing.assert_allclose(mixed, expected, atol=1e-5)
    for bad in ([1.0], [-1.0, 2.0], [0.0, 0.0]):
        with pytest.raises(StyleError):
            metanet_lib.generate_weights(metanet, extractor, styles, bad)


class _Halves:
    """The two parts of a `MetaNetStyleTransfer`, as `metanet_lib.stylize` takes them."""

    def __init__(self, metanet, generated_net):
        self.metanet, self.generated_net = metanet, generated_net


def test_stylize_alpha(metanet, generated_net, extractor, styles):
    stats = metanet_lib.style_statistics(extractor, styles[0])
    weights = _np(metanet(stats))
    content = image_io.load_image(os.path.join(CONTENT_DIR, "pypi_000_astronaut.jpg"), max_size=24)
    model = _Halves(metanet, generated_net)
    full = metanet_lib.stylize(model, content, styles[0], extractor=extractor)
    assert full.shape == content.shape
    np.testing.assert_allclose(full, _np(generated_net([tf.constant(content[None]), tf.constant(weights)]))[0], atol=1e-4)
    kwargs = dict(extractor=extractor)
    np.testing.assert_allclose(metanet_lib.stylize(model, content, styles[0], alpha=1.0 - 1e-9, **kwargs), full, atol=1e-2)
    own = metanet_lib.stylize(model, content, styles[0], alpha=0.0, **kwargs)
    own_weights = _np(metanet(_np(metanet_lib.style_statistics_vector(extractor(content[None])))))
    np.testing.assert_allclose(own, _np(generated_net([tf.constant(content[None]), tf.constant(own_weights)]))[0], atol=1e-4)
    with pytest.raises(StyleError, match="alpha"):
        metanet_lib.stylize(model, content, styles[0], alpha=1.5, **kwargs)
    with pytest.raises(StyleError, match="needs"):
        metanet_lib.stylize(generated_net, content, styles[0], alpha=0.5, **kwargs)


# Training task.


@pytest.fixture(scope="module")
def style_dir(tmp_path_factory, styles):
    directory = tmp_path_factory.mktemp("styles")
    for i, style in enumerate(styles):
        image_io.save_image(style, str(directory / f"style_{i}.png"))
    return str(directory)


def _config(style_dir, **overrides):
    from keras_style.tasks.metanet import MetaNetConfig

    settings = dict(
        content_data=CONTENT_DIR, style_data=style_dir, crop_size=32, batch_size=2, base=BASE,
        hidden_per_layer=HIDDEN, style_size=32, style_change_every=4, seed=0,
    )
    settings.update(overrides)
    return MetaNetConfig(**settings)


@pytest.mark.parametrize("overrides,message", [
    ({"content_weight": -1.0}, "content_weight"),
    ({"style_weight": -0.1}, "style_weight"),
    ({"tv_weight": -1.0}, "tv_weight"),
    ({"weight_norm_penalty": -1e-3}, "weight_norm_penalty"),
    ({"style_change_every": 0}, "style_change_every"),
    ({"learning_rate": 0.0}, "learning_rate"),
    ({"batch_size": 0}, "batch_size"),
    ({"crop_size": 8}, "crop_size"),
    ({"network": "vgg16"}, "vgg19"),
])
def test_bad_config_values(style_dir, overrides, message):
    from keras_style.tasks.metanet import MetaNetTask

    with pytest.raises(StyleError, match=message):
        MetaNetTask(_config(style_dir, **overrides))


def test_empty_or_missing_style_folder(tmp_path):
    from keras_style.tasks.metanet import MetaNetTask

    with pytest.raises(StyleError, match="no images"):
        MetaNetTask(_config(str(tmp_path)))
    with pytest.raises(StyleError, match="not found"):
        MetaNetTask(_config(str(tmp_path / "missing")))


def test_statistics_standardisation_floor_with_one_style(tmp_path, styles):
    from keras_style.tasks.metanet import MetaNetTask

    image_io.save_image(styles[0], str(tmp_path / "only.png"))
    task = MetaNetTask(_config(str(tmp_path)))
    task.build_model()
    mean, std = task.style_statistics_normalization()
    # One style: no spread between styles, so every std is the floor, 1% of the mean
    # statistic (not ~0, which made the MetaNet's input explode).
    np.testing.assert_allclose(std, 0.01 * np.abs(mean).mean() + 1e-6, rtol=1e-5)
    assert std.min() > 0.1


def test_style_schedule_is_blockwise_and_resumable(style_dir):
    from keras_style.tasks.metanet import MetaNetTask

    task = MetaNetTask(_config(style_dir, style_change_every=3))
    indices = [task.style_index_for_step(step) for step in range(24)]
    blocks = [indices[i: i + 3] for i in range(0, 24, 3)]
    assert all(len(set(block)) == 1 for block in blocks)
    # Every style once per len(styles) blocks.
    firsts = [block[0] for block in blocks]
    for i in range(0, len(firsts), 2):
        assert sorted(firsts[i: i + 2]) == [0, 1]
    # A pipeline started at step 7 continues the stream started at step 0.
    from_start = [s.numpy() for s in task.style_dataset(0).take(12)]
    resumed = [s.numpy() for s in task.style_dataset(7).take(5)]
    for offset, image in enumerate(resumed):
        np.testing.assert_array_equal(image, from_start[7 + offset])
    assert from_start[0].shape == (32, 32, 3)
    np.testing.assert_array_equal(from_start[0], from_start[2])
    assert not np.array_equal(from_start[2], from_start[3])
    content, style = next(iter(task.build_inputs(step=0)))
    assert content.shape == (2, 32, 32, 3) and style.shape == (32, 32, 3)


def test_train_step_on_solid_content_is_finite(style_dir, styles):
    from keras_style.tasks.metanet import MetaNetTask

    task = MetaNetTask(_config(style_dir))
    model = task.build_model()
    assert isinstance(model, MetaNetStyleTransfer)
    optimizer = task.build_optimizer()
    content = tf.constant(np.full((2, 32, 32, 3), 90.0, "float32"))
    style = tf.constant(image_io.resize_image(styles[0], (32, 32)))
    metrics = task.train_step((content, style), model, optimizer)
    assert set(metrics) == {"loss", "content", "style", "tv", "weight_penalty", "weight_norm", "raw_weight_norm"}
    assert all(np.isfinite(float(v)) for v in metrics.values())
    # The loss is finite, but its gradient is not: each instance norm of a constant
    # feature map multiplies the gradient by 1/sqrt(epsilon), over 15 of them (a plain
    # TransformNet does the same). Hence skip_flat, and the trainer's NaN guard.
    # Bounded: fixed kernel norms, capped norm scales (|gamma| < 3) and offsets (|beta| < 2).
    kernel_norm = np.sqrt(sum(n**2 for n in weight_norms(BASE).values()))
    channels = sum(slot.channels for slot in weight_layout(BASE))
    assert kernel_norm < float(metrics["weight_norm"]) < np.sqrt(kernel_norm**2 + 13.0 * channels)
    # Trainable: the MetaNet and the generated net's shared weights, nothing of VGG.
    parts = model.get_layer("metanet").trainable_variables + model.get_layer("generated_transform_net").trainable_variables
    assert {id(v) for v in model.trainable_variables} == {id(v) for v in parts}
    assert len(model.trainable_variables) == len(parts) == 2 + 28 + 5


@pytest.fixture(scope="module")
def trained(style_dir, tmp_path_factory):
    """32 steps of real training (crop 32, batch 2, base 4, two styles) in mixed_bfloat16;
    `test_resume_keeps_the_step_count` resumes them in float32."""
    from keras_style.tasks.metanet import train_metanet
    from keras_style.training.trainer import TrainerConfig

    model_dir = str(tmp_path_factory.mktemp("metanet_run"))
    progress = []
    config = _config(style_dir, learning_rate=1e-3)
    trainer_config = TrainerConfig(model_dir, train_steps=32, steps_per_loop=4, checkpoint_interval=16,
                                   summary_interval=32, log=lambda message: None, precision="mixed_bfloat16")
    train_metanet(config, trainer_config, on_progress=progress.append)
    return config, model_dir, progress


def test_short_training_lowers_the_loss(trained):
    _, _, progress = trained
    assert [p.step for p in progress] == list(range(4, 33, 4))
    # The style changes every 4 steps and the two styles' losses differ several-fold,
    # so compare the first 8 steps with the last 8 (both styles in each).
    first = np.mean([p.metrics["loss"] for p in progress[:2]])
    last = np.mean([p.metrics["loss"] for p in progress[-2:]])
    # Measured: the last 8 steps' mean loss is 1/8.0, 1/3.2 and 1/3.9 of the first 8's
    # with seeds 0, 1 and 2 (an untrained MetaNet writes a He-initialised TransformNet).
    assert last < first / 2.0, (first, last)
    for p in progress:
        assert np.isfinite(p.metrics["raw_weight_norm"])


def test_resume_keeps_the_step_count(trained):
    from keras_style.tasks.metanet import MetaNetTask
    from keras_style.training.trainer import Trainer, TrainerConfig

    config, model_dir, _ = trained
    messages = []
    trainer = Trainer(MetaNetTask(config), TrainerConfig(model_dir, train_steps=36, steps_per_loop=4,
                                                         summary_interval=0, log=messages.append,
                                                         precision="float32"))
    assert trainer.step == 32
    assert any("resumed from step 32" in m for m in messages)
    progress = []
    trainer.on_progress = progress.append
    trainer.train()
    assert [p.step for p in progress] == [36]


def test_sample_styles_are_spread_over_the_style_list():
    from keras_style.tasks.metanet import sample_style_files

    files = [f"s{i:02d}.jpg" for i in range(72)]
    assert sample_style_files(files) == ["s00.jpg", "s71.jpg"]
    assert sample_style_files(files, 3) == ["s00.jpg", "s36.jpg", "s71.jpg"]
    assert sample_style_files(files[:1]) == ["s00.jpg"]
