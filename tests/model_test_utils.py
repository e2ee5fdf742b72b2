"""Shared assertions for model tests.

Usage from a test module in `tests/`:

    from model_test_utils import assert_output_shape, ...

Backend-neutral: models are called eagerly and outputs compared as numpy.
"""

import os
import tempfile

import keras
import numpy as np


def _to_numpy_list(outputs):
    """Flattens (possibly nested) model outputs to a list of numpy arrays."""
    return [np.asarray(keras.ops.convert_to_numpy(o)) for o in keras.tree.flatten(outputs)]


def _assert_outputs_close(actual, expected, atol, rtol=0.0, what="outputs"):
    actual, expected = _to_numpy_list(actual), _to_numpy_list(expected)
    assert len(actual) == len(expected), f"{what}: different number of outputs"
    for a, e in zip(actual, expected):
        assert a.shape == e.shape, f"{what}: shape {a.shape} != {e.shape}"
        np.testing.assert_allclose(a, e, atol=atol, rtol=rtol, err_msg=what)


def assert_serialization_round_trip(model, inputs, atol=1e-5):
    """Checks `from_config(get_config())` and a `.keras` save/load round trip.

    Both copies must have the same class and an equal config, and (after
    copying the weights into the `from_config` clone) give outputs equal to
    `model(inputs)` within `atol`.
    """
    config = model.get_config()
    expected = model(inputs)

    clone = type(model).from_config(config)
    assert type(clone) is type(model)
    assert clone.get_config() == config
    clone.set_weights(model.get_weights())
    _assert_outputs_close(clone(inputs), expected, atol, what="from_config clone")

    with tempfile.TemporaryDirectory() as tmp_dir:
        path = os.path.join(tmp_dir, "model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model)
    assert loaded.get_config() == config
    _assert_outputs_close(loaded(inputs), expected, atol, what="loaded .keras model")


def assert_output_shape(model, input_shape, expected_shape, high=1.0, seed=0):
    """Calls `model` on seeded uniform [0, high) float32 input; checks the shape.

    Returns the output as numpy so callers can check values too.
    """
    inputs = np.random.default_rng(seed).uniform(0.0, high, size=input_shape).astype("float32")
    outputs = keras.ops.convert_to_numpy(model(inputs))
    assert tuple(outputs.shape) == tuple(expected_shape), (
        f"input {tuple(input_shape)}: output {tuple(outputs.shape)} != {tuple(expected_shape)}"
    )
    return outputs


def assert_mixed_precision(build_fn, inputs, rtol=2e-2):
    """Checks a model built under the `mixed_float16` policy against float32.

    `build_fn()` is called once under `float32` and once under `mixed_float16`
    (the global policy is restored afterwards, even on failure); the float32
    weights are copied into the mixed model. The mixed output must be finite,
    not all zeros (unless the float32 one is), and satisfy
    `max|mixed - float32| <= rtol * max|float32|`, i.e. an error relative to the
    output's range, which float16 rounding of intermediate values allows for.

    Returns `(float32_outputs, mixed_outputs)` as lists of numpy arrays.
    """
    previous = keras.config.dtype_policy()
    try:
        keras.config.set_dtype_policy("float32")
        reference_model = build_fn()
        keras.config.set_dtype_policy("mixed_float16")
        mixed_model = build_fn()
    finally:
        keras.config.set_dtype_policy(previous)
    mixed_model.set_weights(reference_model.get_weights())

    reference = _to_numpy_list(reference_model(inputs))
    mixed = _to_numpy_list(mixed_model(inputs))
    for r, m in zip(reference, mixed):
        m = m.astype("float32")
        assert np.all(np.isfinite(m)), "mixed precision output is not finite"
        if np.any(r != 0):
            assert np.any(m != 0), "mixed precision output is all zeros"
        err = float(np.max(np.abs(m - r)))
        bound = rtol * float(np.max(np.abs(r)))
        assert err <= bound, f"mixed precision error {err:.4g} > {bound:.4g} (rtol={rtol})"
    return reference, mixed


def assert_variables_saved_once(saved_model_dir, num_params):
    """The SavedModel's checkpoint holds `num_params` float32 values: each weight once.

    Keras' `ExportArchive.track(model)` beside the endpoints' own tracking saves every
    weight twice (the Keras variable wrappers and the tf.Variables), doubling the files.
    """
    import tensorflow as tf

    reader = tf.train.load_checkpoint(os.path.join(os.fspath(saved_model_dir), "variables", "variables"))
    shapes = reader.get_variable_to_shape_map()
    stored = sum(int(np.prod(shape)) for key, shape in shapes.items() if key != "_CHECKPOINTABLE_OBJECT_GRAPH")
    assert stored == num_params, f"checkpoint stores {stored} values for {num_params} parameters"


def psnr(a, b, peak=255.0):
    """Peak signal-to-noise ratio in dB between two images on a 0..`peak` scale."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(peak * peak / mse)
