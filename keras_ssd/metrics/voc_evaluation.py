"""Pascal VOC average precision: the 2007 11-point AP and the all-point area (VOC2010+).

Matching follows the VOC development kit (`VOCevaldet.m`): per class, detections of all
images are taken by decreasing confidence; each one is matched to the ground-truth box of
its image and class with the highest IoU; IoU >= 0.5 with a box not matched before is a true
positive, with a box already matched a false positive (a duplicate), below 0.5 a false
positive. A detection matched to a `difficult` box counts as neither, and `difficult` boxes
are not in the recall's denominator.

Differences from the devkit: boxes are normalised continuous coordinates, so areas have no
"+1 pixel" term; the IoU test is `>=` as in `VOCevaldet.m` and COCO (py-faster-rcnn's
`voc_eval.py` uses `>`).

COCO's AP50 (`coco_evaluation.evaluate_detections`) differs in two ways: it samples the
interpolated precision at 101 recall levels `0, 0.01, ..., 1` where the all-point AP
integrates it exactly, and it matches each detection to the best *unmatched* box. With
`n` ground-truth boxes at recall multiples of `1/n`, `n` = 100 and well separated boxes,
`AP50_coco = (100 · AP_all_point + p_max) / 101`, so the two differ by at most 1/101
(tests/metrics/test_voc_evaluation.py checks it against pycocotools).

Example:

>>> report = evaluate_voc(
...     ground_truth=[{"boxes": [[0.1, 0.1, 0.5, 0.5], [0.6, 0.6, 0.9, 0.9]], "classes": [0, 1]}],
...     detections=[{"boxes": [[0.1, 0.1, 0.5, 0.5]], "classes": [0], "confidence": [0.9]}],
...     class_names=["cat", "dog"],
... )
>>> print(report.format_table())
class    boxes  VOC07 AP50    VOC AP50
--------------------------------------
cat          1       1.000       1.000
dog          1       0.000       0.000
--------------------------------------
mean         2       0.500       0.500
"""

import dataclasses
from collections.abc import Mapping

import numpy as np

from keras_ssd.metrics.class_table import format_class_table
from keras_ssd.metrics.coco_evaluation import _nanmean
from keras_ssd.metrics.coco_evaluation import _parse_ground_truth
from keras_ssd.metrics.coco_evaluation import _parse_detections
from keras_ssd.metrics.coco_evaluation import unbatch_detections

ELEVEN_POINTS = np.linspace(0.0, 1.0, 11)


def average_precision(recall, precision, eleven_point=False):
    """Area under a precision-recall curve, VOC style.

    Args:
        recall: float sequence `[n]`, non-decreasing (detections by decreasing score).
        precision: float sequence `[n]`, the precision at each of those points.
        eleven_point: bool. VOC2007's mean of the interpolated precision
            `max(precision[recall >= t])` at `t = 0, 0.1, ..., 1` (0 where recall never
            reaches `t`). Otherwise the all-point area (VOC2010+): the area under the
            precision envelope (its running maximum from the right) as a step function
            of recall. Defaults to False.

    Returns:
        float in `[0, 1]`; 0 for an empty curve.

    Example:

    >>> round(average_precision([0.5, 1.0], [1.0, 0.5]), 6)
    0.75
    """
    recall = np.asarray(recall, dtype=np.float64).reshape(-1)
    precision = np.asarray(precision, dtype=np.float64).reshape(-1)
    if recall.shape != precision.shape:
        raise ValueError(
            f"average_precision: recall {recall.shape} and precision {precision.shape} "
            "must have the same length."
        )
    if recall.size == 0:
        return 0.0
    if eleven_point:
        return float(np.mean([
            precision[recall >= t].max() if np.any(recall >= t) else 0.0 for t in ELEVEN_POINTS
        ]))  # fmt: skip
    recall = np.concatenate([[0.0], recall, [1.0]])
    envelope = np.maximum.accumulate(np.concatenate([[0.0], precision, [0.0]])[::-1])[::-1]
    steps = np.flatnonzero(recall[1:] != recall[:-1]) + 1
    return float(np.sum((recall[steps] - recall[steps - 1]) * envelope[steps]))


@dataclasses.dataclass(frozen=True)
class VOCReport:
    """Result of `evaluate_voc`.

    Attributes:
        summary: dict with `"mAP_11point"` and `"mAP_all_point"`, means over the classes
            that have (non-difficult) ground truth, and `"iou_threshold"`.
        per_class: list of dicts in class-id order: `"class_id"`, `"name"`, `"num_boxes"`
            (non-difficult boxes), `"AP_11point"`, `"AP_all_point"` (NaN without ground
            truth), and the curve `"recall"`, `"precision"` (NumPy arrays, one point per
            counted detection).
    """

    summary: dict
    per_class: list

    def format_table(self) -> str:
        """Formats the per-class VOC APs as a plain-text table (no trailing newline)."""
        return format_class_table(
            self.per_class,
            [("VOC07 AP50", "AP_11point"), ("VOC AP50", "AP_all_point")],
            [self.summary["mAP_11point"], self.summary["mAP_all_point"]],
        )


def evaluate_voc(ground_truth, detections, class_names, iou_threshold=0.5):
    """Pascal VOC AP per class, 11-point (VOC2007) and all-point (VOC2010+).

    Args:
        ground_truth: list with one dict per image: `"boxes"` `[n, 4]` normalised yxyx,
            `"classes"` `[n]` (-1 rows are padding and dropped), optional `"difficult"`
            `[n]` bool. A padded batch dict (`"boxes"` `[batch, max_boxes, 4]`, ...) is
            accepted too.
        detections: list with one dict per image, in the same order: `"boxes"`,
            `"classes"`, `"confidence"` (rows with class or confidence -1 are padding),
            or the batched `SSD.predict` dict.
        class_names: sequence of str, one per class.
        iou_threshold: float in `(0, 1]`. Minimum IoU of a match. Defaults to 0.5.

    Returns:
        `VOCReport`.

    Raises:
        ValueError: if the inputs disagree in length, a box is not a valid normalised yxyx
            box, a class is outside `[0, num_classes)`, or `iou_threshold` is out of range.
    """
    if not 0.0 < float(iou_threshold) <= 1.0:
        raise ValueError(f"evaluate_voc: iou_threshold must be in (0, 1], got {iou_threshold}.")
    if isinstance(ground_truth, Mapping):
        ground_truth = _unbatch(ground_truth)
    if isinstance(detections, Mapping):
        detections = unbatch_detections(detections)
    class_names = [str(name) for name in class_names]
    num_classes = len(class_names)
    if num_classes == 0:
        raise ValueError("evaluate_voc: class_names is empty; give one name per class.")
    if len(ground_truth) != len(detections):
        raise ValueError(
            f"evaluate_voc: {len(ground_truth)} ground-truth images but {len(detections)} "
            "detection entries; give one entry per image, in the same order."
        )
    truths = [_parse_truth(t, f"ground_truth[{i}]", num_classes) for i, t in enumerate(ground_truth)]
    founds = [
        _parse_detections(d, f"detections[{i}]", num_classes) for i, d in enumerate(detections)
    ]
    rows = []
    for k, name in enumerate(class_names):
        recall, precision, num_boxes = _class_curve(truths, founds, k, float(iou_threshold))
        defined = num_boxes > 0
        rows.append({
            "class_id": k, "name": name, "num_boxes": num_boxes,
            "AP_11point": average_precision(recall, precision, True) if defined else np.nan,
            "AP_all_point": average_precision(recall, precision) if defined else np.nan,
            "recall": recall, "precision": precision,
        })  # fmt: skip
    summary = {
        "mAP_11point": _nanmean([row["AP_11point"] for row in rows]),
        "mAP_all_point": _nanmean([row["AP_all_point"] for row in rows]),
        "iou_threshold": float(iou_threshold),
    }
    return VOCReport(summary=summary, per_class=rows)


def _class_curve(truths, founds, class_id, iou_threshold):
    """Precision and recall of one class over all images (VOC devkit matching)."""
    scores, image_ids, boxes = [], [], []
    num_boxes = 0
    for image, (box, label, score) in enumerate(founds):
        same = label == class_id
        scores.append(score[same])
        boxes.append(box[same])
        image_ids.append(np.full(int(same.sum()), image))
    for gt_boxes, gt_classes, difficult in truths:
        num_boxes += int(np.sum((gt_classes == class_id) & ~difficult))
    scores, image_ids, boxes = np.concatenate(scores), np.concatenate(image_ids), np.concatenate(boxes)
    order = np.argsort(-scores, kind="stable")
    matched = [np.zeros(np.sum(t[1] == class_id), bool) for t in truths]
    outcome = []  # 1 true positive, 0 false positive; difficult matches are left out
    for index in order:
        gt_boxes, gt_classes, difficult = truths[image_ids[index]]
        same = gt_classes == class_id
        candidates, hard = gt_boxes[same], difficult[same]
        if candidates.shape[0] == 0:
            outcome.append(0)
            continue
        iou = _iou(boxes[index], candidates)
        best = int(np.argmax(iou))
        if iou[best] < iou_threshold:
            outcome.append(0)
        elif hard[best]:
            continue
        elif not matched[image_ids[index]][best]:
            matched[image_ids[index]][best] = True
            outcome.append(1)
        else:
            outcome.append(0)
    true_positives = np.cumsum(np.asarray(outcome, dtype=np.float64))
    counted = np.arange(1, len(outcome) + 1, dtype=np.float64)
    precision = true_positives / np.maximum(counted, 1.0)
    recall = true_positives / num_boxes if num_boxes else np.zeros_like(true_positives)
    return recall, precision, num_boxes


def _iou(box, boxes):
    ymin = np.maximum(box[0], boxes[:, 0])
    xmin = np.maximum(box[1], boxes[:, 1])
    ymax = np.minimum(box[2], boxes[:, 2])
    xmax = np.minimum(box[3], boxes[:, 3])
    intersection = np.clip(ymax - ymin, 0, None) * np.clip(xmax - xmin, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - intersection
    return np.where(union > 0, intersection / np.where(union > 0, union, 1.0), 0.0)


def _unbatch(batched):
    if "boxes" not in batched or "classes" not in batched:
        raise ValueError(
            f"evaluate_voc: a batched ground_truth dict needs 'boxes' and 'classes', got keys "
            f"{sorted(batched)}."
        )
    boxes, classes = np.asarray(batched["boxes"]), np.asarray(batched["classes"])
    if boxes.ndim != 3 or classes.shape != boxes.shape[:2]:
        raise ValueError(
            f"evaluate_voc: batched ground_truth needs 'boxes' [batch, max_boxes, 4] and "
            f"'classes' [batch, max_boxes], got {boxes.shape} and {classes.shape}."
        )
    difficult = np.asarray(batched["difficult"]) if "difficult" in batched else None
    return [
        {"boxes": boxes[i], "classes": classes[i]}
        | ({} if difficult is None else {"difficult": difficult[i]})
        for i in range(boxes.shape[0])
    ]


def _parse_truth(truth, where, num_classes):
    return _parse_ground_truth(truth, where, num_classes, flag="difficult")
