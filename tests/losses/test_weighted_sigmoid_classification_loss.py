"""Tests of WeightedSigmoidClassificationLoss against a float64 NumPy reference."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssd.losses import WeightedSigmoidClassificationLoss
from tests.losses.test_class_weight_contract import _gradient


def reference_loss(y_true, logits, class_weights=None, background_weight=1.0):
    """Per-anchor weighted sigmoid CE in float64, from its definition."""
    y_true = np.asarray(y_true, np.int64)
    x = np.asarray(logits, np.float64)
    num_classes = x.shape[-1]
    z = (y_true[..., None] - 1 == np.arange(num_classes)).astype(np.float64)
    # -z log(sigmoid(x)) - (1 - z) log(1 - sigmoid(x)), written stably.
    ce = z * np.logaddexp(0.0, -x) + (1.0 - z) * np.logaddexp(0.0, x)
    weights_table = (
        np.ones(num_classes) if class_weights is None else np.asarray(class_weights, np.float64)
    )
    object_weight = weights_table[np.clip(y_true - 1, 0, num_classes - 1)]
    weight = np.where(y_true == 0, background_weight, np.where(y_true > 0, object_weight, 0.0))
    return ce.sum(-1) * weight


def random_case(seed, batch=3, num_anchors=40, num_classes=4, scale=3.0):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(-1, num_classes + 1, size=(batch, num_anchors))
    # Class 2 absent, image 0 without positives.
    y_true[y_true == 3] = 0
    y_true[0][y_true[0] > 0] = 0
    logits = (scale * rng.standard_normal((batch, num_anchors, num_classes))).astype("float32")
    sample_weight = rng.uniform(0.0, 2.0, size=(batch, num_anchors)).astype("float32")
    return y_true, logits, sample_weight


def test_hand_case():
    # Class-0 anchor, logits [ln 3, 0]: -ln(3/4) - ln(1/2) = ln(8/3).
    # Background anchor, logits [0, -ln 3]: -ln(1/2) - ln(3/4) = ln(8/3).
    loss = WeightedSigmoidClassificationLoss(class_weights=[2.0, 0.5], background_weight=0.5)
    y_true = np.array([[1, 0, -1, 2]])
    y_pred = np.array(
        [[[math.log(3), 0.0], [0.0, -math.log(3)], [5.0, 5.0], [0.0, 0.0]]], "float32"
    )
    per_anchor = np.asarray(loss.call(y_true, y_pred))
    expected = [2.0 * math.log(8 / 3), 0.5 * math.log(8 / 3), 0.0, 0.5 * 2 * math.log(2)]
    np.testing.assert_allclose(per_anchor, [expected], rtol=1e-6)
    np.testing.assert_allclose(float(loss(y_true, y_pred)), sum(expected), rtol=1e-6)
    assert not WeightedSigmoidClassificationLoss.uses_background_logit


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_against_reference(seed):
    for class_weights, background_weight in [
        (None, 1.0),
        ([0.5, 2.0, 1.0, 0.0], 0.25),
        ([1.0, 0.0, 3.0, 1.5], 0.0),
    ]:
        y_true, logits, sample_weight = random_case(seed)
        loss = WeightedSigmoidClassificationLoss(
            class_weights=class_weights, background_weight=background_weight
        )
        expected = reference_loss(y_true, logits, class_weights, background_weight)
        np.testing.assert_allclose(
            np.asarray(loss.call(y_true, logits)), expected, rtol=1e-5, atol=1e-6
        )
        np.testing.assert_allclose(
            float(loss(y_true, logits, sample_weight=sample_weight)),
            np.sum(expected * sample_weight),
            rtol=1e-5,
        )
        unreduced = WeightedSigmoidClassificationLoss(class_weights=class_weights, reduction="none")
        out = unreduced(y_true, logits, sample_weight=sample_weight)
        assert out.shape == (3, 40) and out.dtype == "float32"


def test_zero_positives_and_all_ignored():
    loss = WeightedSigmoidClassificationLoss()
    logits = np.array([[[1.0, -2.0], [3.0, 0.5]]], "float32")
    only_background = np.zeros((1, 2), "int32")
    np.testing.assert_allclose(
        np.asarray(loss.call(only_background, logits)),
        reference_loss(only_background, logits),
        rtol=1e-6,
    )
    all_ignored = -np.ones((1, 2), "int32")
    assert float(loss(all_ignored, logits)) == 0.0
    # Exactly 0 even for non-finite logits on ignored anchors.
    bad_logits = np.array([[[np.nan, np.inf], [-np.inf, 1.0]]], "float32")
    assert np.array_equal(np.asarray(loss.call(all_ignored, bad_logits)), [[0.0, 0.0]])


def test_float_targets_as_keras_passes_them():
    y_true, logits, _ = random_case(3)
    loss = WeightedSigmoidClassificationLoss(class_weights=[1.0, 2.0, 3.0, 4.0])
    as_int = np.asarray(loss.call(y_true, logits))
    as_float = np.asarray(loss.call(y_true.astype("float32"), logits))
    assert np.array_equal(as_int, as_float)


def test_stable_for_large_logits():
    rng = np.random.default_rng(6)
    y_true = rng.integers(-1, 4, size=(2, 30))
    logits = (100.0 * rng.choice([-1.0, 1.0], size=(2, 30, 3))).astype("float32")
    loss = WeightedSigmoidClassificationLoss(class_weights=[1.0, 2.0, 0.5])
    gradient = _gradient(loss, y_true, logits)
    assert np.all(np.isfinite(gradient))
    np.testing.assert_allclose(
        np.asarray(loss.call(y_true, logits)),
        reference_loss(y_true, logits, [1.0, 2.0, 0.5]),
        rtol=1e-6,
        atol=1e-6,
    )


def test_mixed_precision_float16_logits():
    # The only difference is the float16 rounding of the logits themselves:
    # against the reference on the rounded logits the match is to 1e-5; against
    # the float32 logits the summed loss matches to 1e-3 relative.
    y_true, logits, sample_weight = random_case(7)
    expected_sum = float(WeightedSigmoidClassificationLoss()(y_true, logits, sample_weight))
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    loss = WeightedSigmoidClassificationLoss(class_weights=[1.0, 2.0, 0.5, 1.0])
    half = tf.constant(logits, tf.float16)
    per_anchor = loss.call(y_true, half)
    assert per_anchor.dtype == tf.float32
    np.testing.assert_allclose(
        np.asarray(per_anchor),
        reference_loss(y_true, np.asarray(half, np.float32), [1.0, 2.0, 0.5, 1.0]),
        rtol=1e-5,
        atol=1e-6,
    )
    plain = WeightedSigmoidClassificationLoss()
    total = plain(y_true, half, sample_weight)
    assert total.dtype == tf.float32
    np.testing.assert_allclose(float(total), expected_sum, rtol=1e-3)


def test_jit_compile_matches_eager():
    y_true, logits, sample_weight = random_case(8)
    loss = WeightedSigmoidClassificationLoss(
        class_weights=[0.5, 2.0, 1.0, 3.0], background_weight=0.7
    )
    compiled = tf.function(lambda t, p, w: loss(t, p, sample_weight=w), jit_compile=True)
    np.testing.assert_allclose(
        float(compiled(y_true, logits, sample_weight)),
        float(loss(y_true, logits, sample_weight)),
        rtol=1e-5,
    )


def test_with_class_weights_returns_new_loss():
    loss = WeightedSigmoidClassificationLoss(background_weight=0.5, name="mine")
    other = loss.with_class_weights([1.0, 2.0])
    assert loss.class_weights is None
    assert other is not loss and other.class_weights == (1.0, 2.0)
    assert other.background_weight == 0.5 and other.name == "mine"
    assert other.with_class_weights(None).class_weights is None


BAD_ARGUMENTS = [
    ({"class_weights": "1,2"}, "sequence"),
    ({"class_weights": {0: 1.0}}, "sequence"),
    ({"class_weights": 2.0}, "sequence"),
    ({"class_weights": []}, "empty"),
    ({"class_weights": [1.0, -0.5]}, r"class_weights\[1\]` is negative"),
    ({"class_weights": [float("nan")]}, "NaN"),
    ({"class_weights": [1.0, float("inf")]}, "infinite"),
    ({"class_weights": ["a"]}, "real number"),
    ({"class_weights": np.ones((2, 2))}, "1-D"),
    ({"background_weight": -1.0}, "background_weight"),
    ({"background_weight": float("nan")}, "background_weight"),
]


def test_bad_arguments():
    for kwargs, match in BAD_ARGUMENTS:
        with pytest.raises(ValueError, match=match):
            WeightedSigmoidClassificationLoss(**kwargs)


def test_bad_shapes():
    loss = WeightedSigmoidClassificationLoss(class_weights=[1.0, 1.0])
    with pytest.raises(ValueError, match=r"len\(class_weights\) = 2"):
        loss(np.zeros((1, 2)), np.zeros((1, 2, 3), "float32"))
    with pytest.raises(ValueError, match="one integer class target per anchor"):
        loss(np.zeros((1, 2, 1)), np.zeros((1, 2, 2), "float32"))
    with pytest.raises(ValueError, match="does not match"):
        loss(np.zeros((1, 3)), np.zeros((1, 2, 2), "float32"))
