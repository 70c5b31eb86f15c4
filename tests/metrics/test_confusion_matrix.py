"""The detection confusion matrix against hand-counted numbers."""

import doctest

import numpy as np
import pytest

from keras_ssd.metrics import confusion_matrix as module
from keras_ssd.metrics import detection_confusion_matrix, pairwise_iou

NAMES = ["cat", "dog", "bird"]
# Four well separated boxes of one image; detections on them have IoU 1.
A, B, C, D = [0.0, 0.0, 0.2, 0.2], [0.0, 0.5, 0.2, 0.7], [0.5, 0.0, 0.7, 0.2], [0.5, 0.5, 0.7, 0.7]
EMPTY = [0.8, 0.8, 1.0, 1.0]


def _found(boxes, classes, scores):
    return {"boxes": boxes, "classes": classes, "scores": scores}


def test_swapped_pair_missed_box_and_background_detection():
    # Image 1: a cat and a dog detected as each other, a bird missed, one detection on nothing.
    # Image 2: a cat found as a cat, a bird found as a bird.
    truth = [
        {"boxes": [A, B, C], "classes": [0, 1, 2]},
        {"boxes": [A, D], "classes": [0, 2]},
    ]
    found = [
        _found([A, B, EMPTY], [1, 0, 1], [0.9, 0.8, 0.7]),
        _found([A, D], [0, 2], [0.95, 0.6]),
    ]
    confusion = detection_confusion_matrix(truth, found, NAMES)
    expected = [
        # cat dog bird missed
        [1, 1, 0, 0],  # cat: one right, one taken for a dog
        [1, 0, 0, 0],  # dog: taken for a cat
        [0, 0, 1, 1],  # bird: one right, one missed
        [0, 1, 0, 0],  # background: a dog detection on nothing
    ]
    assert confusion.matrix.tolist() == expected
    assert confusion.matrix.dtype == np.int64
    # Every ground-truth box is in exactly one cell of its row.
    assert confusion.matrix[:3].sum() == 5


def test_score_threshold_drops_low_detections():
    truth = [{"boxes": [A, B], "classes": [0, 1]}]
    found = [_found([A, B, EMPTY], [0, 1, 2], [0.9, 0.3, 0.4])]
    low = detection_confusion_matrix(truth, found, NAMES, score_threshold=0.3).matrix
    assert low.tolist() == [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 1, 0]]
    high = detection_confusion_matrix(truth, found, NAMES, score_threshold=0.5).matrix
    assert high.tolist() == [[1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]]


def test_weight_zero_box_is_neither_matched_nor_missed():
    truth = [{"boxes": [A, B, C], "classes": [0, 1, 2], "weights": [1.0, 0.0, 0.0]}]
    # A dog detection on the ignored dog box B counts nowhere; C is ignored and not detected.
    found = [_found([A, B], [0, 1], [0.9, 0.8])]
    matrix = detection_confusion_matrix(truth, found, NAMES).matrix
    assert matrix.tolist() == [[1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]


def test_greedy_matching_by_score_and_iou_threshold():
    # Two detections on one cat box: the higher score takes it, the other is background.
    half = [0.0, 0.0, 0.2, 0.1]  # IoU 0.5 with A
    truth = [{"boxes": [A], "classes": [0]}]
    found = [_found([half, A], [1, 2], [0.6, 0.9])]
    matrix = detection_confusion_matrix(truth, found, NAMES).matrix
    assert matrix.tolist() == [[0, 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 1, 0, 0]]
    # IoU 0.5 matches at iou_threshold 0.5 but not at 0.6.
    assert pairwise_iou([half], [A])[0, 0] == pytest.approx(0.5)
    matrix = detection_confusion_matrix(truth, [_found([half], [1], [0.9])], NAMES).matrix
    assert matrix[0, 1] == 1
    matrix = detection_confusion_matrix(truth, [_found([half], [1], [0.9])], NAMES, iou_threshold=0.6).matrix
    assert matrix[0, 3] == 1 and matrix[3, 1] == 1


def test_batched_dicts_and_padding():
    truth = {
        "boxes": np.array([[A, B], [C, [0, 0, 0, 0]]], np.float32),
        "classes": np.array([[0, 1], [2, -1]]),
    }
    found = {
        "boxes": np.array([[A, B], [C, A]], np.float32),
        "classes": np.array([[0, 0], [2, -1]]),
        "confidence": np.array([[0.9, 0.9], [0.9, -1.0]], np.float32),
        "num_detections": np.array([2, 1]),
    }
    matrix = detection_confusion_matrix(truth, found, NAMES).matrix
    assert matrix.tolist() == [[1, 0, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]]


def test_format_table():
    truth = [{"boxes": [A, B], "classes": [0, 1]}]
    found = [_found([A, B, EMPTY], [1, 0, 0], [0.9, 0.9, 0.9])]
    table = detection_confusion_matrix(truth, found, ["cat", "dog"]).format_table()
    lines = table.splitlines()
    assert lines[0].split() == ["truth", "\\", "detected", "cat", "dog", "missed"]
    assert [line.split() for line in lines[2:]] == [
        ["cat", "0", "1", "0"],
        ["dog", "1", "0", "0"],
        ["background", "1", "0", "-"],
    ]


def test_empty_inputs():
    truth = [{"boxes": np.zeros((0, 4)), "classes": []}]
    found = [_found(np.zeros((0, 4)), [], [])]
    assert detection_confusion_matrix(truth, found, NAMES).matrix.sum() == 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"score_threshold": 1.5}, r"score_threshold must lie in \[0, 1\]"),
        ({"iou_threshold": 0.0}, r"iou_threshold must lie in \(0, 1\]"),
        ({"class_names": []}, "class_names is empty"),
    ],
)
def test_bad_arguments(kwargs, message):
    arguments = {"ground_truth": [], "detections": [], "class_names": NAMES, **kwargs}
    with pytest.raises(ValueError, match=message):
        detection_confusion_matrix(**arguments)


def test_bad_data_names_the_image_and_box():
    found = [_found([A], [0], [0.9])]
    with pytest.raises(ValueError, match=r"ground_truth\[0\]: box 0 has class 3, outside \[0, 3\)"):
        detection_confusion_matrix([{"boxes": [A], "classes": [3]}], found, NAMES)
    with pytest.raises(ValueError, match=r"ground_truth\[0\]: box 0 has weight -1.0"):
        detection_confusion_matrix([{"boxes": [A], "classes": [0], "weights": [-1]}], found, NAMES)
    with pytest.raises(ValueError, match="1 ground-truth images but 2 detection entries"):
        detection_confusion_matrix([{"boxes": [A], "classes": [0]}], found * 2, NAMES)
    with pytest.raises(ValueError, match=r"detections\[0\]: expected a dict with 'boxes', 'classes' and 'scores'"):
        detection_confusion_matrix([{"boxes": [A], "classes": [0]}], [{"boxes": [A], "classes": [0]}], NAMES)


def test_docstring_example():
    assert doctest.testmod(module).failed == 0
