"""Tests of SSDHead with closed-form numbers: initial biases and the anchor order of its outputs."""

import math

import numpy as np
import pytest
import tensorflow as tf

from keras_ssd.models.ssd_head import SSDHead

FEATURES = [np.zeros((2, 3, 2, 5), "float32"), np.zeros((2, 1, 1, 5), "float32")]


def _head(**kwargs):
    head = SSDHead([2, 3], **{"num_logits": 4, **kwargs})
    head.build([feature.shape for feature in FEATURES])
    return head


@pytest.mark.parametrize("background_logit", [False, True])
def test_zero_features_give_the_prior_probability(background_logit):
    head = _head(prior_probability=0.01, background_logit=background_logit)
    box_deltas, class_logits = (np.asarray(output) for output in head(FEATURES))
    num_anchors = 3 * 2 * 2 + 1 * 1 * 3
    assert box_deltas.shape == (2, num_anchors, 4) and class_logits.shape == (2, num_anchors, 4)
    assert box_deltas.dtype == np.float32 and class_logits.dtype == np.float32
    np.testing.assert_array_equal(box_deltas, 0.0)
    prior = math.log(0.01 / 0.99)  # sigmoid(prior) = 0.01
    expected = np.full(4, prior, np.float32)
    if background_logit:
        expected[0] = -prior
    np.testing.assert_allclose(class_logits, np.broadcast_to(expected, class_logits.shape), rtol=1e-6)
    if background_logit:
        # Softmax of [-b, b, b, b]: background starts near 1.
        probability = tf.nn.softmax(class_logits[0, 0]).numpy()
        np.testing.assert_allclose(probability[0], 1 / (1 + 3 * (0.01 / 0.99) ** 2), rtol=1e-5)


def test_outputs_follow_the_anchor_order_location_major_then_anchor():
    head = _head()
    # Box biases 0..7 on map 0 (2 anchors x 4) and 100..111 on map 1 (3 anchors x 4).
    kernel, _ = head.box_convs[0].get_weights()
    head.box_convs[0].set_weights([np.zeros_like(kernel), np.arange(8, dtype="float32")])
    kernel, _ = head.box_convs[1].get_weights()
    head.box_convs[1].set_weights([np.zeros_like(kernel), 100 + np.arange(12, dtype="float32")])
    box_deltas = np.asarray(head(FEATURES)[0])[0]
    # Six locations of map 0 (row-major), two anchors each, then one location of map 1.
    expected = [[0, 1, 2, 3], [4, 5, 6, 7]] * 6 + [[100, 101, 102, 103], [104, 105, 106, 107], [108, 109, 110, 111]]
    np.testing.assert_array_equal(box_deltas, expected)


def test_a_feature_moves_only_its_own_location():
    head = _head()
    features = [feature.copy() for feature in FEATURES]
    features[0][0, 2, 1, :] = 1.0  # the last location of map 0 in image 0
    base = np.asarray(head(FEATURES)[1])
    moved = np.asarray(head(features)[1])
    changed = np.any(moved != base, axis=-1)
    # A 3x3 convolution: locations (1, 0), (1, 1), (2, 0), (2, 1) of map 0 see it.
    locations = [(row, column) for row in range(3) for column in range(2)]
    expected = np.zeros(15, bool)
    for index, (row, column) in enumerate(locations):
        if abs(row - 2) <= 1 and abs(column - 1) <= 1:
            expected[2 * index: 2 * index + 2] = True
    np.testing.assert_array_equal(changed[0], expected)
    assert not changed[1].any()
