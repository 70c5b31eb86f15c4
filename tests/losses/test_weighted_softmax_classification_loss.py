"""Tests of WeightedSoftmaxClassificationLoss against a float64 NumPy reference."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssd.losses import WeightedSoftmaxClassificationLoss
from tests.losses.test_class_weight_contract import _gradient


def reference_loss(y_true, logits, class_weights=None, background_weight=1.0, logit_scale=1.0):
    """Per-anchor weighted softmax CE in float64, from its definition."""
    y_true = np.asarray(y_true, np.int64)
    x = np.asarray(logits, np.float64) / logit_scale
    num_classes = x.shape[-1] - 1
    log_softmax = x - np.logaddexp.reduce(x, axis=-1, keepdims=True)
    ce = -np.take_along_axis(log_softmax, np.clip(y_true, 0, None)[..., None], axis=-1)[..., 0]
    weights_table = (
        np.ones(num_classes) if class_weights is None else np.asarray(class_weights, np.float64)
    )
    object_weight = weights_table[np.clip(y_true - 1, 0, num_classes - 1)]
    weight = np.where(y_true == 0, background_weight, np.where(y_true > 0, object_weight, 0.0))
    return ce * weight


def random_case(seed, batch=3, num_anchors=40, num_classes=4, scale=3.0):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(-1, num_classes + 1, size=(batch, num_anchors))
    y_true[y_true == 3] = 0  # class 2 absent
    y_true[0][y_true[0] > 0] = 0  # image 0 without positives
    logits = (scale * rng.standard_normal((batch, num_anchors, num_classes + 1))).astype("float32")
    sample_weight = rng.uniform(0.0, 2.0, size=(batch, num_anchors)).astype("float32")
    return y_true, logits, sample_weight


def test_hand_case():
    # Logits [0, ln 3]: softmax [1/4, 3/4].
    loss = WeightedSoftmaxClassificationLoss(class_weights=[2.0], background_weight=0.5)
    y_true = np.array([[1, 0, -1]])
    y_pred = np.array([[[0.0, math.log(3)], [0.0, math.log(3)], [0.0, 7.0]]], "float32")
    expected = [2.0 * math.log(4 / 3), 0.5 * math.log(4), 0.0]
    np.testing.assert_allclose(np.asarray(loss.call(y_true, y_pred)), [expected], rtol=1e-6)
    np.testing.assert_allclose(float(loss(y_true, y_pred)), sum(expected), rtol=1e-6)
    # logit_scale 2 halves the logits: [0, ln 3 / 2] -> softmax [1/(1+sqrt 3), sqrt 3/(1+sqrt 3)].
    scaled = WeightedSoftmaxClassificationLoss(logit_scale=2.0)
    np.testing.assert_allclose(
        float(scaled.call(y_true[:, :1], y_pred[:, :1])[0, 0]),
        math.log((1 + math.sqrt(3)) / math.sqrt(3)),
        rtol=1e-6,
    )
    assert WeightedSoftmaxClassificationLoss.uses_background_logit


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_against_reference(seed):
    for class_weights, background_weight, logit_scale in [
        (None, 1.0, 1.0),
        ([0.5, 2.0, 1.0, 0.0], 0.25, 1.0),
        ([1.0, 0.0, 3.0, 1.5], 0.0, 0.5),
    ]:
        y_true, logits, sample_weight = random_case(seed)
        loss = WeightedSoftmaxClassificationLoss(
            logit_scale=logit_scale,
            class_weights=class_weights,
            background_weight=background_weight,
        )
        expected = reference_loss(y_true, logits, class_weights, background_weight, logit_scale)
        np.testing.assert_allclose(
            np.asarray(loss.call(y_true, logits)), expected, rtol=1e-5, atol=1e-6
        )
        np.testing.assert_allclose(
            float(loss(y_true, logits, sample_weight=sample_weight)),
            np.sum(expected * sample_weight),
            rtol=1e-5,
        )
        out = WeightedSoftmaxClassificationLoss(reduction="none")(
            y_true, logits, sample_weight=sample_weight
        )
        assert out.shape == (3, 40) and out.dtype == "float32"


def test_zero_positives_and_all_ignored():
    loss = WeightedSoftmaxClassificationLoss()
    logits = np.array([[[1.0, -2.0], [3.0, 0.5]]], "float32")
    only_background = np.zeros((1, 2), "int32")
    np.testing.assert_allclose(
        np.asarray(loss.call(only_background, logits)),
        reference_loss(only_background, logits),
        rtol=1e-6,
    )
    all_ignored = -np.ones((1, 2), "int32")
    assert float(loss(all_ignored, logits)) == 0.0
    bad_logits = np.array([[[np.nan, np.inf], [-np.inf, 1.0]]], "float32")
    assert np.array_equal(np.asarray(loss.call(all_ignored, bad_logits)), [[0.0, 0.0]])


def test_stable_for_large_logits():
    rng = np.random.default_rng(6)
    y_true = rng.integers(-1, 4, size=(2, 30))
    logits = (100.0 * rng.choice([-1.0, 1.0], size=(2, 30, 4))).astype("float32")
    loss = WeightedSoftmaxClassificationLoss(class_weights=[1.0, 2.0, 0.5], logit_scale=0.5)
    assert np.all(np.isfinite(_gradient(loss, y_true, logits)))
    np.testing.assert_allclose(
        np.asarray(loss.call(y_true, logits)),
        reference_loss(y_true, logits, [1.0, 2.0, 0.5], logit_scale=0.5),
        rtol=1e-6,
        atol=1e-6,
    )


def test_mixed_precision_float16_logits():
    # Only the float16 rounding of the logits differs: 1e-5 against the
    # reference on the rounded logits, 1e-3 relative on the summed loss.
    y_true, logits, sample_weight = random_case(7)
    expected_sum = float(WeightedSoftmaxClassificationLoss()(y_true, logits, sample_weight))
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    loss = WeightedSoftmaxClassificationLoss(class_weights=[1.0, 2.0, 0.5, 1.0])
    half = tf.constant(logits, tf.float16)
    per_anchor = loss.call(y_true, half)
    assert per_anchor.dtype == tf.float32
    np.testing.assert_allclose(
        np.asarray(per_anchor),
        reference_loss(y_true, np.asarray(half, np.float32), [1.0, 2.0, 0.5, 1.0]),
        rtol=1e-5,
        atol=1e-6,
    )
    total = WeightedSoftmaxClassificationLoss()(y_true, half, sample_weight)
    assert total.dtype == tf.float32
    np.testing.assert_allclose(float(total), expected_sum, rtol=1e-3)


def test_jit_compile_matches_eager():
    y_true, logits, sample_weight = random_case(8)
    loss = WeightedSoftmaxClassificationLoss(
        logit_scale=1.5, class_weights=[0.5, 2.0, 1.0, 3.0], background_weight=0.7
    )
    compiled = tf.function(lambda t, p, w: loss(t, p, sample_weight=w), jit_compile=True)
    np.testing.assert_allclose(
        float(compiled(y_true, logits, sample_weight)),
        float(loss(y_true, logits, sample_weight)),
        rtol=1e-5,
    )


def test_with_class_weights_returns_new_loss():
    loss = WeightedSoftmaxClassificationLoss(logit_scale=3.0)
    other = loss.with_class_weights([1.0, 2.0])
    assert loss.class_weights is None
    assert other.class_weights == (1.0, 2.0) and other.logit_scale == 3.0


BAD_ARGUMENTS = [
    ({"logit_scale": 0.0}, "logit_scale"),
    ({"logit_scale": -1.0}, "logit_scale"),
    ({"logit_scale": float("inf")}, "logit_scale"),
    ({"logit_scale": "2"}, "logit_scale"),
    ({"class_weights": [1.0, -0.5]}, "negative"),
    ({"class_weights": [float("nan")]}, "NaN"),
    ({"class_weights": [float("inf")]}, "infinite"),
    ({"class_weights": "abc"}, "sequence"),
    ({"background_weight": -1.0}, "background_weight"),
]


def test_bad_arguments():
    for kwargs, match in BAD_ARGUMENTS:
        with pytest.raises(ValueError, match=match):
            WeightedSoftmaxClassificationLoss(**kwargs)


def test_bad_shapes():
    loss = WeightedSoftmaxClassificationLoss(class_weights=[1.0, 1.0])
    # Two classes need 3 logits (column 0 = background).
    with pytest.raises(ValueError, match=r"len\(class_weights\) = 2 implies 3"):
        loss(np.zeros((1, 2)), np.zeros((1, 2, 2), "float32"))
    with pytest.raises(ValueError, match="at least 2 logits"):
        WeightedSoftmaxClassificationLoss()(np.zeros((1, 2)), np.zeros((1, 2, 1), "float32"))
