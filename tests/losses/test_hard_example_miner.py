"""Tests of HardExampleMiner (the TF OD API rule) against NumPy references of the TF miner."""

import math

import numpy as np
import pytest
import tensorflow as tf

from keras_ssd.losses import (
    HardExampleMiner,
    HardNegativeMining,
    WeightedSigmoidClassificationLoss,
    WeightedSoftmaxClassificationLoss,
)
from tests.losses.mining_cases import negatives_then_positives
from tests.losses.mining_cases import random_case
from tests.losses.mining_cases import softplus


def reference_tf_miner(y_true, losses, num_hard_examples, max_per_positive, min_per_image):
    """The TF OD API HardExampleMiner (loss_type classification, no NMS), per image.

    Candidates (positives and negatives) are sorted by loss (stable by index),
    the first `num_hard_examples` are selected, then the selected positives and
    the negatives whose running count is <= max(floor(r * P_selected), min) are kept.
    """
    y_true = np.asarray(y_true, np.int64)
    losses = np.asarray(losses)
    kept = np.zeros_like(losses)
    for image in range(y_true.shape[0]):
        candidates = np.flatnonzero(y_true[image] >= 0)
        ordered = candidates[np.argsort(-losses[image, candidates], kind="stable")]
        selected = ordered if num_hard_examples is None else ordered[:num_hard_examples]
        if max_per_positive is not None:
            is_positive = y_true[image, selected] > 0
            num_positives = int(is_positive.sum())
            limit = max(
                min_per_image,
                int(np.float32(max_per_positive) * np.float32(num_positives)),
            )
            running = np.cumsum(~is_positive)
            selected = selected[is_positive | (running <= limit)]
        kept[image, selected] = losses[image, selected]
    return kept


def test_without_num_hard_examples_is_the_ssd_rule():
    for seed in [0, 1, 2]:
        y_true, logits, sample_weight = random_case(seed)
        for ratio, minimum in [(3.0, 0), (1.5, 0), (0.5, 4), (2.0, 100)]:
            ssd = HardNegativeMining(
                WeightedSoftmaxClassificationLoss(), negative_ratio=ratio, min_negatives=minimum
            )
            tf_miner = HardExampleMiner(
                WeightedSoftmaxClassificationLoss(),
                max_negatives_per_positive=ratio,
                min_negatives_per_image=minimum,
            )
            np.testing.assert_array_equal(
                np.asarray(tf_miner.call(y_true, logits)), np.asarray(ssd.call(y_true, logits))
            )


def test_drops_positives_outside_the_hard_examples_and_counts_survivors():
    # Anchors 0-3 are negatives with losses softplus(3, 2, 1, 0), anchors 4-5
    # positives with losses softplus(2.5, -1). The 3 hardest are the negative
    # 3, the positive 2.5 and the negative 2: one positive survives, so the
    # ratio 1 keeps one negative. The SSD rule keeps both positives and
    # 2 x 1 negatives.
    y_true = np.array([[0, 0, 0, 0, 1, 1]])
    y_pred = negatives_then_positives([3.0, 2.0, 1.0, 0.0], [2.5, -1.0])
    tf_miner = HardExampleMiner(
        WeightedSoftmaxClassificationLoss(), num_hard_examples=3, max_negatives_per_positive=1.0
    )
    expected = [softplus(3.0), 0.0, 0.0, 0.0, softplus(2.5), 0.0]
    np.testing.assert_allclose(np.asarray(tf_miner.call(y_true, y_pred)), [expected], rtol=1e-6)
    ssd = HardNegativeMining(WeightedSoftmaxClassificationLoss(), negative_ratio=1.0)
    expected_ssd = [softplus(3.0), softplus(2.0), 0.0, 0.0, softplus(2.5), softplus(-1.0)]
    np.testing.assert_allclose(np.asarray(ssd.call(y_true, y_pred)), [expected_ssd], rtol=1e-6)
    # Without a ratio every selected anchor is kept, the positive 2.5 included.
    uncapped = HardExampleMiner(WeightedSoftmaxClassificationLoss(), num_hard_examples=3)
    expected_uncapped = [softplus(3.0), softplus(2.0), 0.0, 0.0, softplus(2.5), 0.0]
    np.testing.assert_allclose(
        np.asarray(uncapped.call(y_true, y_pred)), [expected_uncapped], rtol=1e-6
    )


def test_image_without_positives_in_each_rule():
    y_true = np.zeros((1, 5), "int32")
    y_pred = negatives_then_positives([1.0, 4.0, 2.0, 3.0, 0.0], [])
    softmax = WeightedSoftmaxClassificationLoss
    # SSD rule (torchvision): no positives, no negatives ...
    assert float(HardNegativeMining(softmax())(y_true, y_pred)) == 0.0
    # ... and likewise the TF miner with a ratio, unless min_negatives_per_image.
    capped = HardExampleMiner(softmax(), num_hard_examples=4, max_negatives_per_positive=3.0)
    assert float(capped(y_true, y_pred)) == 0.0
    capped_min = HardExampleMiner(
        softmax(), num_hard_examples=4, max_negatives_per_positive=3.0, min_negatives_per_image=1
    )
    np.testing.assert_allclose(
        np.asarray(capped_min.call(y_true, y_pred)),
        [[0.0, softplus(4.0), 0.0, 0.0, 0.0]],
        rtol=1e-6,
    )
    # The TF miner without a ratio keeps num_hard_examples negatives anyway.
    uncapped = HardExampleMiner(softmax(), num_hard_examples=2)
    np.testing.assert_allclose(
        np.asarray(uncapped.call(y_true, y_pred)),
        [[0.0, softplus(4.0), 0.0, softplus(3.0), 0.0]],
        rtol=1e-6,
    )


def test_never_mines_ignored_anchors():
    # The ignored anchor has the largest loss but takes no hard-example slot.
    y_true = np.array([[-1, 0, 0, 1]])
    y_pred = negatives_then_positives([50.0, 2.0, -1.0], [0.0])
    miner = HardExampleMiner(WeightedSoftmaxClassificationLoss(), num_hard_examples=2)
    np.testing.assert_allclose(
        np.asarray(miner.call(y_true, y_pred)), [[0.0, softplus(2.0), 0.0, math.log(2)]], rtol=1e-6
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_against_reference(seed):
    y_true, logits, sample_weight = random_case(seed)
    inner_loss = WeightedSoftmaxClassificationLoss(class_weights=[1.0, 3.0, 0.5])
    inner = np.asarray(inner_loss.call(y_true, logits))
    for num_hard, ratio, minimum in [
        (8, 3.0, 0),
        (8, None, 0),
        (5, 0.5, 2),
        (None, 1.5, 1),
        (1, 2.0, 0),
        (1000, 3.0, 3),
    ]:
        miner = HardExampleMiner(
            inner_loss,
            num_hard_examples=num_hard,
            max_negatives_per_positive=ratio,
            min_negatives_per_image=minimum,
        )
        expected = reference_tf_miner(y_true, inner, num_hard, ratio, minimum)
        np.testing.assert_array_equal(np.asarray(miner.call(y_true, logits)), expected)
        np.testing.assert_allclose(
            float(miner(y_true, logits, sample_weight)), np.sum(expected * sample_weight), rtol=1e-5
        )


@pytest.mark.parametrize(
    "miner_class, arguments",
    [
        (HardNegativeMining, {"negative_ratio": 2.0, "min_negatives": 1}),
        (HardExampleMiner, {"num_hard_examples": 6, "max_negatives_per_positive": 2.0, "min_negatives_per_image": 1}),
        (HardExampleMiner, {"num_hard_examples": 4}),
    ],
)
def test_stable_for_large_logits_and_jit_matches_eager(miner_class, arguments):
    rng = np.random.default_rng(11)
    y_true = rng.integers(-1, 4, size=(2, 30))
    logits = (100.0 * rng.choice([-1.0, 1.0], size=(2, 30, 4))).astype("float32")
    sample_weight = rng.uniform(0.5, 2.0, size=(2, 30)).astype("float32")
    mining = miner_class(WeightedSoftmaxClassificationLoss(), **arguments)

    def value_and_gradient(y_true, logits, sample_weight):
        with tf.GradientTape() as tape:
            tape.watch(logits)
            value = mining(y_true, logits, sample_weight=sample_weight)
        return value, tape.gradient(value, logits)

    value, gradient = value_and_gradient(y_true, tf.constant(logits), sample_weight)
    assert np.isfinite(float(value)) and np.all(np.isfinite(np.asarray(gradient)))
    compiled = tf.function(value_and_gradient, jit_compile=True)
    compiled_value, compiled_gradient = compiled(y_true, tf.constant(logits), sample_weight)
    np.testing.assert_allclose(float(compiled_value), float(value), rtol=1e-5)
    np.testing.assert_allclose(compiled_gradient, gradient, rtol=1e-5, atol=1e-7)


BAD_ARGUMENTS = [
    ({"num_hard_examples": 0}, "num_hard_examples: 0"),
    ({"num_hard_examples": -3}, "num_hard_examples"),
    ({"num_hard_examples": 2.5}, "num_hard_examples` must be None or an integer"),
    ({"num_hard_examples": True}, "num_hard_examples"),
    ({"max_negatives_per_positive": 0}, "max_negatives_per_positive: 0"),
    ({"max_negatives_per_positive": -1.0}, "max_negatives_per_positive"),
    ({"max_negatives_per_positive": float("inf")}, "max_negatives_per_positive"),
    ({"max_negatives_per_positive": "3"}, "max_negatives_per_positive"),
    ({"min_negatives_per_image": -1, "max_negatives_per_positive": 3.0}, "min_negatives_per_image"),
    ({"min_negatives_per_image": 3}, "only applies with `max_negatives_per_positive`"),
    ({"iou_threshold": 0.0}, r"in \(0, 1\]"),
    ({"iou_threshold": 1.5}, r"in \(0, 1\]"),
    ({"loss_type": "cls"}, "must be one of"),
]


@pytest.mark.parametrize("kwargs, match", BAD_ARGUMENTS)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        HardExampleMiner(WeightedSoftmaxClassificationLoss(), **kwargs)


# ---------------------------------------------------------------------------
# NMS among hard examples and `loss_type`.


def _iou(box, boxes):
    top_left = np.maximum(box[:2], boxes[:, :2])
    bottom_right = np.minimum(box[2:], boxes[:, 2:])
    intersection = np.prod(np.clip(bottom_right - top_left, 0, None), axis=1)
    area = lambda b: np.prod(b[..., 2:] - b[..., :2], axis=-1)  # noqa: E731
    return intersection / (area(box) + area(boxes) - intersection)


def reference_tf_miner_with_nms(y_true, scores, boxes, num_hard_examples, iou_threshold, max_per_positive):
    """TF OD API HardExampleMiner: NMS on the ranking scores, then the ratio, per image."""
    kept = np.zeros(y_true.shape, bool)
    for image in range(y_true.shape[0]):
        candidates = np.flatnonzero(y_true[image] >= 0)
        ordered = candidates[np.argsort(-scores[image, candidates], kind="stable")]
        selected = []
        for anchor in ordered:
            if len(selected) == num_hard_examples:
                break
            if not selected or _iou(boxes[image, anchor], boxes[image, selected]).max() <= iou_threshold:
                selected.append(anchor)
        selected = np.array(selected, int)
        is_positive = y_true[image, selected] > 0
        limit = int(np.floor(max_per_positive * is_positive.sum()))
        selected = selected[is_positive | (np.cumsum(~is_positive) <= limit)]
        kept[image, selected] = True
    return kept


def _random_boxes(rng, shape):
    corners = rng.uniform(0, 1, shape + (2, 2))
    return np.concatenate([corners.min(axis=-2), corners.max(axis=-2) + 0.05], axis=-1).astype("float32")


def test_nms_keeps_the_harder_of_two_overlapping_negatives():
    # Negatives 0 and 1 overlap with IoU 0.9; 0 is harder. Negative 2 is apart.
    y_true = np.array([[0, 0, 0, 1]])
    y_pred = negatives_then_positives([3.0, 2.0, 1.0], [0.5])
    boxes = np.array([[[0, 0, 0.5, 0.5], [0, 0, 0.5, 0.45], [0.6, 0.6, 0.9, 0.9], [0.1, 0.6, 0.3, 0.9]]], "float32")
    losses = np.asarray(WeightedSoftmaxClassificationLoss().call(y_true, y_pred))
    for threshold, expected_kept in ((0.5, [True, False, True, True]), (0.99, [True, True, True, True])):
        miner = HardExampleMiner(
            WeightedSoftmaxClassificationLoss(), num_hard_examples=10, iou_threshold=threshold
        )
        assert miner.needs_predicted_boxes
        mined = np.asarray(miner.call(y_true, {"logits": y_pred, "boxes": boxes}))
        np.testing.assert_allclose(mined[0], np.where(expected_kept, losses[0], 0.0), rtol=1e-6)


def test_nms_can_drop_a_positive_and_the_ratio_counts_survivors():
    # The positive (anchor 2) overlaps the harder negative 0 and is suppressed:
    # no positive survives, so max_negatives_per_positive keeps no negative.
    y_true = np.array([[0, 0, 1]])
    y_pred = np.array([[[0.0, 3.0], [0.0, 1.0], [0.0, 2.0]]], "float32")
    boxes = np.array([[[0, 0, 0.5, 0.5], [0.6, 0.6, 0.9, 0.9], [0, 0, 0.5, 0.48]]], "float32")
    miner = HardExampleMiner(
        WeightedSoftmaxClassificationLoss(), num_hard_examples=10, iou_threshold=0.5,
        max_negatives_per_positive=3.0,
    )
    np.testing.assert_array_equal(np.asarray(miner.call(y_true, {"logits": y_pred, "boxes": boxes})), [[0.0, 0.0, 0.0]])


@pytest.mark.parametrize("loss_type", ["classification", "localization", "both"])
def test_nms_miner_matches_numpy_reference(loss_type):
    for seed in range(3):
        rng = np.random.default_rng(seed)
        y_true = rng.choice([-1, 0, 0, 0, 0, 1, 2], size=(2, 40))
        logits = rng.normal(0, 2, (2, 40, 3)).astype("float32")
        boxes = _random_boxes(rng, (2, 40))
        localization = rng.uniform(0, 2, (2, 40)).astype("float32") * (y_true > 0)
        miner = HardExampleMiner(
            WeightedSoftmaxClassificationLoss(), num_hard_examples=15, iou_threshold=0.4,
            max_negatives_per_positive=2.0, loss_type=loss_type,
        )
        losses = np.asarray(WeightedSoftmaxClassificationLoss().call(y_true, logits))
        scores = {"classification": losses, "localization": localization, "both": losses + localization}[loss_type]
        expected = reference_tf_miner_with_nms(y_true, scores, boxes, 15, 0.4, 2.0)
        mined = np.asarray(miner.call(y_true, {"logits": logits, "boxes": boxes, "localization": localization}))
        np.testing.assert_allclose(mined, np.where(expected, losses, 0.0), rtol=1e-6)


def test_options_that_need_boxes_or_localization_say_so():
    y_true = np.array([[0, 1]])
    logits = np.zeros((1, 2, 2), "float32")
    with pytest.raises(ValueError, match="needs y_pred as a dict with 'logits' and 'boxes'"):
        HardExampleMiner(WeightedSoftmaxClassificationLoss(), iou_threshold=0.99).call(y_true, logits)
    with pytest.raises(ValueError, match="'localization'"):
        HardExampleMiner(WeightedSoftmaxClassificationLoss(), loss_type="both").call(y_true, {"logits": logits})


def test_negative_ratio_belongs_to_hard_negative_mining():
    with pytest.raises(TypeError, match="negative_ratio"):
        HardExampleMiner(WeightedSoftmaxClassificationLoss(), num_hard_examples=10, negative_ratio=2.0)


def test_with_class_weights_keeps_the_miner_arguments():
    miner = HardExampleMiner(WeightedSigmoidClassificationLoss(), num_hard_examples=7, max_negatives_per_positive=2.5)
    weighted = miner.with_class_weights([2.0, 2.0, 2.0])
    assert type(weighted) is HardExampleMiner and weighted is not miner
    assert weighted.num_hard_examples == 7 and weighted.max_negatives_per_positive == 2.5
    assert weighted.class_weights == (2.0, 2.0, 2.0) and miner.class_weights is None


@pytest.mark.parametrize("num_duplicates", [0, 25, 35])
def test_nms_on_the_top_scores_selects_what_nms_on_every_anchor_selects(num_duplicates, monkeypatch):
    # 60 anchors, 10 hard examples: the NMS first sees the 20 highest scores. The
    # hardest `num_duplicates` anchors of image 0 share one box and NMS keeps one of
    # them: with 25 or 35, the top 20 give 1 example and it runs again on all 60.
    rng = np.random.default_rng(7)
    y_true = rng.choice([0, 0, 0, 1], size=(2, 60))
    logits = rng.normal(0, 2, (2, 60, 2)).astype("float32")
    boxes = _random_boxes(rng, (2, 60))
    losses = np.asarray(WeightedSoftmaxClassificationLoss().call(y_true, logits))
    order = np.argsort(-losses[0], kind="stable")
    boxes[0, order[:num_duplicates]] = [0.1, 0.1, 0.6, 0.6]
    miner = HardExampleMiner(
        WeightedSoftmaxClassificationLoss(), num_hard_examples=10, iou_threshold=0.5,
        max_negatives_per_positive=3.0,
    )
    calls = []
    real_nms = HardExampleMiner._nms

    def counting_nms(self, boxes, scores):
        calls.append(int(boxes.shape[1]))
        return real_nms(self, boxes, scores)

    monkeypatch.setattr(HardExampleMiner, "_nms", counting_nms)
    mined = np.asarray(miner.call(y_true, {"logits": logits, "boxes": boxes}))
    expected = reference_tf_miner_with_nms(y_true, losses, boxes, 10, 0.5, 3.0)
    np.testing.assert_allclose(mined, np.where(expected, losses, 0.0), rtol=1e-6)
    # Eager: the top-20 NMS, plus the full one only when suppression left too few.
    assert calls == ([20] if num_duplicates < 11 else [20, 60])


@pytest.mark.parametrize("num_hard_examples", [None, 10, 100])
def test_nms_miner_under_xla_matches_numpy_reference(num_hard_examples):
    rng = np.random.default_rng(3)
    y_true = rng.choice([-1, 0, 0, 0, 0, 1, 2], size=(2, 40))
    logits = rng.normal(0, 2, (2, 40, 3)).astype("float32")
    boxes = _random_boxes(rng, (2, 40))
    miner = HardExampleMiner(
        WeightedSoftmaxClassificationLoss(), num_hard_examples=num_hard_examples, iou_threshold=0.3,
    )
    mined = tf.function(lambda l, b: miner.call(y_true, {"logits": l, "boxes": b}), jit_compile=True)
    losses = np.asarray(WeightedSoftmaxClassificationLoss().call(y_true, logits))
    expected = reference_tf_miner_with_nms(y_true, losses, boxes, num_hard_examples or 40, 0.3, 1e6)
    np.testing.assert_allclose(np.asarray(mined(logits, boxes)), np.where(expected, losses, 0.0), rtol=1e-6)
