"""Eager checks of ground-truth boxes, with messages on how to fix them."""

import numpy as np

# Coordinates may leave [0, 1] or touch each other by this much (float rounding).
TOLERANCE = 1e-6


def _format_box(box):
    return "[" + ", ".join(f"{value:.6g}" for value in box) + "]"


def _label_text(label, class_names):
    if not np.isfinite(label) or label != np.round(label):
        return f"label {label:.6g}"
    label = int(label)
    if class_names is not None and 0 <= label < len(class_names):
        return f"label {class_names[label]!r}"
    return f"label {label}"


def _raise_for(bad, problem, boxes, classes, source, class_names):
    """Raises a ValueError naming the first box where `bad` holds."""
    index = int(np.flatnonzero(bad)[0])
    prefix = f"{source}: " if source else ""
    raise ValueError(
        f"{prefix}box {index} {_format_box(boxes[index])} "
        f"({_label_text(classes[index], class_names)}) {problem}. "
        f"{int(np.sum(bad))} of {len(boxes)} boxes have this problem."
    )


def validate_boxes(boxes, classes, num_classes, source="", class_names=None):
    """Checks the ground truth of one image against the box conventions.

    Boxes must be normalised `[ymin, xmin, ymax, xmax]` with `ymin < ymax`,
    `xmin < xmax` and every coordinate in `[0, 1]` (tolerance `TOLERANCE`), and
    classes must be integers in `[0, num_classes)` (padding, −1, is not allowed:
    validate before padding). Checks run in the order shapes, finite values,
    classes, range, ordering; the first failing check raises.

    Args:
        boxes: array-like `[n, 4]`. The image's boxes; `[]` for none.
        classes: array-like `[n]`. The class of each box.
        num_classes: int. Number of object classes (background not counted).
        source: str. Where the boxes come from (a file name, a record index),
            put first in messages. Defaults to `""`.
        class_names: optional sequence of str. Names shown for labels in
            messages. Defaults to `None` (numbers are shown).

    Raises:
        ValueError: naming the source, the first bad box (index, values and
            label), the problem with a likely cause, and how many boxes have it.

    Example:

    >>> validate_boxes([[0.1, 0.2, 0.5, 0.6]], [1], num_classes=3)
    >>> validate_boxes([[10, 10, 5, 20]], [0], 3, source="voc/2007_000032.xml",
    ...                class_names=["dog", "cat", "bird"])
    Traceback (most recent call last):
    ...
    ValueError: voc/2007_000032.xml: box 0 [10, 10, 5, 20] (label 'dog') has coordinates outside [0, 1] (are they pixels, not normalised?). 1 of 1 boxes have this problem.
    """
    prefix = f"{source}: " if source else ""
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise ValueError(f"{prefix}num_classes must be an int, got {num_classes!r}.")
    if num_classes < 1:
        raise ValueError(f"{prefix}num_classes must be >= 1, got {num_classes}.")
    try:
        boxes = np.asarray(boxes, dtype=np.float64)
        classes = np.asarray(classes, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{prefix}boxes and classes must be numeric arrays ({error})."
        ) from None
    if boxes.size == 0 and boxes.ndim <= 2:
        boxes = boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(
            f"{prefix}boxes must have shape [num_boxes, 4] (ymin, xmin, ymax, xmax), "
            f"got shape {list(boxes.shape)}."
        )
    if classes.ndim != 1:
        raise ValueError(
            f"{prefix}classes must have shape [num_boxes], got shape "
            f"{list(classes.shape)}."
        )
    if len(classes) != len(boxes):
        raise ValueError(
            f"{prefix}{len(boxes)} boxes but {len(classes)} classes: each box needs "
            f"exactly one class."
        )

    finite = np.isfinite(boxes).all(axis=1)
    if not finite.all():
        _raise_for(
            ~finite, "has a NaN or infinite coordinate", boxes, classes, source,
            class_names,
        )
    bad = ~np.isfinite(classes) | (classes != np.round(classes))
    if bad.any():
        _raise_for(
            bad, "has a class that is not an integer", boxes, classes, source,
            class_names,
        )
    bad = classes < 0
    if bad.any():
        _raise_for(
            bad,
            f"has a negative class (-1 is padding: validate before padding; classes "
            f"are 0 to {num_classes - 1})",
            boxes, classes, source, class_names,
        )
    bad = classes >= num_classes
    if bad.any():
        _raise_for(
            bad,
            f"has a class >= num_classes={num_classes} (is background counted as "
            f"class 0, or num_classes too small?)",
            boxes, classes, source, class_names,
        )

    bad = ((boxes < -TOLERANCE) | (boxes > 1.0 + TOLERANCE)).any(axis=1)
    if bad.any():
        hint = (
            "are they pixels, not normalised?"
            if (boxes[bad] > 1.0 + TOLERANCE).any()
            else "negative coordinates: clip them to the image"
        )
        _raise_for(
            bad, f"has coordinates outside [0, 1] ({hint})", boxes, classes, source,
            class_names,
        )
    bad = boxes[:, 2] <= boxes[:, 0]
    if bad.any():
        _raise_for(
            bad, "has ymax <= ymin (is it xywh, not yxyx?)", boxes, classes, source,
            class_names,
        )
    bad = boxes[:, 3] <= boxes[:, 1]
    if bad.any():
        _raise_for(
            bad, "has xmax <= xmin (is it xywh, not yxyx?)", boxes, classes, source,
            class_names,
        )
