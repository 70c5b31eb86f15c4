"""Tests of IoULocalizationLoss against hand-computed values and a NumPy reference."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssd.losses import IoULocalizationLoss


def reference_loss(y_true, y_pred, mode="giou"):
    """Elementwise 1 - IoU / 1 - GIoU in float64 for valid (non-degenerate) boxes."""
    t = np.asarray(y_true, np.float64)
    p = np.asarray(y_pred, np.float64)
    area_t = (t[..., 2] - t[..., 0]) * (t[..., 3] - t[..., 1])
    area_p = (p[..., 2] - p[..., 0]) * (p[..., 3] - p[..., 1])
    height = np.clip(np.minimum(t[..., 2], p[..., 2]) - np.maximum(t[..., 0], p[..., 0]), 0, None)
    width = np.clip(np.minimum(t[..., 3], p[..., 3]) - np.maximum(t[..., 1], p[..., 1]), 0, None)
    intersection = height * width
    union = area_t + area_p - intersection
    iou = intersection / union
    if mode == "iou":
        return 1.0 - iou
    enclosing = (np.maximum(t[..., 2], p[..., 2]) - np.minimum(t[..., 0], p[..., 0])) * (
        np.maximum(t[..., 3], p[..., 3]) - np.minimum(t[..., 1], p[..., 1])
    )
    return 1.0 - iou + (enclosing - union) / enclosing


def random_boxes(rng, shape):
    centre = rng.uniform(0.1, 0.9, shape + (2,))
    size = rng.uniform(0.02, 0.6, shape + (2,))
    return np.concatenate([centre - size / 2, centre + size / 2], axis=-1).astype("float32")


def random_case(seed, batch=3, num_anchors=25):
    rng = np.random.default_rng(seed)
    y_true = random_boxes(rng, (batch, num_anchors))
    # Half near the target (overlapping), half anywhere (often disjoint).
    near = y_true + rng.normal(0.0, 0.05, y_true.shape).astype("float32")
    near = np.concatenate([np.minimum(near[..., :2], near[..., 2:] - 0.01), near[..., 2:]], -1)
    anywhere = random_boxes(rng, (batch, num_anchors))
    y_pred = np.where(rng.random((batch, num_anchors, 1)) < 0.5, near, anywhere).astype("float32")
    sample_weight = np.where(
        rng.random((batch, num_anchors)) < 0.3, rng.uniform(0.5, 2.0, (batch, num_anchors)), 0.0
    ).astype("float32")
    return y_true, y_pred, sample_weight


def _value_and_gradient(loss, y_true, y_pred, sample_weight=None):
    y_pred = tf.convert_to_tensor(y_pred)
    with tf.GradientTape() as tape:
        tape.watch(y_pred)
        value = loss(y_true, y_pred, sample_weight=sample_weight)
    return value, tape.gradient(value, y_pred)


def test_hand_cases():
    y_true = np.array(
        [[[0.0, 0.0, 0.2, 0.2], [0.0, 0.0, 0.1, 0.1], [0.0, 0.0, 0.4, 0.4], [0.1, 0.2, 0.5, 0.6]]],
        "float32",
    )
    y_pred = np.array(
        [[[0.1, 0.1, 0.3, 0.3], [0.2, 0.2, 0.3, 0.3], [0.1, 0.1, 0.3, 0.3], [0.1, 0.2, 0.5, 0.6]]],
        "float32",
    )
    # Overlap: I = 0.01, U = 0.07, C = 0.09. Disjoint: I = 0, U = 0.02, C = 0.09.
    # Inside: I = 0.04, U = C = 0.16. Identical: 0.
    iou = [1 - 1 / 7, 1.0, 1 - 0.25, 0.0]
    giou = [1 - 1 / 7 + 2 / 9, 1 + 7 / 9, 1 - 0.25, 0.0]
    np.testing.assert_allclose(
        np.asarray(IoULocalizationLoss(mode="iou").call(y_true, y_pred)),
        [iou],
        rtol=1e-5,
        atol=1e-6,
    )
    np.testing.assert_allclose(
        np.asarray(IoULocalizationLoss().call(y_true, y_pred)), [giou], rtol=1e-5, atol=1e-6
    )
    weighted = IoULocalizationLoss()(y_true, y_pred, sample_weight=np.array([[2.0, 0.0, 1.0, 5.0]]))
    np.testing.assert_allclose(float(weighted), 2 * giou[0] + giou[2], rtol=1e-5)
    assert IoULocalizationLoss.compares_decoded_boxes is True
    assert IoULocalizationLoss().mode == "giou"


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("mode", ["giou", "iou"])
def test_random_against_reference(seed, mode):
    y_true, y_pred, sample_weight = random_case(seed)
    loss = IoULocalizationLoss(mode=mode)
    expected = reference_loss(y_true, y_pred, mode)
    np.testing.assert_allclose(
        np.asarray(loss.call(y_true, y_pred)), expected, rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        float(loss(y_true, y_pred, sample_weight)), np.sum(expected * sample_weight), rtol=1e-5
    )
    none = IoULocalizationLoss(mode=mode, reduction="none")(y_true, y_pred, sample_weight)
    assert none.shape == (3, 25) and none.dtype == "float32"


@pytest.mark.parametrize("mode", ["giou", "iou"])
def test_gradient_matches_finite_differences(mode):
    y_true, y_pred, _ = random_case(3, batch=1, num_anchors=6)
    _, gradient = _value_and_gradient(IoULocalizationLoss(mode=mode), y_true, y_pred)
    numeric = np.zeros(y_pred.shape)
    step = 1e-6
    for index in np.ndindex(y_pred.shape):
        up, down = y_pred.astype(np.float64), y_pred.astype(np.float64)
        up[index] += step
        down[index] -= step
        numeric[index] = (
            reference_loss(y_true, up, mode).sum() - reference_loss(y_true, down, mode).sum()
        ) / (2 * step)
    np.testing.assert_allclose(np.asarray(gradient), numeric, rtol=2e-3, atol=2e-4)


@pytest.mark.parametrize("mode", ["giou", "iou"])
def test_degenerate_boxes_give_finite_losses_and_gradients(mode):
    target = [0.2, 0.2, 0.6, 0.6]
    cases = [
        (target, [0.3, 0.3, 0.3, 0.3]),  # predicted point inside the target
        (target, [0.3, 0.3, 0.3, 0.5]),  # predicted line
        ([0.4, 0.4, 0.4, 0.4], [0.4, 0.4, 0.4, 0.4]),  # identical points
        ([0.4, 0.4, 0.4, 0.4], target),  # degenerate target (a background row)
        (target, [0.6, 0.6, 0.2, 0.2]),  # inverted prediction
        (target, [0.0, 0.0, 1e30, 1e30]),  # overflowing decoded prediction
        (target, [0.0, 0.0, np.inf, np.inf]),
        (target, [-np.inf, -np.inf, 0.5, 0.5]),
        (target, [0.2, 0.2, 0.6, 0.6]),  # perfect
    ]
    y_true = np.array([[t for t, _ in cases]], "float32")
    y_pred = np.array([[p for _, p in cases]], "float32")
    loss = IoULocalizationLoss(mode=mode)
    per_anchor = np.asarray(loss.call(y_true, y_pred))
    assert np.all(np.isfinite(per_anchor))
    upper = 1.0 if mode == "iou" else 2.0
    assert np.all((per_anchor >= -1e-6) & (per_anchor <= upper + 1e-6))
    # Two identical points: I = U = C = 0, so IoU = GIoU = 0 by the eps guards.
    assert per_anchor[0, 2] == 1.0
    assert per_anchor[0, -1] == pytest.approx(0.0, abs=1e-6)
    # Weighted by 0 (as the model weighs non-positives), nothing leaks as NaN.
    for weights in [np.ones((1, len(cases))), np.zeros((1, len(cases)))]:
        value, gradient = _value_and_gradient(loss, y_true, y_pred, weights.astype("float32"))
        assert np.isfinite(float(value)) and np.all(np.isfinite(np.asarray(gradient)))


def test_mixed_precision_float16_boxes():
    y_true, y_pred, sample_weight = random_case(4)
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    half = tf.constant(y_pred, tf.float16)
    loss = IoULocalizationLoss()
    per_anchor = loss.call(y_true, half)
    assert per_anchor.dtype == tf.float32
    # Only the float16 rounding of the boxes differs from the reference.
    np.testing.assert_allclose(
        np.asarray(per_anchor),
        reference_loss(y_true, np.asarray(half, np.float32)),
        rtol=1e-5,
        atol=1e-6,
    )
    assert loss(y_true, half, sample_weight).dtype == tf.float32


@pytest.mark.parametrize("mode", ["giou", "iou"])
def test_jit_compile_matches_eager(mode):
    y_true, y_pred, sample_weight = random_case(5)
    loss = IoULocalizationLoss(mode=mode)
    value, gradient = _value_and_gradient(loss, y_true, y_pred, sample_weight)
    compiled = tf.function(
        lambda t, p, w: _value_and_gradient(loss, t, p, w), jit_compile=True
    )
    compiled_value, compiled_gradient = compiled(y_true, y_pred, sample_weight)
    np.testing.assert_allclose(float(compiled_value), float(value), rtol=1e-5)
    np.testing.assert_allclose(compiled_gradient, gradient, rtol=1e-5, atol=1e-6)


def test_bad_inputs():
    for mode in ["ciou", "GIoU", None, 1]:
        with pytest.raises(ValueError, match="mode"):
            IoULocalizationLoss(mode=mode)
    loss = IoULocalizationLoss()
    with pytest.raises(ValueError, match="must be equal"):
        loss(np.zeros((1, 3, 4), "float32"), np.zeros((1, 2, 4), "float32"))
    with pytest.raises(ValueError, match="ymin, xmin, ymax, xmax"):
        loss(np.zeros((1, 3, 5), "float32"), np.zeros((1, 3, 5), "float32"))
