"""Checks of ground-truth boxes, eager and in-graph, with messages on how to fix them."""

import numpy as np
import tensorflow as tf

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


# In-graph checks of padded, batched targets. `fit` maps datasets through
# `assert_valid_targets` (tf.data is never XLA-compiled, so its asserts run);
# `SSD.compute_loss` also counts problems with `count_target_problems`, which
# survives XLA, where `tf.debugging` asserts are compiled out.
TARGET_PROBLEMS = (
    "boxes with a class id >= num_classes (is background counted as class 0, or "
    "num_classes too small?)",
    "boxes with coordinates outside [0, 1] or not finite (are they pixels, not normalised?)",
    "boxes not ordered: they need ymin < ymax and xmin < xmax (are they xywh or xyxy, "
    "not yxyx?)",
)


def _target_problem_masks(boxes, classes, num_classes):
    classes = tf.cast(classes, tf.int32)
    boxes = tf.cast(boxes, tf.float32)
    is_box = classes >= 0
    inside = tf.reduce_all(
        tf.math.is_finite(boxes) & (boxes >= -TOLERANCE) & (boxes <= 1.0 + TOLERANCE), axis=-1
    )
    ordered = (boxes[..., 2] > boxes[..., 0]) & (boxes[..., 3] > boxes[..., 1])
    return boxes, (
        (classes >= num_classes) | (classes < -1),
        is_box & ~inside,
        is_box & inside & ~ordered,
    )


def count_target_problems(boxes, classes, num_classes):
    """Counts the padded ground-truth rows with each of `TARGET_PROBLEMS`.

    Pure tensor arithmetic: it runs under `tf.function`, XLA and
    `tf.distribute`, unlike `tf.debugging` asserts.

    Args:
        boxes: `[..., max_boxes, 4]` normalised yxyx boxes.
        classes: `[..., max_boxes]` class ids, −1 for padding rows.
        num_classes: int. Number of object classes.

    Returns:
        int32 tensor `[3]`: rows with a class id >= `num_classes` (or < −1),
        real boxes outside `[0, 1]`, and real boxes with a min >= max.
    """
    _, masks = _target_problem_masks(boxes, classes, num_classes)
    return tf.stack([tf.reduce_sum(tf.cast(mask, tf.int32)) for mask in masks])


def describe_target_problems(counts, num_classes):
    """Names the problems counted by `count_target_problems`, or returns `""`."""
    found = [
        f"{int(count)} {text}".replace("num_classes", f"num_classes={num_classes}")
        for count, text in zip(np.asarray(counts).tolist(), TARGET_PROBLEMS)
        if count
    ]
    if not found:
        return ""
    return (
        "Bad ground truth: " + "; ".join(found) + ". Targets need class ids in "
        f"[0, {num_classes}) (-1 = padding) and normalised [ymin, xmin, ymax, xmax] "
        "boxes in [0, 1] (docs/conventions.md)."
    )


def assert_valid_targets(boxes, classes, num_classes):
    """Raises `InvalidArgumentError` in-graph on targets with `TARGET_PROBLEMS`.

    Meant for `tf.data` maps and non-XLA graphs; under XLA the asserts are
    compiled out (use `count_target_problems` there).

    Args:
        boxes: `[..., max_boxes, 4]` normalised yxyx boxes.
        classes: `[..., max_boxes]` class ids, −1 for padding rows.
        num_classes: int. Number of object classes.

    Returns:
        A list of assert ops (empty when executing eagerly, where a failing
        assert raises at once).
    """
    boxes, (bad_class, outside, unordered) = _target_problem_masks(boxes, classes, num_classes)
    messages = [text.replace("num_classes", f"num_classes={num_classes}") for text in TARGET_PROBLEMS]
    return [
        tf.debugging.Assert(
            ~tf.reduce_any(bad_class),
            [f"Ground-truth {messages[0]}; first offending class id:",
             tf.boolean_mask(tf.cast(classes, tf.int32), bad_class)[:1]],
        ),
        tf.debugging.Assert(
            ~tf.reduce_any(outside),
            [f"Ground-truth {messages[1]}; first offending box:", tf.boolean_mask(boxes, outside)[:1]],
        ),
        tf.debugging.Assert(
            ~tf.reduce_any(unordered),
            [f"Ground-truth {messages[2]}; first offending box:", tf.boolean_mask(boxes, unordered)[:1]],
        ),
    ]


def with_target_checks(data, num_classes):
    """Maps a dataset of `(images, targets, ...)` batches through `assert_valid_targets`.

    tf.data is never XLA-compiled, so the asserts stay in.

    Args:
        data: a `tf.data.Dataset` of `(images, {"boxes", "classes", ...}, ...)`;
            anything else is returned as it is.
        num_classes: int. Number of object classes.

    Returns:
        The dataset whose targets are checked when it is iterated, or `data`.
    """
    if not isinstance(data, tf.data.Dataset):
        return data
    spec = data.element_spec
    if not (
        isinstance(spec, tuple)
        and len(spec) >= 2
        and isinstance(spec[1], dict)
        and {"boxes", "classes"} <= set(spec[1])
    ):
        return data

    def check(*batch):
        targets = dict(batch[1])
        asserts = assert_valid_targets(targets["boxes"], targets["classes"], num_classes)
        with tf.control_dependencies(asserts):
            targets["classes"] = tf.identity(targets["classes"])
        return (batch[0], targets, *batch[2:])

    return data.map(check)


def check_in_memory_targets(y, num_classes, class_names=None):
    """Checks in-memory NumPy targets of `SSD.fit`, naming the first bad image and box.

    Datasets are checked in-graph by `with_target_checks`; arrays get this
    friendlier `ValueError`. Anything but a dict of NumPy `boxes` and `classes`
    is left alone.

    Args:
        y: the targets given to `fit` or `evaluate`.
        num_classes: int. Number of object classes.
        class_names: optional list of class names, for the message.

    Raises:
        ValueError: naming the image and the box, as `validate_boxes` does.
    """
    if not isinstance(y, dict) or "boxes" not in y or "classes" not in y:
        return
    if not all(isinstance(y[key], np.ndarray) for key in ("boxes", "classes")):
        return
    boxes, classes = y["boxes"], y["classes"]
    keep = classes != -1
    try:
        validate_boxes(boxes[keep], classes[keep], num_classes, class_names=class_names)
    except ValueError:
        # Checked all at once; on a failure, name the first failing image.
        for image_index in np.flatnonzero(keep.any(axis=-1)):
            validate_boxes(
                boxes[image_index][keep[image_index]],
                classes[image_index][keep[image_index]],
                num_classes,
                source=f"targets of image {image_index}",
                class_names=class_names,
            )
        raise
