"""Tests of the eager ground-truth box checks."""

import re

import numpy as np
import pytest

from keras_ssd.data.validation import validate_boxes

NAMES = ["dog", "cat", "bird"]


def test_valid_boxes_pass():
    validate_boxes([[0.1, 0.2, 0.5, 0.6], [0.0, 0.0, 1.0, 1.0]], [2, 0], num_classes=3)
    validate_boxes(np.zeros((0, 4), np.float32), np.zeros((0,), np.int64), 3)
    validate_boxes([], [], 3)
    # Float rounding just outside [0, 1] is tolerated.
    validate_boxes([[-1e-7, 0.0, 1.0 + 1e-7, 1.0]], [1.0], 3)


def test_xmax_before_xmin_message_names_source_box_label_and_count():
    expected = (
        "voc/2007_000032.xml: box 0 [0.1, 0.5, 0.3, 0.2] (label 'dog') has xmax <= "
        "xmin (is it xywh, not yxyx?). 1 of 1 boxes have this problem."
    )
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        validate_boxes(
            [[0.1, 0.5, 0.3, 0.2]], [0], 3, source="voc/2007_000032.xml",
            class_names=NAMES,
        )


def test_ymax_before_ymin_counts_every_bad_box():
    boxes = [[0.1, 0.1, 0.2, 0.2], [0.5, 0.1, 0.4, 0.3], [0.6, 0.1, 0.6, 0.3]]
    with pytest.raises(
        ValueError,
        match=re.escape(
            "record 7: box 1 [0.5, 0.1, 0.4, 0.3] (label 2) has ymax <= ymin (is it "
            "xywh, not yxyx?). 2 of 3 boxes have this problem."
        ),
    ):
        validate_boxes(boxes, [0, 2, 1], 3, source="record 7")


def test_pixel_coordinates_are_reported_as_pixels():
    with pytest.raises(
        ValueError,
        match=re.escape(
            "a.jpg: box 1 [10, 20, 50, 80] (label 'cat') has coordinates outside "
            "[0, 1] (are they pixels, not normalised?). 1 of 2 boxes"
        ),
    ):
        validate_boxes(
            [[0.1, 0.2, 0.3, 0.4], [10, 20, 50, 80]], [0, 1], 3, source="a.jpg",
            class_names=NAMES,
        )


def test_negative_coordinates_and_tolerance():
    with pytest.raises(ValueError, match=r"outside \[0, 1\] \(negative coordinates"):
        validate_boxes([[-1e-5, 0.2, 0.3, 0.4]], [0], 3)
    with pytest.raises(ValueError, match="are they pixels"):
        validate_boxes([[0.1, 0.2, 0.3, 1.0 + 1e-5]], [0], 3)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_coordinates(value):
    with pytest.raises(
        ValueError, match=r"box 1 \[.*\] \(label 1\) has a NaN or infinite coordinate. "
        r"1 of 2 boxes"
    ):
        validate_boxes([[0.1, 0.2, 0.3, 0.4], [0.1, value, 0.3, 0.4]], [0, 1], 3)


def test_class_too_large():
    with pytest.raises(
        ValueError,
        match=re.escape(
            "box 0 [0.1, 0.2, 0.3, 0.4] (label 3) has a class >= num_classes=3"
        )
        + r".*2 of 2 boxes have this problem\.",
    ):
        validate_boxes([[0.1, 0.2, 0.3, 0.4]] * 2, [3, 5], 3, class_names=NAMES)


def test_negative_class_points_at_padding():
    with pytest.raises(
        ValueError, match=r"box 1 .* \(label -1\) has a negative class \(-1 is padding"
    ):
        validate_boxes([[0.1, 0.2, 0.3, 0.4]] * 2, [0, -1], 3)


def test_non_integer_class():
    with pytest.raises(
        ValueError, match=r"\(label 1\.5\) has a class that is not an integer"
    ):
        validate_boxes([[0.1, 0.2, 0.3, 0.4]], [1.5], 3)


@pytest.mark.parametrize(
    "boxes, classes, match",
    [
        ([[0.1, 0.2, 0.3]], [0], r"boxes must have shape \[num_boxes, 4\].*\[1, 3\]"),
        ([0.1, 0.2, 0.3, 0.4], [0], r"got shape \[4\]"),
        ([[[0.1, 0.2, 0.3, 0.4]]], [0], r"got shape \[1, 1, 4\]"),
        ([[0.1, 0.2, 0.3, 0.4]], [[0]], r"classes must have shape \[num_boxes\]"),
        ([[0.1, 0.2, 0.3, 0.4]] * 2, [0], "2 boxes but 1 classes"),
        ([["a", "b", "c", "d"]], [0], "must be numeric arrays"),
    ],
)
def test_wrong_shapes(boxes, classes, match):
    with pytest.raises(ValueError, match=match):
        validate_boxes(boxes, classes, 3, source="x.json")


@pytest.mark.parametrize("num_classes", [0, 2.5, True])
def test_bad_num_classes(num_classes):
    with pytest.raises(ValueError, match="num_classes must be"):
        validate_boxes([[0.1, 0.2, 0.3, 0.4]], [0], num_classes)
