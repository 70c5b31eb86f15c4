"""Tests of SmoothL1LocalizationLoss against a float64 NumPy reference."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssd.losses import SmoothL1LocalizationLoss


def reference_loss(y_true, y_pred, delta=1.0):
    """Per-anchor Huber loss summed over the 4 coordinates, in float64."""
    x = np.asarray(y_pred, np.float64) - np.asarray(y_true, np.float64)
    absolute = np.abs(x)
    per_coordinate = np.where(absolute < delta, 0.5 * x**2, delta * (absolute - 0.5 * delta))
    return per_coordinate.sum(-1)


def random_case(seed, batch=3, num_anchors=25):
    rng = np.random.default_rng(seed)
    y_true = rng.standard_normal((batch, num_anchors, 4)).astype("float32")
    y_pred = (y_true + 2.0 * rng.standard_normal((batch, num_anchors, 4))).astype("float32")
    # Per-box weight for positives, 0 for every other anchor (as the model passes).
    sample_weight = np.where(
        rng.random((batch, num_anchors)) < 0.3, rng.uniform(0.5, 2.0, (batch, num_anchors)), 0.0
    ).astype("float32")
    return y_true, y_pred, sample_weight


def test_hand_case():
    # delta 1: 0.5 * 0.25 + (2 - 0.5) + 0 + (1 - 0.5) = 2.125 (|x| = 1 is linear: 0.5 either way).
    # delta 0.5: 0.5 * (0.5 - 0.25) + 0.5 * (2 - 0.25) + 0 + 0.5 * (1 - 0.25) = 1.375.
    y_true = np.array([[[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]]], "float32")
    y_pred = np.array([[[1.5, -1.0, 1.0, 2.0], [0.1, 0.0, 0.0, -0.2]]], "float32")
    np.testing.assert_allclose(
        np.asarray(SmoothL1LocalizationLoss().call(y_true, y_pred)), [[2.125, 0.025]], rtol=1e-6
    )
    np.testing.assert_allclose(
        np.asarray(SmoothL1LocalizationLoss(delta=0.5).call(y_true, y_pred)),
        [[1.375, 0.025]],
        rtol=1e-6,
    )
    weighted = SmoothL1LocalizationLoss()(y_true, y_pred, sample_weight=np.array([[2.0, 0.0]]))
    np.testing.assert_allclose(float(weighted), 4.25, rtol=1e-6)
    assert SmoothL1LocalizationLoss.compares_decoded_boxes is False


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_against_reference(seed):
    y_true, y_pred, sample_weight = random_case(seed)
    for delta in [1.0, 0.5, 2.5]:
        loss = SmoothL1LocalizationLoss(delta=delta)
        expected = reference_loss(y_true, y_pred, delta)
        np.testing.assert_allclose(
            np.asarray(loss.call(y_true, y_pred)), expected, rtol=1e-5, atol=1e-6
        )
        np.testing.assert_allclose(
            float(loss(y_true, y_pred, sample_weight)), np.sum(expected * sample_weight), rtol=1e-5
        )
        out = SmoothL1LocalizationLoss(delta=delta, reduction="none")(y_true, y_pred, sample_weight)
        assert out.shape == (3, 25) and out.dtype == "float32"
        np.testing.assert_array_equal(np.asarray(out)[sample_weight == 0], 0.0)


def test_gradient_is_clipped_error_and_finite_for_large_errors():
    y_true, y_pred, _ = random_case(3)
    y_pred[0, 0] = [1e6, -1e6, 1e30, 0.0]
    variable = tf.constant(y_pred)
    with tf.GradientTape() as tape:
        tape.watch(variable)
        value = SmoothL1LocalizationLoss(delta=0.5)(y_true, variable)
    gradient = np.asarray(tape.gradient(value, variable))
    assert np.isfinite(float(value))
    np.testing.assert_allclose(gradient, np.clip(y_pred - y_true, -0.5, 0.5), rtol=1e-6, atol=1e-7)


def test_mixed_precision_float16_predictions():
    # Only the float16 rounding of the predictions differs: 1e-5 against the
    # reference on the rounded values, 1e-3 relative on the summed loss.
    y_true, y_pred, sample_weight = random_case(4)
    expected_sum = float(SmoothL1LocalizationLoss()(y_true, y_pred, sample_weight))
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    half = tf.constant(y_pred, tf.float16)
    loss = SmoothL1LocalizationLoss()
    per_anchor = loss.call(y_true, half)
    assert per_anchor.dtype == tf.float32
    np.testing.assert_allclose(
        np.asarray(per_anchor),
        reference_loss(y_true, np.asarray(half, np.float32)),
        rtol=1e-5,
        atol=1e-6,
    )
    total = loss(y_true, half, sample_weight)
    assert total.dtype == tf.float32
    np.testing.assert_allclose(float(total), expected_sum, rtol=1e-3)


def test_jit_compile_matches_eager():
    y_true, y_pred, sample_weight = random_case(5)
    loss = SmoothL1LocalizationLoss(delta=0.7)
    compiled = tf.function(lambda t, p, w: loss(t, p, sample_weight=w), jit_compile=True)
    np.testing.assert_allclose(
        float(compiled(y_true, y_pred, sample_weight)),
        float(loss(y_true, y_pred, sample_weight)),
        rtol=1e-5,
    )


def test_bad_inputs():
    for delta in [0.0, -1.0, float("inf"), float("nan"), "1"]:
        with pytest.raises(ValueError, match="delta"):
            SmoothL1LocalizationLoss(delta=delta)
    loss = SmoothL1LocalizationLoss()
    with pytest.raises(ValueError, match="must be equal"):
        loss(np.zeros((1, 3, 4), "float32"), np.zeros((1, 2, 4), "float32"))
    with pytest.raises(ValueError, match="4 coordinates"):
        loss(np.zeros((1, 3, 5), "float32"), np.zeros((1, 3, 5), "float32"))
