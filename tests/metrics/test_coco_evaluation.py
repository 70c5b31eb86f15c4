"""Tests for keras_ssd.metrics.coco_evaluation."""

import doctest
import math

import numpy as np
import pytest

from keras_ssd.metrics import coco_evaluation
from keras_ssd.metrics.coco_evaluation import (
    SUMMARY_KEYS,
    DetectionReport,
    evaluate_detections,
    unbatch_detections,
)

CAT = [0.1, 0.1, 0.4, 0.4]
DOG = [0.5, 0.5, 0.9, 0.8]
NOWHERE = [0.0, 0.9, 0.05, 1.0]  # overlaps neither CAT nor DOG


def _gt(boxes, classes, **extra):
    return {"boxes": np.array(boxes, dtype=np.float32).reshape(-1, 4), "classes": classes, **extra}


def _dt(boxes, classes, confidence):
    return {
        "boxes": np.array(boxes, dtype=np.float32).reshape(-1, 4),
        "classes": classes,
        "confidence": confidence,
    }


def test_perfect_detections_give_ap_one_everywhere():
    ground_truth = [_gt([CAT, DOG], [0, 1]), _gt([DOG], [1]), _gt([], [])]
    detections = [_dt([CAT, DOG], [0, 1], [0.9, 0.8]), _dt([DOG], [1], [0.7]), _dt([], [], [])]
    report = evaluate_detections(ground_truth, detections, ["cat", "dog"], image_size=300)

    assert isinstance(report, DetectionReport)
    assert set(report.summary) == set(SUMMARY_KEYS)
    for key in ("AP", "AP50", "AP75", "AR1", "AR10", "AR100"):
        assert report.summary[key] == pytest.approx(1.0), key
    assert [row["name"] for row in report.per_class] == ["cat", "dog"]
    assert [row["class_id"] for row in report.per_class] == [0, 1]
    assert [row["num_boxes"] for row in report.per_class] == [1, 2]
    for row in report.per_class:
        assert row["AP"] == pytest.approx(1.0)
        assert row["AP50"] == pytest.approx(1.0)


def test_hand_computed_ap50_for_tp_fp_tp():
    # One class, 2 ground-truth boxes, 3 detections ranked by score: TP (0.9), FP (0.8), TP (0.7).
    #   after rank 1: precision 1/1, recall 1/2
    #   after rank 2: precision 1/2, recall 1/2
    #   after rank 3: precision 2/3, recall 2/2
    # COCO makes precision monotone (the best precision at any recall >= r) and samples it at
    # the 101 recall thresholds 0, 0.01, ..., 1: the 51 thresholds r <= 0.5 read 1, the 50
    # thresholds 0.5 < r <= 1 read 2/3. AP = (51 * 1 + 50 * 2/3) / 101 = 0.834983...
    # The boxes match exactly, so every IoU threshold gives the same and AP equals AP50.
    expected = (51 * 1.0 + 50 * 2.0 / 3.0) / 101
    ground_truth = [_gt([CAT, DOG], [0, 0])]
    detections = [_dt([CAT, NOWHERE, DOG], [0, 0, 0], [0.9, 0.8, 0.7])]
    report = evaluate_detections(ground_truth, detections, ["thing"], image_size=(300, 400))

    assert expected == pytest.approx(0.834983, abs=1e-6)
    assert report.per_class[0]["AP50"] == pytest.approx(expected, abs=1e-9)
    assert report.per_class[0]["AP"] == pytest.approx(expected, abs=1e-9)
    assert report.summary["AP50"] == pytest.approx(expected, abs=1e-9)
    assert report.summary["AR100"] == pytest.approx(1.0)
    # With one detection per image only the first TP counts: recall 1/2.
    assert report.summary["AR1"] == pytest.approx(0.5)


def test_class_without_detections_has_ap_zero():
    ground_truth = [_gt([CAT, DOG], [0, 1])]
    detections = [_dt([CAT], [0], [0.9])]
    report = evaluate_detections(ground_truth, detections, ["cat", "dog"], image_size=300)

    cat, dog = report.per_class
    assert cat["AP50"] == pytest.approx(1.0) and cat["AP"] == pytest.approx(1.0)
    assert dog["AP50"] == 0.0 and dog["AP"] == 0.0
    # The summary averages the two classes: (1 + 0) / 2.
    assert report.summary["AP50"] == pytest.approx(0.5)


def test_one_class_perfect_other_missed_at_wrong_place():
    # "dog" is detected, but where nothing is: a false positive, and its box is missed.
    ground_truth = [_gt([CAT], [0]), _gt([DOG], [1])]
    detections = [_dt([CAT], [0], [0.6]), _dt([NOWHERE], [1], [0.95])]
    report = evaluate_detections(ground_truth, detections, ["cat", "dog"], image_size=300)

    assert [row["AP50"] for row in report.per_class] == pytest.approx([1.0, 0.0])
    assert [row["AP"] for row in report.per_class] == pytest.approx([1.0, 0.0])
    # The mean row of the table is the COCO summary.
    assert report.summary["AP"] == pytest.approx(0.5)


def test_class_without_ground_truth_is_nan_and_left_out_of_the_mean():
    ground_truth = [_gt([CAT], [0])]
    detections = [_dt([CAT, DOG], [0, 1], [0.9, 0.8])]
    report = evaluate_detections(ground_truth, detections, ["cat", "dog"], image_size=300)

    assert report.per_class[1]["num_boxes"] == 0
    assert math.isnan(report.per_class[1]["AP"]) and math.isnan(report.per_class[1]["AP50"])
    assert report.summary["AP"] == pytest.approx(1.0)


def test_no_detections_at_all_gives_zero_ap():
    ground_truth = [_gt([CAT], [0]), _gt([DOG], [1]), _gt([], [])]
    detections = [_dt([], [], []), _dt([], [], []), _dt([], [], [])]
    report = evaluate_detections(ground_truth, detections, ["cat", "dog"], image_size=300)

    assert report.summary["AP"] == 0.0
    assert report.summary["AP50"] == 0.0
    assert report.summary["AR100"] == 0.0
    assert [row["AP"] for row in report.per_class] == [0.0, 0.0]
    assert [row["AP50"] for row in report.per_class] == [0.0, 0.0]


def test_no_ground_truth_and_no_detections_is_undefined():
    report = evaluate_detections([_gt([], [])], [_dt([], [], [])], ["cat"], image_size=300)

    assert all(value == -1.0 for value in report.summary.values())
    assert math.isnan(report.per_class[0]["AP"])


def test_shifted_boxes_pass_iou_half_but_not_three_quarters():
    # Ground truth 0.4 x 0.4 at (0.1, 0.1); the detection is moved right by 0.08:
    # intersection 0.4 * 0.32 = 0.128, union 0.16 + 0.16 - 0.128 = 0.192, IoU = 2/3.
    shifted = [0.1, 0.18, 0.5, 0.58]
    ground_truth = [_gt([[0.1, 0.1, 0.5, 0.5]], [0])]
    detections = [_dt([shifted], [0], [0.9])]
    report = evaluate_detections(ground_truth, detections, ["cat"], image_size=300)

    assert report.summary["AP50"] == pytest.approx(1.0)
    assert report.summary["AP75"] == 0.0
    assert report.per_class[0]["AP50"] == pytest.approx(1.0)
    # Of the IoU thresholds 0.50, 0.55, ..., 0.95, four (up to 0.65) pass: AP = 4 / 10.
    assert report.per_class[0]["AP"] == pytest.approx(0.4)


def test_image_size_sets_coco_area_ranges():
    # 0.05 of 300 px = 15 px, area 225 < 32^2: a small box. 0.5 of 300 = 150 px: large.
    small = [0.1, 0.1, 0.15, 0.15]
    ground_truth = [_gt([small], [0])]
    detections = [_dt([small], [0], [0.9])]

    report = evaluate_detections(ground_truth, detections, ["cat"], image_size=(300, 300))
    assert report.summary["APs"] == pytest.approx(1.0)
    assert report.summary["APm"] == -1.0 and report.summary["APl"] == -1.0

    report = evaluate_detections(ground_truth, detections, ["cat"], image_size=[(3000, 3000)])
    assert report.summary["APs"] == -1.0 and report.summary["APl"] == pytest.approx(1.0)


def test_padding_rows_are_dropped_and_crowd_boxes_ignored():
    ground_truth = [
        {"boxes": np.array([CAT, DOG, [0, 0, 0, 0]]), "classes": [0, 1, -1], "iscrowd": [0, 1, 0]}
    ]
    # A detection on the crowd box is neither TP nor FP; the padding row has a garbage box.
    detections = [
        {"boxes": np.array([CAT, DOG, [-1, -1, -1, -1]]), "classes": [0, 1, -1],
         "confidence": [0.9, 0.8, -1]}
    ]  # fmt: skip
    report = evaluate_detections(ground_truth, detections, ["cat", "dog"], image_size=300)

    assert [row["num_boxes"] for row in report.per_class] == [1, 0]
    assert report.per_class[0]["AP"] == pytest.approx(1.0)
    assert math.isnan(report.per_class[1]["AP"])


def test_batched_keras_cv_dicts_are_accepted():
    batched = {
        "boxes": np.array([[CAT, DOG, [0, 0, 0, 0]], [DOG, [0, 0, 0, 0], [0, 0, 0, 0]]]),
        "classes": np.array([[0, 1, -1], [1, -1, -1]], dtype=np.float32),
        "confidence": np.array([[0.9, 0.8, -1], [0.7, -1, -1]], dtype=np.float32),
        "num_detections": np.array([2, 1], dtype=np.int32),
    }
    per_image = unbatch_detections(batched)
    assert len(per_image) == 2
    assert per_image[0]["boxes"].shape == (2, 4) and per_image[1]["boxes"].shape == (1, 4)
    np.testing.assert_array_equal(per_image[1]["classes"], [1])
    np.testing.assert_allclose(per_image[0]["confidence"], [0.9, 0.8])

    padded_truth = {
        "boxes": np.array([[CAT, DOG], [DOG, [0, 0, 0, 0]]], dtype=np.float32),
        "classes": np.array([[0, 1], [1, -1]], dtype=np.int32),
    }
    report = evaluate_detections(padded_truth, batched, ["cat", "dog"], image_size=300)
    assert report.summary["AP"] == pytest.approx(1.0)
    assert [row["num_boxes"] for row in report.per_class] == [1, 2]


def test_format_table_lists_classes_and_the_mean():
    ground_truth = [_gt([CAT], [0]), _gt([DOG], [1])]
    detections = [_dt([CAT], [0], [0.6]), _dt([NOWHERE], [1], [0.95])]
    report = evaluate_detections(ground_truth, detections, ["cat", "dog", "bird"], 300)

    lines = report.format_table().splitlines()
    assert lines[0].split() == ["class", "boxes", "AP50", "AP"]
    assert lines[2].split() == ["cat", "1", "1.000", "1.000"]
    assert lines[3].split() == ["dog", "1", "0.000", "0.000"]
    assert lines[4].split() == ["bird", "0", "-", "-"]
    assert lines[-1].split() == ["mean", "2", "0.500", "0.500"]


def test_pycocotools_output_is_silenced(capsys):
    evaluate_detections([_gt([CAT], [0])], [_dt([CAT], [0], [0.9])], ["cat"], 300)
    assert capsys.readouterr().out == ""


def test_module_example_runs():
    failures, _ = doctest.testmod(coco_evaluation)
    assert failures == 0


@pytest.mark.parametrize(
    "ground_truth, detections, match",
    [
        ([_gt([CAT], [0])], [], "1 ground-truth images but 0 detection"),
        ([], [], "no images"),
        ([{"boxes": np.zeros((1, 5)), "classes": [0]}], [_dt([], [], [])], r"\[num_boxes, 4\]"),
        ([_gt([CAT], [0, 1])], [_dt([], [], [])], "'classes' has 2 entries for 1 boxes"),
        ([_gt([CAT], [2])], [_dt([], [], [])], r"class 2, outside \[0, 2\)"),
        ([_gt([CAT], [0])], [_dt([CAT], [5], [0.9])], r"detections\[0\]: box 0 has class 5"),
        ([_gt([CAT], [0.5])], [_dt([], [], [])], "must be integers"),
        ([_gt([[10, 10, 50, 50]], [0])], [_dt([], [], [])], "pixels, not normalised"),
        ([_gt([[0.1, 0.5, 0.4, 0.2]], [1])], [_dt([], [], [])], r"\(class 1\) has xmax <= xmin"),
        ([_gt([CAT], [0])], [_dt([[0.5, 0.1, 0.2, 0.4]], [0], [0.9])], "has ymax < ymin"),
        ([_gt([CAT], [0])], [_dt([[5, 5, 90, 90]], [0], [0.9])], "pixels, not normalised"),
        ([_gt([CAT], [0])], [_dt([CAT], [0], [np.nan])], "non-finite"),
        ([_gt([CAT], [0])], [{"boxes": [CAT], "classes": [0]}], "'confidence'"),
    ],
)  # fmt: skip
def test_bad_input_is_rejected(ground_truth, detections, match):
    with pytest.raises(ValueError, match=match):
        evaluate_detections(ground_truth, detections, ["cat", "dog"], image_size=300)


@pytest.mark.parametrize(
    "class_names, image_size, match",
    [
        ([], 300, "class_names is empty"),
        (["cat"], 0, "must be positive"),
        (["cat"], (300, 300, 3), "image_size must be an int"),
    ],
)
def test_bad_names_and_sizes_are_rejected(class_names, image_size, match):
    with pytest.raises(ValueError, match=match):
        evaluate_detections([_gt([CAT], [0])], [_dt([], [], [])], class_names, image_size)


def test_unbatch_detections_rejects_bad_input():
    with pytest.raises(ValueError, match="missing key"):
        unbatch_detections({"boxes": np.zeros((1, 2, 4))})
    with pytest.raises(ValueError, match=r"must lie in \[0, 2\]"):
        unbatch_detections({
            "boxes": np.zeros((1, 2, 4)), "classes": np.zeros((1, 2)),
            "confidence": np.zeros((1, 2)), "num_detections": [3],
        })  # fmt: skip
