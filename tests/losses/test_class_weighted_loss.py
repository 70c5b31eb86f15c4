"""Tests of the helpers of ClassWeightedLoss (the per-anchor class-weight lookup)."""

import numpy as np

from keras_ssd.losses.class_weighted_loss import (
    anchor_class_weights,
    class_targets_to_int,
)


def test_anchor_class_weights_lookup():
    # Targets: ignored, background, class 0, class 1, class 2, and 4 / -3 out of range.
    targets = class_targets_to_int(np.array([[-1, 0, 1, 2, 3, 4, -3]]))
    weights = np.asarray(anchor_class_weights(targets, (2.0, 0.0, 0.5), 0.25, 3))
    np.testing.assert_array_equal(weights, [[0.0, 0.25, 2.0, 0.0, 0.5, 0.0, 0.0]])
    unweighted = np.asarray(anchor_class_weights(targets, None, 1.0, 3))
    np.testing.assert_array_equal(unweighted, [[0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0]])


def test_class_targets_to_int_rounds_floats():
    targets = np.asarray(class_targets_to_int(np.array([[2.9999998, -1.0, 0.0]], "float32")))
    assert targets.dtype == np.int32
    np.testing.assert_array_equal(targets, [[3, -1, 0]])
