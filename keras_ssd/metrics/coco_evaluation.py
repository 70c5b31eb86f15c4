"""COCO-style detection evaluation with pycocotools, with average precision per class.

Boxes come in the package convention (normalised `[ymin, xmin, ymax, xmax]`, see
`docs/conventions.md`) and are converted here, at the boundary, into COCO's absolute
`[x, y, width, height]` in pixels. Object class `k` becomes COCO category `k + 1`, because
COCO tools treat category id 0 as unusable.

Example:

>>> report = evaluate_detections(
...     ground_truth=[{"boxes": [[0.1, 0.1, 0.5, 0.5], [0.6, 0.6, 0.9, 0.9]], "classes": [0, 1]}],
...     detections=[{"boxes": [[0.1, 0.1, 0.5, 0.5]], "classes": [0], "confidence": [0.9]}],
...     class_names=["cat", "dog"],
...     image_size=(300, 300),
... )
>>> print(report.format_table())
class    boxes     AP50       AP
--------------------------------
cat          1    1.000    1.000
dog          1    0.000    0.000
--------------------------------
mean         2    0.500    0.500
>>> round(report.summary["AP50"], 6)
0.5
"""

import contextlib
import dataclasses
import io
from collections.abc import Mapping

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from keras_ssd.metrics.class_table import format_class_table

SUMMARY_KEYS = (
    "AP", "AP50", "AP75", "APs", "APm", "APl",
    "AR1", "AR10", "AR100", "ARs", "ARm", "ARl",
)  # fmt: skip
"""Names of the twelve numbers of `COCOeval.stats`, in its order."""
RECALL_THRESHOLDS = np.linspace(0.0, 1.0, 101)
"""The recalls at which COCO samples precision (`DetectionReport.precision50`)."""

_TOLERANCE = 1e-6
# A detector may put a box slightly outside the image (it is clipped), but a coordinate more
# than one image size away can only come from pixel coordinates passed by mistake.
_DETECTION_RANGE = (-1.0, 2.0)


@dataclasses.dataclass(frozen=True)
class DetectionReport:
    """Result of `evaluate_detections`.

    Attributes:
        summary: dict. The twelve pycocotools numbers under the names of `SUMMARY_KEYS`
            (`"AP"` is AP@[.5:.95], `"AP50"`, `"AP75"`, the area ranges `"APs"`, `"APm"`,
            `"APl"` and the recalls `"AR1"` ... `"ARl"`); -1 where COCO leaves a number
            undefined (for example `"APl"` when no ground-truth box is large).
        per_class: list of dicts, one per class in class-id order, with keys `"class_id"`
            (int), `"name"` (str), `"num_boxes"` (non-crowd ground-truth boxes),
            `"AP"` (AP@[.5:.95]), `"AP50"`, `"recall50"` (the recall reached at IoU 0.5 with
            100 detections per image) and `"AR100"` (COCO's AR@100, that recall averaged
            over the IoU thresholds .5:.95); all NaN for a class without ground truth.
        precision50: float64 NumPy array `[num_classes, 101]` or None. The precision at
            IoU 0.5 of each class at the recalls `RECALL_THRESHOLDS` (COCO's interpolated
            precision-recall curve, whose mean is `"AP50"`); -1 for a class without
            ground truth; 0 at recalls never reached.
    """

    summary: dict
    per_class: list
    precision50: np.ndarray = dataclasses.field(default=None, compare=False, repr=False)

    def format_table(self) -> str:
        """Formats the per-class APs as a plain-text table.

        The last row is the mean over classes that have ground truth (for AP it equals
        `summary["AP"]`); a class without ground truth shows `-`.

        Returns:
            str. One line per class plus a header and a mean row, no trailing newline.
        """
        return format_class_table(
            self.per_class,
            [("AP50", "AP50"), ("AP", "AP")],
            [_nanmean([row[key] for row in self.per_class]) for key in ("AP50", "AP")],
        )


def unbatch_detections(batched):
    """Splits the batched keras-cv detection dict into one dict per image.

    Args:
        batched: dict with `"boxes"` `[batch, max_detections, 4]`, `"classes"` and
            `"confidence"` `[batch, max_detections]` and, optionally, `"num_detections"`
            `[batch]` (the `SSD.predict` output). NumPy arrays or tensors.

    Returns:
        list of `batch` dicts with `"boxes"` `[n, 4]`, `"classes"` `[n]` and
        `"confidence"` `[n]` NumPy arrays, keeping the first `num_detections[i]` rows of
        image `i` (all rows when `"num_detections"` is absent; padding rows with class -1
        are dropped later by `evaluate_detections`).

    Raises:
        ValueError: if a key is missing or the shapes do not agree.
    """
    missing = [key for key in ("boxes", "classes", "confidence") if key not in batched]
    if missing:
        raise ValueError(
            f"unbatch_detections: missing key(s) {missing}; expected the keras-cv dict with "
            f"'boxes', 'classes', 'confidence' and optionally 'num_detections', "
            f"got keys {sorted(batched)}."
        )
    boxes = np.asarray(batched["boxes"])
    classes = np.asarray(batched["classes"])
    confidence = np.asarray(batched["confidence"])
    if boxes.ndim != 3 or boxes.shape[-1] != 4:
        raise ValueError(
            f"unbatch_detections: 'boxes' must have shape [batch, max_detections, 4], "
            f"got {boxes.shape}."
        )
    if classes.shape != boxes.shape[:2] or confidence.shape != boxes.shape[:2]:
        raise ValueError(
            f"unbatch_detections: 'classes' {classes.shape} and 'confidence' "
            f"{confidence.shape} must both have shape {boxes.shape[:2]} (from 'boxes')."
        )
    if "num_detections" in batched:
        counts = np.asarray(batched["num_detections"]).reshape(-1)
        if counts.shape[0] != boxes.shape[0]:
            raise ValueError(
                f"unbatch_detections: 'num_detections' has {counts.shape[0]} entries "
                f"for a batch of {boxes.shape[0]}."
            )
        if np.any(counts < 0) or np.any(counts > boxes.shape[1]):
            raise ValueError(
                f"unbatch_detections: 'num_detections' {counts.tolist()} must lie in "
                f"[0, {boxes.shape[1]}] (max_detections)."
            )
    else:
        counts = np.full(boxes.shape[0], boxes.shape[1])
    return [
        {"boxes": boxes[i, :n], "classes": classes[i, :n], "confidence": confidence[i, :n]}
        for i, n in enumerate(counts.astype(int))
    ]


def evaluate_detections(ground_truth, detections, class_names, image_size):
    """Evaluates detections against ground truth with pycocotools' COCOeval (bbox).

    Args:
        ground_truth: list with one dict per image: `"boxes"` `[n, 4]` normalised yxyx,
            `"classes"` `[n]` int in `[0, num_classes)` (-1 rows are padding and dropped),
            optional `"iscrowd"` `[n]` (crowd boxes are ignored, as in COCO). A padded
            batch dict (`"boxes"` `[batch, max_boxes, 4]`, `"classes"` `[batch, max_boxes]`)
            is accepted too.
        detections: list with one dict per image, in the same order: `"boxes"` `[m, 4]`
            normalised yxyx, `"classes"` `[m]`, `"confidence"` `[m]`; rows whose class or
            confidence is -1 are padding and dropped; coordinates are clipped to the image.
            The batched `SSD.predict` dict is accepted too (see `unbatch_detections`).
        class_names: sequence of str. One name per class; its length is `num_classes`.
        image_size: int, `(height, width)` or a sequence of one `(height, width)` per image.
            The size in pixels the normalised boxes are scaled to. COCO's small / medium /
            large ranges (`"APs"`, `"APm"`, `"APl"`) are areas in pixels (32² and 96²), so
            pass the original image size for them to mean something; the other numbers do
            not depend on it.

    Returns:
        `DetectionReport` with the COCO summary, the per-class AP and AP50 (from
        `COCOeval.eval["precision"]`, area "all", 100 detections per image) and
        `format_table()`. With no detections at all every AP is 0.

    Raises:
        ValueError: if the inputs disagree in length, a box has the wrong shape or is not a
            valid normalised yxyx box, a class is outside `[0, num_classes)`, or
            `image_size` is not positive.
    """
    if isinstance(ground_truth, Mapping):
        ground_truth = _unbatch_ground_truth(ground_truth)
    if isinstance(detections, Mapping):
        detections = unbatch_detections(detections)
    class_names = [str(name) for name in class_names]
    num_classes = len(class_names)
    if num_classes == 0:
        raise ValueError("evaluate_detections: class_names is empty; give one name per class.")
    if len(ground_truth) != len(detections):
        raise ValueError(
            f"evaluate_detections: {len(ground_truth)} ground-truth images but "
            f"{len(detections)} detection entries; give one entry per image, in the same order."
        )
    if len(ground_truth) == 0:
        raise ValueError("evaluate_detections: no images to evaluate (ground_truth is empty).")
    sizes = _image_sizes(image_size, len(ground_truth))

    images, gt_annotations, dt_annotations = [], [], []
    num_boxes = np.zeros(num_classes, dtype=int)
    for index, (truth, found, (height, width)) in enumerate(zip(ground_truth, detections, sizes)):
        image_id = index + 1
        images.append({"id": image_id, "height": float(height), "width": float(width)})
        boxes, classes, iscrowd = _parse_ground_truth(truth, f"ground_truth[{index}]", num_classes)
        np.add.at(num_boxes, classes[~iscrowd], 1)
        for box, label, crowd in zip(_to_coco_xywh(boxes, height, width), classes, iscrowd):
            gt_annotations.append({
                "id": len(gt_annotations) + 1, "image_id": image_id,
                "category_id": int(label) + 1, "bbox": box, "area": box[2] * box[3],
                "iscrowd": int(crowd),
            })  # fmt: skip
        boxes, classes, scores = _parse_detections(found, f"detections[{index}]", num_classes)
        for box, label, score in zip(_to_coco_xywh(boxes, height, width), classes, scores):
            dt_annotations.append({
                "image_id": image_id, "category_id": int(label) + 1,
                "bbox": box, "score": float(score),
            })  # fmt: skip

    categories = [{"id": k + 1, "name": name} for k, name in enumerate(class_names)]
    # pycocotools prints progress on stdout; the caller prints the report it wants.
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = _make_coco(images, categories, gt_annotations)
        if dt_annotations:
            coco_dt = coco_gt.loadRes(dt_annotations)
        else:
            # loadRes indexes anns[0]; an empty result set is an empty COCO object instead.
            coco_dt = _make_coco(images, categories, [])
        evaluator = COCOeval(coco_gt, coco_dt, iouType="bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()

    summary = {key: float(value) for key, value in zip(SUMMARY_KEYS, evaluator.stats)}
    per_class, precision50 = _per_class(evaluator, class_names, num_boxes)
    return DetectionReport(summary=summary, per_class=per_class, precision50=precision50)


def _make_coco(images, categories, annotations):
    coco = COCO()
    coco.dataset = {"images": images, "categories": categories, "annotations": annotations}
    coco.createIndex()
    return coco


def _per_class(evaluator, class_names, num_boxes):
    params = evaluator.params
    # precision: [iou thresholds, recall thresholds, categories, area ranges, max dets].
    precision = evaluator.eval["precision"]
    # recall: [iou thresholds, categories, area ranges, max dets].
    recall = evaluator.eval["recall"]
    area = params.areaRngLbl.index("all")
    max_dets = params.maxDets.index(100)
    iou50 = int(np.flatnonzero(np.isclose(params.iouThrs, 0.5))[0])
    rows, curves = [], []
    for k, name in enumerate(class_names):
        category = params.catIds.index(k + 1)
        column = precision[:, :, category, area, max_dets]
        recalls = recall[:, category, area, max_dets]
        rows.append({
            "class_id": k, "name": name, "num_boxes": int(num_boxes[k]),
            "AP": _valid_mean(column), "AP50": _valid_mean(column[iou50]),
            "recall50": _valid_mean(recalls[iou50 : iou50 + 1]), "AR100": _valid_mean(recalls),
        })  # fmt: skip
        curves.append(column[iou50])
    return rows, np.asarray(curves, np.float64)


def _valid_mean(values):
    # pycocotools marks "no ground truth" with -1, as its own summarize does.
    valid = values[values > -1]
    return float(np.mean(valid)) if valid.size else float("nan")


def _nanmean(values):
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    return float(np.mean(values)) if values.size else float("nan")


def _unbatch_ground_truth(batched):
    if "boxes" not in batched or "classes" not in batched:
        raise ValueError(
            f"evaluate_detections: a batched ground_truth dict needs 'boxes' and 'classes', "
            f"got keys {sorted(batched)}."
        )
    boxes = np.asarray(batched["boxes"])
    classes = np.asarray(batched["classes"])
    if boxes.ndim != 3 or classes.shape != boxes.shape[:2]:
        raise ValueError(
            f"evaluate_detections: batched ground_truth needs 'boxes' [batch, max_boxes, 4] "
            f"and 'classes' [batch, max_boxes], got {boxes.shape} and {classes.shape}."
        )
    crowd = np.asarray(batched["iscrowd"]) if "iscrowd" in batched else None
    return [
        {"boxes": boxes[i], "classes": classes[i]}
        | ({} if crowd is None else {"iscrowd": crowd[i]})
        for i in range(boxes.shape[0])
    ]


def _image_sizes(image_size, num_images):
    sizes = np.asarray(image_size, dtype=float)
    if sizes.ndim == 0:
        sizes = np.full((num_images, 2), float(sizes))
    elif sizes.shape == (2,):
        sizes = np.tile(sizes, (num_images, 1))
    elif sizes.shape != (num_images, 2):
        raise ValueError(
            f"evaluate_detections: image_size must be an int, (height, width) or one "
            f"(height, width) per image ({num_images}), got shape {sizes.shape}."
        )
    if not np.all(np.isfinite(sizes)) or np.any(sizes <= 0):
        raise ValueError(
            f"evaluate_detections: image_size must be positive pixel sizes, got {image_size}."
        )
    return sizes


def _to_coco_xywh(boxes, height, width):
    ymin, xmin, ymax, xmax = boxes.T
    xywh = np.stack([xmin * width, ymin * height, (xmax - xmin) * width, (ymax - ymin) * height])
    return xywh.T.tolist()


def _as_boxes(value, where):
    boxes = np.asarray(value, dtype=np.float64)
    if boxes.size == 0:
        boxes = boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(
            f"{where}: 'boxes' must have shape [num_boxes, 4] (normalised ymin, xmin, ymax, "
            f"xmax), got shape {boxes.shape}."
        )
    return boxes


def _as_column(value, where, key, length):
    column = np.asarray(value, dtype=np.float64).reshape(-1)
    if column.shape[0] != length:
        raise ValueError(
            f"{where}: '{key}' has {column.shape[0]} entries for {length} boxes; "
            f"give one per box."
        )
    return column


def _as_classes(values, where, num_classes):
    if not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
        raise ValueError(f"{where}: 'classes' must be integers, got {values.tolist()}.")
    classes = values.astype(np.int64)
    bad = np.flatnonzero((classes < 0) | (classes >= num_classes))
    if bad.size:
        raise ValueError(
            f"{where}: box {bad[0]} has class {classes[bad[0]]}, outside [0, {num_classes}) "
            f"(num_classes = len(class_names); -1 marks padding). "
            f"{bad.size} of {classes.size} boxes have this problem."
        )
    return classes


def _check_boxes(boxes, classes, where, low, high, allow_empty):
    """Raises on the first kind of invalid box found, naming one box and the count."""
    ymin, xmin, ymax, xmax = boxes.T
    problems = [
        (~np.all(np.isfinite(boxes), axis=1), "is not finite"),
        (np.any((boxes < low - _TOLERANCE) | (boxes > high + _TOLERANCE), axis=1),
         f"lies outside [{low:g}, {high:g}] (are these pixels, not normalised coordinates?)"),
        ((ymax < ymin) if allow_empty else (ymax <= ymin),
         "has ymax < ymin" if allow_empty else "has ymax <= ymin (is it xyxy, not yxyx?)"),
        ((xmax < xmin) if allow_empty else (xmax <= xmin),
         "has xmax < xmin" if allow_empty else "has xmax <= xmin (is it xyxy, not yxyx?)"),
    ]  # fmt: skip
    for mask, message in problems:
        bad = np.flatnonzero(mask)
        if bad.size:
            i = bad[0]
            raise ValueError(
                f"{where}: box {i} {np.round(boxes[i], 6).tolist()} (class {classes[i]}) "
                f"{message}. {bad.size} of {boxes.shape[0]} boxes have this problem."
            )


def _parse_ground_truth(truth, where, num_classes, flag="iscrowd"):
    """Checked boxes, classes and one boolean flag column (`iscrowd` or `difficult`)."""
    if not isinstance(truth, Mapping) or "boxes" not in truth or "classes" not in truth:
        raise ValueError(f"{where}: expected a dict with 'boxes' and 'classes'.")
    boxes = _as_boxes(truth["boxes"], where)
    labels = _as_column(truth["classes"], where, "classes", boxes.shape[0])
    flags = truth.get(flag)
    flags = np.zeros(boxes.shape[0]) if flags is None else flags
    flags = _as_column(flags, where, flag, boxes.shape[0]) != 0
    keep = labels != -1
    boxes, labels, flags = boxes[keep], labels[keep], flags[keep]
    classes = _as_classes(labels, where, num_classes)
    _check_boxes(boxes, classes, where, 0.0, 1.0, allow_empty=False)
    return boxes, classes, flags


def _parse_detections(found, where, num_classes):
    if not isinstance(found, Mapping) or any(
        key not in found for key in ("boxes", "classes", "confidence")
    ):
        raise ValueError(f"{where}: expected a dict with 'boxes', 'classes' and 'confidence'.")
    boxes = _as_boxes(found["boxes"], where)
    labels = _as_column(found["classes"], where, "classes", boxes.shape[0])
    scores = _as_column(found["confidence"], where, "confidence", boxes.shape[0])
    keep = (labels != -1) & (scores != -1)
    boxes, labels, scores = boxes[keep], labels[keep], scores[keep]
    classes = _as_classes(labels, where, num_classes)
    if not np.all(np.isfinite(scores)):
        raise ValueError(f"{where}: 'confidence' has non-finite values {scores.tolist()}.")
    # Clipping can leave a zero-size box, which is a legal (if useless) detection.
    _check_boxes(boxes, classes, where, *_DETECTION_RANGE, allow_empty=True)
    return np.clip(boxes, 0.0, 1.0), classes, scores
