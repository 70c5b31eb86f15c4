"""Tests of the private class-weighting helpers shared by the losses."""

import numpy as np
import pytest

from keras_ssd.losses.class_weighting import (
    anchor_class_weights,
    class_targets_to_int,
    validate_class_weights,
    validate_non_negative_float,
)


def test_validate_class_weights_accepts_sequences():
    assert validate_class_weights(None) is None
    assert validate_class_weights([1, 2.5, 0]) == (1.0, 2.5, 0.0)
    assert validate_class_weights((np.float32(0.5),)) == (0.5,)
    validated = validate_class_weights(np.array([1.0, 2.0]))
    assert validated == (1.0, 2.0) and all(type(value) is float for value in validated)


BAD_CLASS_WEIGHTS = [
    ("1, 2", "sequence"),
    ({0: 1.0}, "sequence"),
    (3.0, "sequence"),
    ([], "empty"),
    (np.ones((2, 2)), "1-D"),
    ([1.0, None], r"class_weights\[1\]` must be a real number"),
    ([True], "real number"),
    ([1.0, -1e-9], r"class_weights\[1\]` is negative"),
    ([float("nan")], r"class_weights\[0\]` is NaN"),
    ([float("-inf")], "infinite"),
]


def test_validate_class_weights_rejects_bad_values():
    for value, match in BAD_CLASS_WEIGHTS:
        with pytest.raises(ValueError, match=match):
            validate_class_weights(value)


def test_validate_non_negative_float():
    assert validate_non_negative_float(2, "w") == 2.0
    for value in [-1.0, float("nan"), float("inf"), "1", None]:
        with pytest.raises(ValueError, match="`w`"):
            validate_non_negative_float(value, "w")


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
