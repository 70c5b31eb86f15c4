"""`compute_class_weights` names the classes that have no box."""

import warnings

import pytest

from keras_ssd.data.class_weights import compute_class_weights


def test_a_class_with_no_box_is_named_in_a_warning():
    with pytest.warns(UserWarning, match=r"1 of 3 classes have 0 boxes \(1\)"):
        weights = compute_class_weights([10, 0, 40], method="inverse")
    assert weights == pytest.approx([2.5, 2.5, 0.625], rel=1e-12)
    with pytest.warns(UserWarning, match=r"2 of 3 classes have 0 boxes \('cat', 'cow'\)"):
        compute_class_weights({"dog": 5, "cat": 0, "cow": 0}, method="inverse")


def test_no_warning_when_every_class_has_boxes():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compute_class_weights([10, 40], method="inverse")
