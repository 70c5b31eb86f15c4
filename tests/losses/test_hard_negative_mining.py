"""Tests of HardNegativeMining against a NumPy reference of the SSD rule."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssd.losses import (
    HardNegativeMining,
    SigmoidFocalClassificationLoss,
    WeightedSigmoidClassificationLoss,
    WeightedSoftmaxClassificationLoss,
)
from tests.losses.mining_cases import random_case
from tests.losses.mining_cases import softplus


def reference_mining(y_true, losses, negative_ratio, min_negatives):
    """Per image: all positives + the k largest-loss negatives (stable by index)."""
    y_true = np.asarray(y_true, np.int64)
    losses = np.asarray(losses)
    kept = np.zeros_like(losses)
    for image in range(y_true.shape[0]):
        positive = y_true[image] > 0
        negative_index = np.flatnonzero(y_true[image] == 0)
        # floor(ratio * P) in float32, as documented.
        from_ratio = int(np.floor(np.float32(negative_ratio) * np.float32(positive.sum())))
        k = min(negative_index.size, max(from_ratio, min_negatives))
        hardest = negative_index[np.argsort(-losses[image, negative_index], kind="stable")[:k]]
        keep = positive.copy()
        keep[hardest] = True
        kept[image] = np.where(keep, losses[image], 0.0)
    return kept


def reference_softmax(y_true, logits):
    """Unweighted per-anchor softmax CE in float64 (0 for ignored)."""
    y_true = np.asarray(y_true, np.int64)
    x = np.asarray(logits, np.float64)
    log_softmax = x - np.logaddexp.reduce(x, axis=-1, keepdims=True)
    ce = -np.take_along_axis(log_softmax, np.clip(y_true, 0, None)[..., None], axis=-1)[..., 0]
    return np.where(y_true >= 0, ce, 0.0)


def test_hand_case_one_positive_five_negatives():
    # Negative anchors with logits [0, v] have softmax CE softplus(v); ratio 3
    # with 1 positive keeps the 3 largest: v = 3, 2, 1. The ignored anchor with
    # a huge loss is never mined.
    mining = HardNegativeMining(WeightedSoftmaxClassificationLoss(), negative_ratio=3.0)
    y_true = np.array([[1, 0, 0, 0, 0, 0, -1]])
    values = [-1.0, 3.0, 0.0, 2.0, 1.0]
    y_pred = np.array([[[0.0, 0.0]] + [[0.0, v] for v in values] + [[0.0, 50.0]]], "float32")
    expected = [math.log(2), 0.0, softplus(3.0), 0.0, softplus(2.0), softplus(1.0), 0.0]
    np.testing.assert_allclose(np.asarray(mining.call(y_true, y_pred)), [expected], rtol=1e-6)
    np.testing.assert_allclose(float(mining(y_true, y_pred)), sum(expected), rtol=1e-6)


def test_fewer_negatives_than_requested_keeps_all():
    mining = HardNegativeMining(WeightedSoftmaxClassificationLoss(), negative_ratio=3.0)
    y_true = np.array([[1, 2, 0, 0, -1]])
    y_pred = np.array(
        [[[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 0.0]]],
        "float32",
    )
    inner = np.asarray(WeightedSoftmaxClassificationLoss().call(y_true, y_pred))
    np.testing.assert_array_equal(np.asarray(mining.call(y_true, y_pred)), inner)
    assert inner[0, 4] == 0.0


def test_zero_positives_and_min_negatives():
    y_true = np.zeros((1, 5), "int32")
    y_pred = np.array([[[0.0, v] for v in [1.0, 4.0, 2.0, 3.0, 0.0]]], "float32")
    without = HardNegativeMining(WeightedSoftmaxClassificationLoss(), negative_ratio=3.0)
    assert float(without(y_true, y_pred)) == 0.0
    with_min = HardNegativeMining(
        WeightedSoftmaxClassificationLoss(), negative_ratio=3.0, min_negatives=2
    )
    np.testing.assert_allclose(
        np.asarray(with_min.call(y_true, y_pred)),
        [[0.0, softplus(4.0), 0.0, softplus(3.0), 0.0]],
        rtol=1e-6,
    )
    # min_negatives larger than the negatives available: all of them.
    many = HardNegativeMining(WeightedSoftmaxClassificationLoss(), min_negatives=100)
    np.testing.assert_array_equal(
        np.asarray(many.call(y_true, y_pred)),
        np.asarray(WeightedSoftmaxClassificationLoss().call(y_true, y_pred)),
    )
    all_ignored = -np.ones((1, 5), "int32")
    assert float(with_min(all_ignored, y_pred)) == 0.0


def test_ties_are_broken_by_anchor_index_also_under_jit():
    mining = HardNegativeMining(WeightedSoftmaxClassificationLoss(), negative_ratio=1.0)
    y_true = np.array([[0, 1, 0, 0, 2, 0, 0], [0, 0, 0, 0, 0, 0, 1]])
    y_pred = np.zeros((2, 7, 3), "float32")
    eager = np.asarray(mining.call(y_true, y_pred)) > 0
    expected = [
        [True, True, True, False, True, False, False],
        [True, False, False, False, False, False, True],
    ]
    np.testing.assert_array_equal(eager, expected)
    compiled = tf.function(mining.call, jit_compile=True)
    np.testing.assert_array_equal(np.asarray(compiled(y_true, y_pred)) > 0, expected)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_against_reference(seed):
    y_true, logits, sample_weight = random_case(seed)
    for negative_ratio, min_negatives in [(3.0, 0), (1.5, 0), (0.5, 4), (0.0, 0)]:
        mining = HardNegativeMining(
            WeightedSoftmaxClassificationLoss(),
            negative_ratio=negative_ratio,
            min_negatives=min_negatives,
        )
        # The reference ranks the float32 inner loss the layer ranks, and its
        # values come from the float64 definition.
        inner = np.asarray(mining.loss.call(y_true, logits))
        np.testing.assert_allclose(inner, reference_softmax(y_true, logits), rtol=1e-5, atol=1e-6)
        expected_mask = reference_mining(y_true, inner, negative_ratio, min_negatives) > 0
        expected = np.where(expected_mask, reference_softmax(y_true, logits), 0.0)
        mined = np.asarray(mining.call(y_true, logits))
        np.testing.assert_array_equal(mined > 0, expected_mask)
        np.testing.assert_allclose(mined, expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(
            float(mining(y_true, logits, sample_weight)),
            np.sum(expected * sample_weight),
            rtol=1e-5,
        )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sigmoid_and_focal_inner_losses(seed):
    y_true, logits, _ = random_case(seed)
    sigmoid_logits = logits[..., 1:]
    for inner_loss in [
        WeightedSigmoidClassificationLoss(class_weights=[1.0, 2.0, 0.5]),
        SigmoidFocalClassificationLoss(background_weight=0.5),
    ]:
        mining = HardNegativeMining(inner_loss, negative_ratio=2.0, min_negatives=1)
        inner = np.asarray(inner_loss.call(y_true, sigmoid_logits))
        np.testing.assert_array_equal(
            np.asarray(mining.call(y_true, sigmoid_logits)), reference_mining(y_true, inner, 2.0, 1)
        )


def test_gradient_flows_only_through_kept_anchors():
    y_true, logits, _ = random_case(3)
    mining = HardNegativeMining(WeightedSoftmaxClassificationLoss(), negative_ratio=1.0)
    kept = np.asarray(mining.call(y_true, logits)) > 0
    variable = tf.constant(logits)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(variable)
        mined = mining(y_true, variable)
        inner = mining.loss(y_true, variable)
    mined_gradient = np.asarray(tape.gradient(mined, variable))
    inner_gradient = np.asarray(tape.gradient(inner, variable))
    assert np.all(mined_gradient[~kept] == 0.0)
    np.testing.assert_array_equal(mined_gradient[kept], inner_gradient[kept])


def test_forwards_class_weights_and_background_logit():
    inner = WeightedSoftmaxClassificationLoss(logit_scale=2.0)
    mining = HardNegativeMining(inner, negative_ratio=2.0, min_negatives=3, name="mined")
    assert mining.uses_background_logit and mining.class_weights is None
    assert not HardNegativeMining(WeightedSigmoidClassificationLoss()).uses_background_logit
    weighted = mining.with_class_weights([1.0, 4.0, 0.5])
    assert isinstance(weighted, HardNegativeMining) and weighted is not mining
    assert weighted.class_weights == (1.0, 4.0, 0.5)
    assert weighted.loss is not inner and weighted.loss.logit_scale == 2.0
    assert (weighted.negative_ratio, weighted.min_negatives, weighted.name) == (2.0, 3, "mined")
    assert mining.class_weights is None and inner.class_weights is None


def test_mixed_precision_and_jit():
    # float16 logits: the inner loss is float32, so mining matches the
    # reference on the float16-rounded logits to 1e-5.
    y_true, logits, sample_weight = random_case(4)
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    mining = HardNegativeMining(
        WeightedSoftmaxClassificationLoss(), negative_ratio=3.0, min_negatives=2
    )
    half = tf.constant(logits, tf.float16)
    mined = mining.call(y_true, half)
    assert mined.dtype == tf.float32
    rounded = np.asarray(half, np.float32)
    inner = np.asarray(mining.loss.call(y_true, rounded))
    np.testing.assert_array_equal(np.asarray(mined), reference_mining(y_true, inner, 3.0, 2))
    compiled = tf.function(lambda t, p, w: mining(t, p, sample_weight=w), jit_compile=True)
    np.testing.assert_allclose(
        float(compiled(y_true, half, sample_weight)),
        float(mining(y_true, half, sample_weight)),
        rtol=1e-5,
    )


BAD_ARGUMENTS = [
    ({"loss": "softmax"}, "keras.losses.Loss"),
    ({"negative_ratio": -1.0}, "negative_ratio"),
    ({"negative_ratio": float("nan")}, "negative_ratio"),
    ({"negative_ratio": "3"}, "negative_ratio"),
    ({"min_negatives": -1}, "min_negatives"),
    ({"min_negatives": 1.5}, "min_negatives` must be an integer"),
    ({"min_negatives": True}, "min_negatives"),
]


def test_bad_arguments():
    for kwargs, match in BAD_ARGUMENTS:
        arguments = {"loss": WeightedSoftmaxClassificationLoss(), **kwargs}
        with pytest.raises(ValueError, match=match):
            HardNegativeMining(**arguments)


@pytest.mark.parametrize("argument", ["num_hard_examples", "max_negatives_per_positive", "iou_threshold"])
def test_tf_object_detection_arguments_point_to_hard_example_miner(argument):
    with pytest.raises(ValueError, match=f"takes no `{argument}`.*HardExampleMiner"):
        HardNegativeMining(WeightedSoftmaxClassificationLoss(), **{argument: 0.5})
    with pytest.raises(TypeError, match="unexpected argument 'ratio'"):
        HardNegativeMining(WeightedSoftmaxClassificationLoss(), ratio=3.0)


def test_config_saved_before_the_split_still_loads():
    # Older configs held the TF OD API arguments at their unused defaults.
    config = HardNegativeMining(WeightedSoftmaxClassificationLoss(), negative_ratio=2.0).get_config()
    config.update(num_hard_examples=None, max_negatives_per_positive=None, min_negatives_per_image=0,
                  iou_threshold=None, loss_type="classification")
    revived = HardNegativeMining.from_config(config)
    assert revived.negative_ratio == 2.0 and "num_hard_examples" not in revived.get_config()
