"""The detection confusion matrix: which classes are mistaken for which.

For every ground-truth box of class `i`, the class `j` of the detection matched to it;
plus a "missed" column (ground truth that no detection found) and a "background" row
(detections that match no ground truth). Computed in NumPy from per-image boxes in the
package convention (normalised `[ymin, xmin, ymax, xmax]`, see `docs/conventions.md`).

Matching, image by image: the detections with a score at or above `score_threshold` are
taken best score first; each is matched to the still unmatched ground-truth box of
**any** class with which it has the highest IoU, if that IoU is at least
`iou_threshold`. Matching ignores the class on purpose: a "dog" detection on a "cat"
box is the confusion this table shows. A ground-truth box of weight 0 is an ignore
region (docs/conventions.md): it is neither matched nor missed, and a detection that
only overlaps such a box is not counted as background either.

Example:

>>> confusion = detection_confusion_matrix(
...     ground_truth=[{"boxes": [[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]], "classes": [0, 1]}],
...     detections=[{"boxes": [[0.0, 0.0, 0.5, 0.5]], "classes": [1], "scores": [0.9]}],
...     class_names=["cat", "dog"],
... )
>>> confusion.matrix.tolist()
[[0, 1, 0], [0, 0, 1], [0, 0, 0]]
>>> print(confusion.format_table())
truth \\ detected  cat  dog  missed
----------------------------------
cat                 0    1       0
dog                 0    0       1
background          0    0       -
"""

import dataclasses
from collections.abc import Mapping

import numpy as np

from keras_ssd.metrics.coco_evaluation import _as_boxes
from keras_ssd.metrics.coco_evaluation import _as_classes
from keras_ssd.metrics.coco_evaluation import _as_column
from keras_ssd.metrics.coco_evaluation import _check_boxes
from keras_ssd.metrics.coco_evaluation import _parse_detections
from keras_ssd.metrics.coco_evaluation import unbatch_detections

BACKGROUND = "background"
MISSED = "missed"


@dataclasses.dataclass(frozen=True, eq=False)
class ConfusionMatrix:
    """Result of `detection_confusion_matrix`.

    Attributes:
        matrix: int64 NumPy array `[num_classes + 1, num_classes + 1]`. `matrix[i, j]`
            counts ground-truth boxes of class `i` matched to a detection of class `j`;
            `matrix[i, num_classes]` the boxes of class `i` that were missed;
            `matrix[num_classes, j]` the detections of class `j` that matched no ground
            truth (background). `matrix[num_classes, num_classes]` is always 0.
        class_names: list of `num_classes` str.
        score_threshold: float. Detections scoring below it were left out.
        iou_threshold: float. Minimum IoU of a match.
    """

    matrix: np.ndarray
    class_names: list
    score_threshold: float
    iou_threshold: float

    @property
    def num_classes(self):
        return len(self.class_names)

    def format_table(self):
        """Formats the matrix as plain text: rows are ground truth, columns detections.

        Returns:
            str. A header, one row per class and a "background" row, no trailing newline;
            the always-empty background/missed cell shows `-`.
        """
        corner = "truth \\ detected"
        rows = [str(name) for name in self.class_names] + [BACKGROUND]
        columns = [str(name) for name in self.class_names] + [MISSED]
        first = max(len(corner), *(len(row) for row in rows))
        widths = [max(3, len(column), len(str(int(self.matrix[:, j].max(initial=0)))))
                  for j, column in enumerate(columns)]  # fmt: skip
        header = f"{corner:<{first}}" + "".join(f"  {c:>{w}}" for c, w in zip(columns, widths))
        lines = [header, "-" * len(header)]
        last = self.num_classes
        for i, row in enumerate(rows):
            cells = [
                "-" if i == last and j == last else str(int(self.matrix[i, j]))
                for j in range(len(columns))
            ]
            lines.append(f"{row:<{first}}" + "".join(f"  {c:>{w}}" for c, w in zip(cells, widths)))
        return "\n".join(lines)


def detection_confusion_matrix(
    ground_truth, detections, class_names, score_threshold=0.5, iou_threshold=0.5
):
    """Counts which class each ground-truth box was detected as (see the module docstring).

    Args:
        ground_truth: list with one dict per image: `"boxes"` `[n, 4]` normalised yxyx,
            `"classes"` `[n]` int in `[0, num_classes)` (-1 rows are padding and dropped),
            optional `"weights"` `[n]` (a box of weight 0 is ignored). The padded batch
            dict of `SSD.fit` (`"boxes"` `[batch, max_boxes, 4]`, ...) is accepted too.
        detections: list with one dict per image, in the same order: `"boxes"` `[m, 4]`
            normalised yxyx, `"classes"` `[m]` and `"scores"` (or `"confidence"`) `[m]`;
            rows of class -1 are padding. The batched `SSD.predict` dict is accepted too.
        class_names: sequence of str, one per class; its length is `num_classes`.
        score_threshold: float in `[0, 1]`. Detections scoring below it are left out.
            Defaults to 0.5.
        iou_threshold: float in `(0, 1]`. Minimum IoU of a detection and the box it is
            matched to. Defaults to 0.5.

    Returns:
        A `ConfusionMatrix` (`.matrix` `[num_classes + 1, num_classes + 1]` int64,
        `.format_table()`).

    Raises:
        ValueError: if a threshold is out of range, the inputs disagree in length, or a
            box, class or weight is invalid (naming the image and the box).
    """
    class_names = [str(name) for name in class_names]
    num_classes = len(class_names)
    if num_classes == 0:
        raise ValueError("detection_confusion_matrix: class_names is empty; give one name per class.")
    score_threshold, iou_threshold = check_thresholds(score_threshold, iou_threshold)
    if isinstance(ground_truth, Mapping):
        ground_truth = _unbatch(ground_truth)
    if isinstance(detections, Mapping):
        detections = unbatch_detections(_with_confidence(detections, "detections"))
    ground_truth, detections = list(ground_truth), list(detections)
    if len(ground_truth) != len(detections):
        raise ValueError(
            f"detection_confusion_matrix: {len(ground_truth)} ground-truth images but "
            f"{len(detections)} detection entries; give one entry per image, in the same order."
        )
    matrix = np.zeros((num_classes + 1, num_classes + 1), np.int64)
    for index, (truth, found) in enumerate(zip(ground_truth, detections)):
        gt_boxes, gt_classes, ignored = _parse_truth(truth, f"ground_truth[{index}]", num_classes)
        where = f"detections[{index}]"
        boxes, classes, scores = _parse_detections(_with_confidence(found, where), where, num_classes)
        keep = scores >= score_threshold
        _match_image(
            matrix, gt_boxes, gt_classes, ignored, boxes[keep], classes[keep], scores[keep],
            iou_threshold,
        )  # fmt: skip
    return ConfusionMatrix(matrix, class_names, score_threshold, iou_threshold)


def check_thresholds(score_threshold, iou_threshold):
    """Checks the thresholds of `detection_confusion_matrix` (callers check them early).

    Returns:
        The tuple `(score_threshold, iou_threshold)` as floats.

    Raises:
        ValueError: `score_threshold` outside `[0, 1]` or `iou_threshold` outside `(0, 1]`.
    """
    return (
        _threshold(score_threshold, "score_threshold", 0.0, closed_low=True),
        _threshold(iou_threshold, "iou_threshold", 0.0, closed_low=False),
    )


def _match_image(matrix, gt_boxes, gt_classes, ignored, boxes, classes, scores, iou_threshold):
    """Adds one image's matches to `matrix` (greedy, best score first)."""
    background = matrix.shape[0] - 1
    iou = pairwise_iou(boxes, gt_boxes)
    matched = np.zeros(gt_boxes.shape[0], bool)
    # A stable sort keeps the given order among equal scores.
    for d in np.argsort(-scores, kind="stable"):
        candidates = np.where(~matched & ~ignored, iou[d], -1.0)
        g = int(np.argmax(candidates)) if candidates.size else -1
        if g >= 0 and candidates[g] >= iou_threshold:
            matched[g] = True
            matrix[gt_classes[g], classes[d]] += 1
        elif not np.any(ignored & (iou[d] >= iou_threshold)):
            matrix[background, classes[d]] += 1
    missed = ~matched & ~ignored
    np.add.at(matrix[:, -1], gt_classes[missed], 1)


def pairwise_iou(boxes, other):
    """IoU of every box in `boxes` `[n, 4]` with every box in `other` `[m, 4]` (yxyx).

    Returns:
        float64 `[n, m]`; 0 where the union is empty.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    other = np.asarray(other, np.float64).reshape(-1, 4)
    low = np.maximum(boxes[:, None, :2], other[None, :, :2])
    high = np.minimum(boxes[:, None, 2:], other[None, :, 2:])
    intersection = np.prod(np.clip(high - low, 0.0, None), axis=-1)

    def area(b):
        return np.prod(np.clip(b[:, 2:] - b[:, :2], 0.0, None), axis=-1)

    union = area(boxes)[:, None] + area(other)[None, :] - intersection
    return np.divide(intersection, union, out=np.zeros_like(intersection), where=union > 0)


def _parse_truth(truth, where, num_classes):
    if not isinstance(truth, Mapping) or "boxes" not in truth or "classes" not in truth:
        raise ValueError(f"{where}: expected a dict with 'boxes', 'classes' and optional 'weights'.")
    boxes = _as_boxes(truth["boxes"], where)
    labels = _as_column(truth["classes"], where, "classes", boxes.shape[0])
    weights = truth.get("weights")
    weights = np.ones(boxes.shape[0]) if weights is None else _as_column(
        weights, where, "weights", boxes.shape[0]
    )
    keep = labels != -1
    boxes, labels, weights = boxes[keep], labels[keep], weights[keep]
    classes = _as_classes(labels, where, num_classes)
    bad = np.flatnonzero(~np.isfinite(weights) | (weights < 0))
    if bad.size:
        raise ValueError(
            f"{where}: box {bad[0]} has weight {weights[bad[0]]}; weights must be finite and "
            f">= 0 (0 marks an ignored box). {bad.size} of {weights.size} boxes have this problem."
        )
    _check_boxes(boxes, classes, where, 0.0, 1.0, allow_empty=False)
    return boxes, classes, weights == 0


def _with_confidence(found, where):
    """Detections with `"confidence"`, given it or `"scores"` (the `Detector` name)."""
    if isinstance(found, Mapping) and "confidence" not in found and "scores" in found:
        found = {**found, "confidence": found["scores"]}
    if not isinstance(found, Mapping) or "confidence" not in found:
        raise ValueError(f"{where}: expected a dict with 'boxes', 'classes' and 'scores' (or 'confidence').")
    return found


def _unbatch(batched):
    if "boxes" not in batched or "classes" not in batched:
        raise ValueError(
            f"detection_confusion_matrix: a batched ground_truth dict needs 'boxes' and "
            f"'classes', got keys {sorted(batched)}."
        )
    boxes = np.asarray(batched["boxes"])
    if boxes.ndim != 3:
        raise ValueError(
            f"detection_confusion_matrix: batched ground_truth 'boxes' must be "
            f"[batch, max_boxes, 4], got shape {boxes.shape}."
        )
    keys = [key for key in ("boxes", "classes", "weights") if key in batched]
    return [{key: np.asarray(batched[key])[i] for key in keys} for i in range(boxes.shape[0])]


def _threshold(value, name, low, closed_low):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ValueError(f"detection_confusion_matrix: {name} must be a number, got {value!r}.")
    value = float(value)
    if not (value >= low if closed_low else value > low) or not value <= 1.0:
        interval = f"[{low:g}, 1]" if closed_low else f"({low:g}, 1]"
        raise ValueError(f"detection_confusion_matrix: {name} must lie in {interval}, got {value}.")
    return value
