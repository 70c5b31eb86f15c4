"""Tests of SigmoidFocalClassificationLoss against a float64 NumPy reference."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssd.losses import SigmoidFocalClassificationLoss, WeightedSigmoidClassificationLoss
from tests.losses.test_class_weight_contract import _gradient


def reference_loss(
    y_true, logits, gamma=2.0, alpha=0.25, class_weights=None, background_weight=1.0
):
    """Per-anchor weighted focal loss in float64, from its definition."""
    y_true = np.asarray(y_true, np.int64)
    x = np.asarray(logits, np.float64)
    num_classes = x.shape[-1]
    z = (y_true[..., None] - 1 == np.arange(num_classes)).astype(np.float64)
    ce = z * np.logaddexp(0.0, -x) + (1.0 - z) * np.logaddexp(0.0, x)
    p = 1.0 / (1.0 + np.exp(-x))
    p_t = z * p + (1.0 - z) * (1.0 - p)
    focal = ce * (1.0 - p_t) ** gamma
    if alpha is not None:
        focal = focal * (z * alpha + (1.0 - z) * (1.0 - alpha))
    weights_table = (
        np.ones(num_classes) if class_weights is None else np.asarray(class_weights, np.float64)
    )
    object_weight = weights_table[np.clip(y_true - 1, 0, num_classes - 1)]
    weight = np.where(y_true == 0, background_weight, np.where(y_true > 0, object_weight, 0.0))
    return focal.sum(-1) * weight


def random_case(seed, batch=3, num_anchors=40, num_classes=4, scale=3.0):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(-1, num_classes + 1, size=(batch, num_anchors))
    y_true[y_true == 3] = 0  # class 2 absent
    y_true[0][y_true[0] > 0] = 0  # image 0 without positives
    logits = (scale * rng.standard_normal((batch, num_anchors, num_classes))).astype("float32")
    sample_weight = rng.uniform(0.0, 2.0, size=(batch, num_anchors)).astype("float32")
    return y_true, logits, sample_weight


def test_hand_case():
    # Positive column, logit ln 3: p = 3/4, CE = ln(4/3), (1 - p)^2 = 1/16, alpha 0.25.
    # Negative column, logit 0: p = 1/2, CE = ln 2, p^2 = 1/4, 1 - alpha = 0.75.
    loss = SigmoidFocalClassificationLoss(gamma=2.0, alpha=0.25, class_weights=[2.0, 1.0])
    y_true = np.array([[1, 0, -1]])
    y_pred = np.array([[[math.log(3), 0.0], [0.0, 0.0], [9.0, 9.0]]], "float32")
    positive = 2.0 * (math.log(4 / 3) / 16 * 0.25 + math.log(2) / 4 * 0.75)
    background = 2 * math.log(2) / 4 * 0.75
    np.testing.assert_allclose(
        np.asarray(loss.call(y_true, y_pred)), [[positive, background, 0.0]], rtol=1e-6
    )
    assert not SigmoidFocalClassificationLoss.uses_background_logit


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_against_reference(seed):
    for gamma, alpha, class_weights, background_weight in [
        (2.0, 0.25, None, 1.0),
        (1.5, None, [0.5, 2.0, 1.0, 0.0], 0.25),
        (0.5, 0.75, [1.0, 0.0, 3.0, 1.5], 0.0),
        (0.0, 0.5, None, 2.0),
    ]:
        y_true, logits, sample_weight = random_case(seed)
        loss = SigmoidFocalClassificationLoss(
            gamma=gamma,
            alpha=alpha,
            class_weights=class_weights,
            background_weight=background_weight,
        )
        expected = reference_loss(y_true, logits, gamma, alpha, class_weights, background_weight)
        np.testing.assert_allclose(
            np.asarray(loss.call(y_true, logits)), expected, rtol=1e-5, atol=1e-6
        )
        np.testing.assert_allclose(
            float(loss(y_true, logits, sample_weight=sample_weight)),
            np.sum(expected * sample_weight),
            rtol=1e-5,
        )


def test_gamma_zero_alpha_none_equals_weighted_sigmoid():
    y_true, logits, sample_weight = random_case(3)
    focal = SigmoidFocalClassificationLoss(
        gamma=0.0, alpha=None, class_weights=[0.5, 2.0, 1.0, 3.0]
    )
    sigmoid = WeightedSigmoidClassificationLoss(class_weights=[0.5, 2.0, 1.0, 3.0])
    assert np.array_equal(
        np.asarray(focal.call(y_true, logits)), np.asarray(sigmoid.call(y_true, logits))
    )
    assert float(focal(y_true, logits, sample_weight)) == float(
        sigmoid(y_true, logits, sample_weight)
    )


def test_alpha_none_and_alpha_half():
    # alpha = 0.5 weighs every column by 1/2: exactly half of alpha=None.
    y_true, logits, _ = random_case(4)
    no_alpha = np.asarray(SigmoidFocalClassificationLoss(alpha=None).call(y_true, logits))
    half = np.asarray(SigmoidFocalClassificationLoss(alpha=0.5).call(y_true, logits))
    np.testing.assert_allclose(half, 0.5 * no_alpha, rtol=1e-6)


def test_zero_positives_and_all_ignored():
    loss = SigmoidFocalClassificationLoss()
    logits = np.array([[[1.0, -2.0], [3.0, 0.5]]], "float32")
    only_background = np.zeros((1, 2), "int32")
    np.testing.assert_allclose(
        np.asarray(loss.call(only_background, logits)),
        reference_loss(only_background, logits),
        rtol=1e-6,
    )
    all_ignored = -np.ones((1, 2), "int32")
    assert float(loss(all_ignored, logits)) == 0.0


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_stable_for_large_logits(gamma):
    # gamma < 1 is the hard case: d/dp (1 - p)^gamma is infinite at p = 1.
    rng = np.random.default_rng(7)
    y_true = rng.integers(-1, 4, size=(2, 30))
    logits = (100.0 * rng.choice([-1.0, 1.0], size=(2, 30, 3))).astype("float32")
    loss = SigmoidFocalClassificationLoss(gamma=gamma, class_weights=[1.0, 2.0, 0.5])
    assert np.all(np.isfinite(_gradient(loss, y_true, logits)))
    values = np.asarray(loss.call(y_true, logits))
    assert np.all(np.isfinite(values))
    np.testing.assert_allclose(
        values, reference_loss(y_true, logits, gamma, 0.25, [1.0, 2.0, 0.5]), rtol=1e-5, atol=1e-6
    )


def test_mixed_precision_float16_logits():
    # Only the float16 rounding of the logits differs: 1e-5 against the
    # reference on the rounded logits, 1e-3 relative on the summed loss.
    y_true, logits, sample_weight = random_case(8)
    expected_sum = float(SigmoidFocalClassificationLoss()(y_true, logits, sample_weight))
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    half = tf.constant(logits, tf.float16)
    loss = SigmoidFocalClassificationLoss()
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
    y_true, logits, sample_weight = random_case(9)
    loss = SigmoidFocalClassificationLoss(gamma=1.5, alpha=0.3, class_weights=[0.5, 2.0, 1.0, 3.0])
    compiled = tf.function(lambda t, p, w: loss(t, p, sample_weight=w), jit_compile=True)
    np.testing.assert_allclose(
        float(compiled(y_true, logits, sample_weight)),
        float(loss(y_true, logits, sample_weight)),
        rtol=1e-5,
    )


def test_with_class_weights_returns_new_loss():
    loss = SigmoidFocalClassificationLoss(gamma=1.0, alpha=None)
    other = loss.with_class_weights(np.array([1.0, 2.0]))
    assert loss.class_weights is None
    assert other.class_weights == (1.0, 2.0) and other.gamma == 1.0 and other.alpha is None


BAD_ARGUMENTS = [
    ({"gamma": -0.1}, "gamma"),
    ({"gamma": float("nan")}, "gamma"),
    ({"alpha": 1.5}, r"alpha` must be in \[0, 1\]"),
    ({"alpha": -0.1}, "alpha"),
    ({"alpha": "0.25"}, "alpha"),
    ({"class_weights": [1.0, -0.5]}, "negative"),
    ({"class_weights": [float("nan")]}, "NaN"),
    ({"class_weights": [float("inf")]}, "infinite"),
]


def test_bad_arguments():
    for kwargs, match in BAD_ARGUMENTS:
        with pytest.raises(ValueError, match=match):
            SigmoidFocalClassificationLoss(**kwargs)


def test_bad_shapes():
    loss = SigmoidFocalClassificationLoss(class_weights=[1.0, 1.0])
    with pytest.raises(ValueError, match=r"len\(class_weights\) = 2"):
        loss(np.zeros((1, 2)), np.zeros((1, 2, 3), "float32"))
