"""Tests of Pascal VOC AP: hand-computed curves, difficult boxes, and pycocotools' AP50."""

import doctest

import numpy as np
import pytest

from keras_ssd.metrics import voc_evaluation
from keras_ssd.metrics.coco_evaluation import evaluate_detections
from keras_ssd.metrics.voc_evaluation import average_precision
from keras_ssd.metrics.voc_evaluation import evaluate_voc

# Four ground-truth boxes in a row; detections exactly on them or in the empty lower half.
BOXES = np.array([[0.1, 0.05 + 0.24 * i, 0.3, 0.2 + 0.24 * i] for i in range(4)])
EMPTY = np.array([[0.6, 0.05 + 0.24 * i, 0.8, 0.2 + 0.24 * i] for i in range(4)])


def _one_image(detected, scores, difficult=None):
    truth = {"boxes": BOXES, "classes": np.zeros(4, int)}
    if difficult is not None:
        truth["difficult"] = difficult
    found = {"boxes": np.asarray(detected), "classes": np.zeros(len(detected), int), "confidence": scores}
    return [truth], [found]


def test_textbook_eleven_point_and_all_point():
    # 4 boxes; ranked detections T, F, T, F, F, T:
    # precision 1, 1/2, 2/3, 1/2, 2/5, 1/2 at recall 1/4, 1/4, 1/2, 1/2, 1/2, 3/4.
    # 11-point: p_interp = 1 at t = 0, .1, .2; 2/3 at .3, .4, .5; 1/2 at .6, .7; 0 at .8, .9, 1
    #   -> (3 + 3 * 2/3 + 2 * 1/2) / 11 = 6/11.
    # All-point: 1/4 * 1 + 1/4 * 2/3 + 1/4 * 1/2 = 13/24.
    recall = [0.25, 0.25, 0.5, 0.5, 0.5, 0.75]
    precision = [1, 1 / 2, 2 / 3, 1 / 2, 2 / 5, 1 / 2]
    assert average_precision(recall, precision, eleven_point=True) == pytest.approx(6 / 11)
    assert average_precision(recall, precision) == pytest.approx(13 / 24)

    detected = [BOXES[0], EMPTY[0], BOXES[1], EMPTY[1], EMPTY[2], BOXES[2]]
    truth, found = _one_image(detected, [0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    row = evaluate_voc(truth, found, ["thing"]).per_class[0]
    np.testing.assert_allclose(row["recall"], recall)
    np.testing.assert_allclose(row["precision"], precision)
    assert row["AP_11point"] == pytest.approx(6 / 11)
    assert row["AP_all_point"] == pytest.approx(13 / 24)


def test_perfect_detections_and_a_class_without_ground_truth():
    truth, found = _one_image(BOXES, [0.9, 0.8, 0.7, 0.6])
    report = evaluate_voc(truth, found, ["thing", "absent"])
    assert report.per_class[0]["AP_11point"] == 1.0 and report.per_class[0]["AP_all_point"] == 1.0
    assert np.isnan(report.per_class[1]["AP_all_point"])
    assert report.summary["mAP_11point"] == 1.0 and report.summary["mAP_all_point"] == 1.0
    assert "absent" in report.format_table()


def test_difficult_boxes_are_neither_true_nor_false_positives():
    # Detections on box 1 (difficult), in the empty half, on box 0; boxes 2 and 3 missed.
    detected = [BOXES[1], EMPTY[0], BOXES[0]]
    scores = [0.9, 0.8, 0.7]
    truth, found = _one_image(detected, scores, difficult=[False, True, True, True])
    row = evaluate_voc(truth, found, ["thing"]).per_class[0]
    # One counted box; F then T: precision 1/2 at recall 1.
    assert row["num_boxes"] == 1
    np.testing.assert_allclose(row["precision"], [0.0, 0.5])
    assert row["AP_all_point"] == pytest.approx(0.5)
    # Without the flag: T, F, T of 4 boxes -> 1/4 * 1 + 1/4 * 2/3.
    truth, found = _one_image(detected, scores)
    assert evaluate_voc(truth, found, ["thing"]).per_class[0]["AP_all_point"] == pytest.approx(
        0.25 + 0.25 * 2 / 3
    )


def test_duplicates_and_low_overlap_are_false_positives():
    shifted = BOXES[0] + [0.0, 0.1, 0.0, 0.1]  # IoU 0.5 / 1.5 = 1/3 with box 0
    detected = [BOXES[0], BOXES[0], shifted]
    truth, found = _one_image(detected, [0.9, 0.8, 0.7])
    row = evaluate_voc(truth, found, ["thing"]).per_class[0]
    np.testing.assert_allclose(row["precision"], [1.0, 0.5, 1 / 3])
    np.testing.assert_allclose(row["recall"], [0.25, 0.25, 0.25])


def _grid_case(seed=0):
    """20 images x 5 separated boxes = 100 boxes; 80 found (IoU > 0.7), 30 false positives."""
    rng = np.random.default_rng(seed)
    cells = np.array([[0.02 + 0.19 * i, 0.1, 0.17 + 0.19 * i, 0.4] for i in range(5)])
    empty = cells + [0.0, 0.5, 0.0, 0.5]
    found_ids = set(rng.choice(100, 80, replace=False).tolist())
    false_ids = rng.choice(100, 30, replace=False)
    scores = rng.permutation(110) / 110 + 0.001
    truth, detections, score_index = [], [], 0
    for image in range(20):
        boxes, classes, confidence = [], [], []
        for cell in range(5):
            if image * 5 + cell in found_ids:
                boxes.append(cells[cell] + rng.uniform(-0.005, 0.005, 4))
            if image * 5 + cell in false_ids:
                boxes.append(empty[cell])
        for box in boxes:
            classes.append(0)
            confidence.append(scores[score_index])
            score_index += 1
        truth.append({"boxes": cells, "classes": np.zeros(5, int)})
        detections.append({"boxes": np.reshape(boxes, (-1, 4)), "classes": classes, "confidence": confidence})
    return truth, detections


def test_all_point_ap_and_pycocotools_ap50_agree_within_one_over_101():
    # COCO samples the interpolated precision at recall 0, 0.01, ..., 1 (101 points) where
    # the all-point AP integrates it. With 100 boxes the recall steps are the sampling grid,
    # so COCO = (100 * all-point + p_max) / 101 (exact here; elsewhere float recall can
    # miss a grid point by one ulp and move one sample).
    truth, detections = _grid_case()
    voc = evaluate_voc(truth, detections, ["thing"]).per_class[0]
    coco = evaluate_detections(truth, detections, ["thing"], image_size=300).summary["AP50"]
    assert 0.3 < voc["AP_all_point"] < 0.9
    assert abs(coco - voc["AP_all_point"]) <= 1 / 101 + 1e-9
    expected = (100 * voc["AP_all_point"] + voc["precision"].max()) / 101
    assert coco == pytest.approx(expected, abs=1e-9)


def test_batched_inputs_and_bad_input():
    truth = {"boxes": BOXES[None], "classes": np.zeros((1, 4), int), "difficult": np.zeros((1, 4), bool)}
    found = {"boxes": BOXES[None], "classes": np.zeros((1, 4), int),
             "confidence": np.ones((1, 4)), "num_detections": np.array([4])}  # fmt: skip
    assert evaluate_voc(truth, found, ["thing"]).summary["mAP_all_point"] == 1.0
    with pytest.raises(ValueError, match="iou_threshold"):
        evaluate_voc(truth, found, ["thing"], iou_threshold=0)
    with pytest.raises(ValueError, match="class_names is empty"):
        evaluate_voc(truth, found, [])
    with pytest.raises(ValueError, match="1 ground-truth images but 2"):
        evaluate_voc([{"boxes": BOXES, "classes": [0] * 4}], [found, found], ["a"])
    nothing = [{"boxes": [], "classes": [], "confidence": []}]
    with pytest.raises(ValueError, match="outside"):
        evaluate_voc([{"boxes": BOXES, "classes": [0, 0, 0, 3]}], nothing, ["a"])
    with pytest.raises(ValueError, match="xyxy"):
        evaluate_voc([{"boxes": [[0.5, 0.1, 0.2, 0.3]], "classes": [0]}], nothing, ["a"])
    with pytest.raises(ValueError, match="same length"):
        average_precision([0.1], [1.0, 0.5])


def test_module_examples():
    assert doctest.testmod(voc_evaluation).failed == 0
