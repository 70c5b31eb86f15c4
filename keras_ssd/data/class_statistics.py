"""Per-class box and image counts of a detection dataset: table and bar chart."""

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from keras_ssd.utils.atomic_files import save_figure_atomically

# Images counted per step (and per progress-bar update).
_BATCH_SIZE = 256


@dataclasses.dataclass
class ClassStatistics:
    """What `class_statistics` counted.

    Attributes:
        class_names: list of str. Class names, indexed by label.
        num_boxes: int64 array `[num_classes]`. Boxes of each class.
        num_images: int64 array `[num_classes]`. Images with at least one box
            of each class.
        num_difficult: int64 array `[num_classes]`. Boxes flagged `difficult`.
        num_crowd: int64 array `[num_classes]`. Boxes flagged `iscrowd`.
        num_images_total: int. Images in the dataset.
        num_images_without_boxes: int. Images with no box (all background).
    """

    class_names: list
    num_boxes: np.ndarray
    num_images: np.ndarray
    num_difficult: np.ndarray
    num_crowd: np.ndarray
    num_images_total: int
    num_images_without_boxes: int


def _per_image_annotations(dataset, caller):
    """Maps any supported layout to one element per image: label, flags, name.

    Layouts: reader examples (`example["objects"]["label"]`, unbatched), and what
    `SSD.fit` and keras-cv take: `(images, {"classes": ...})` pairs, dicts with
    `"classes"` or keras-cv dicts `{"bounding_boxes": {"classes": ...}}`, batched
    or not, dense or ragged, with −1 as padding.
    """
    spec = dataset.element_spec
    if isinstance(spec, dict) and isinstance(spec.get("objects"), dict) and "label" in spec["objects"]:
        if spec["objects"]["label"].shape.rank not in (None, 1):
            raise ValueError(
                f"{caller}: expected unbatched examples (example['objects']['label'] of "
                f"shape [num_boxes]), got shape {spec['objects']['label'].shape}; call "
                "dataset.unbatch() first."
            )
        flags = [key for key in ("difficult", "iscrowd") if key in spec["objects"]]
        has_name = "image/filename" in spec

        def annotations(example):
            objects = example["objects"]
            light = {"label": tf.reshape(tf.cast(objects["label"], tf.int64), [-1])}
            for key in flags:
                light[key] = tf.reshape(tf.cast(objects[key], tf.bool), [-1])
            if has_name:
                light["name"] = example["image/filename"]
            return light

        return dataset.map(annotations, num_parallel_calls=tf.data.AUTOTUNE), flags, has_name
    path = _classes_path(spec)
    if path is None:
        raise ValueError(
            f"{caller}: expected unbatched examples with example['objects']['label'] "
            "(docs/conventions.md, 'Examples from readers'), (images, {'classes': ...}) "
            "pairs, dicts with 'classes' or keras-cv dicts with {'bounding_boxes': "
            f"{{'classes': ...}}}}; got element_spec {spec}."
        )

    def classes_of(*element):
        value = element if len(element) > 1 else element[0]
        for key in path:
            value = value[key]
        return value

    classes_spec = classes_of(*(spec if isinstance(spec, tuple) else (spec,)))
    classes = dataset.map(classes_of, num_parallel_calls=tf.data.AUTOTUNE)
    if classes_spec.shape.rank is not None and classes_spec.shape.rank >= 2:
        classes = classes.unbatch()  # batched: [batch, max_boxes]

    def real_labels(value):
        if isinstance(value, tf.RaggedTensor):
            value = value.flat_values
        value = tf.reshape(tf.cast(value, tf.int64), [-1])
        return {"label": tf.boolean_mask(value, value >= 0)}  # -1 = padding

    return classes.map(real_labels, num_parallel_calls=tf.data.AUTOTUNE), [], False


def _classes_path(spec):
    """Where the class tensor is in an element: keys to follow, or None."""
    if isinstance(spec, tuple):
        if len(spec) >= 2 and isinstance(spec[1], dict):
            inner = _classes_path(spec[1])
            return None if inner is None else (1, *inner)
        return None
    if isinstance(spec, dict):
        if "classes" in spec:
            return ("classes",)
        if isinstance(spec.get("bounding_boxes"), dict) and "classes" in spec["bounding_boxes"]:
            return ("bounding_boxes", "classes")
    return None


def class_statistics(dataset, class_names, verbose=1):
    """Counts the boxes and images of each class, with a progress bar.

    The one box counter of keras_ssd: `count_boxes_per_class`,
    `compute_class_weights` (on a dataset), `keras-ssd stats` and
    `keras-ssd train` all count here. Accepts the examples of every reader
    (docs/conventions.md, "Examples from readers": `example["objects"]["label"]`,
    with optional `"difficult"` and `"iscrowd"` flags) and the layouts `SSD.fit`
    and keras-cv take: `(images, {"classes": ...})` pairs, dicts with
    `"classes"`, keras-cv dicts `{"bounding_boxes": {"classes": ...}}`, batched
    or not, dense or ragged, where −1 is padding and not counted. Only the
    annotations are used; to avoid decoding images, load the data with
    `load_images=False`.

    Args:
        dataset: `tf.data.Dataset` in one of the layouts above.
        class_names: sequence of str. Class names, indexed by label.
        verbose: int. 1 shows a `keras.utils.Progbar`, 0 nothing. Defaults to 1.

    Returns:
        A `ClassStatistics`.

    Raises:
        ValueError: if the elements have none of the layouts above, or a label
            is outside `[0, len(class_names))` (naming the image).

    Example:

    ```python
    dataset, class_names = load_voc_xml("my_voc_folder", load_images=False)
    stats = class_statistics(dataset, class_names)
    print(format_statistics_table(stats))
    ```
    """
    if not isinstance(dataset, tf.data.Dataset):
        raise ValueError(
            f"class_statistics: dataset must be a tf.data.Dataset, got {type(dataset).__name__}."
        )
    class_names = list(class_names)
    num_classes = len(class_names)
    if num_classes < 1:
        raise ValueError("class_statistics: class_names is empty.")
    only_annotations, flags, has_name = _per_image_annotations(dataset, "class_statistics")

    cardinality = int(dataset.cardinality())
    progress = keras.utils.Progbar(
        cardinality if cardinality >= 0 else None, verbose=verbose, unit_name="image"
    )
    counts = {key: np.zeros(num_classes, np.int64) for key in ("boxes", "images", "difficult", "iscrowd")}
    num_images = num_without = 0
    # Counted a batch of images at a time, vectorised: one Python step per image
    # would take about a millisecond.
    for batch in only_annotations.ragged_batch(_BATCH_SIZE).prefetch(2):
        labels = batch["label"].flat_values.numpy().astype(np.int64)
        row_lengths = batch["label"].row_lengths().numpy()
        rows = np.repeat(np.arange(len(row_lengths)), row_lengths)
        bad = (labels < 0) | (labels >= num_classes)
        if bad.any():
            row = int(rows[bad][0])
            name = (
                batch["name"][row].numpy().decode("utf-8", "replace")
                if has_name else f"image {num_images + row}"
            )
            raise ValueError(
                f"class_statistics: {name}: label {int(labels[bad][0])} is outside "
                f"[0, num_classes={num_classes}) ({int(bad[rows == row].sum())} of "
                f"{int(row_lengths[row])} boxes); are the class_names (num_classes) "
                "those of this dataset?"
            )
        counts["boxes"] += np.bincount(labels, minlength=num_classes)
        # An image counts once per class it holds: unique (image, class) pairs.
        pairs = np.unique(rows * num_classes + labels)
        counts["images"] += np.bincount(pairs % num_classes, minlength=num_classes)
        for key in flags:
            if not np.array_equal(batch[key].row_lengths().numpy(), row_lengths):
                raise ValueError(
                    f"class_statistics: an image among {num_images} to "
                    f"{num_images + len(row_lengths) - 1} has a different number of "
                    f"labels and '{key}' flags."
                )
            flagged = batch[key].flat_values.numpy()
            counts[key] += np.bincount(labels[flagged], minlength=num_classes)
        num_without += int(np.sum(row_lengths == 0))
        num_images += len(row_lengths)
        progress.update(num_images)
    if num_images != cardinality:  # a known size, once reached, has drawn the last bar
        progress.update(num_images, finalize=True)
    return ClassStatistics(
        class_names=class_names,
        num_boxes=counts["boxes"],
        num_images=counts["images"],
        num_difficult=counts["difficult"],
        num_crowd=counts["iscrowd"],
        num_images_total=num_images,
        num_images_without_boxes=num_without,
    )


def classes_per_image(image_labels):
    """The distinct classes of each image, without `-1` padding.

    Args:
        image_labels: sequence of per-image label sequences (`splits.image_labels`).

    Returns:
        list of sorted int64 numpy arrays, one per image.

    Example:

    >>> [classes.tolist() for classes in classes_per_image([[2, 0, 2], [-1], []])]
    [[0, 2], [], []]
    """
    distinct = [np.unique(np.asarray(labels, np.int64).reshape(-1)) for labels in image_labels]
    return [classes[classes >= 0] for classes in distinct]


def count_boxes_per_class(dataset, num_classes):
    """Counts the boxes of each class in a dataset (`class_statistics`, quietly).

    Accepts every layout of `class_statistics`: reader examples (counts
    `example["objects"]["label"]`), the `(images, targets)` output of
    `to_detection_inputs` (counts `targets["classes"]`, skipping the −1
    padding; boxes that `max_boxes` dropped are not there to count), dicts with
    `"classes"` and keras-cv dicts.

    Args:
        dataset: `tf.data.Dataset` in a layout of `class_statistics`.
        num_classes: int. Number of object classes.

    Returns:
        int64 numpy array `[num_classes]`: the number of boxes of each class.

    Raises:
        ValueError: if the dataset has none of the layouts, or a label is
            outside `[0, num_classes)`.

    Example:

    ```python
    dataset, class_names = load_synthetic_shapes("train")
    counts = count_boxes_per_class(dataset, len(class_names))
    ```
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise ValueError(
            f"count_boxes_per_class: num_classes must be an int, got {num_classes!r}."
        )
    if num_classes < 1:
        raise ValueError(
            f"count_boxes_per_class: num_classes must be >= 1, got {num_classes}."
        )
    names = [str(index) for index in range(int(num_classes))]
    return class_statistics(dataset, names, verbose=0).num_boxes


def format_statistics_table(stats, weights_by_method=None):
    """Formats class statistics, and optionally class weights, as a text table.

    Args:
        stats: `ClassStatistics`.
        weights_by_method: optional dict `{method name: per-class weights}`,
            e.g. `{m: compute_class_weights(stats.num_boxes, method=m) for m in
            METHODS}`; one column each. Defaults to `None` (no weight columns).

    Returns:
        str. One row per class and a total row, then a line with the image
        counts.

    Raises:
        ValueError: if a method does not give one weight per class.

    Example:

    ```python
    print(format_statistics_table(stats, {"inverse": [2.0, 0.67]}))
    ```
    """
    weights_by_method = dict(weights_by_method or {})
    num_classes = len(stats.class_names)
    for method, weights in weights_by_method.items():
        if len(weights) != num_classes:
            raise ValueError(
                f"format_statistics_table: method {method!r} gives {len(weights)} weights "
                f"for {num_classes} classes."
            )
    total_boxes = int(stats.num_boxes.sum())
    header = ["class", "boxes", "% boxes", "images", "difficult", "crowd", *weights_by_method]
    rows = []
    for index, name in enumerate(stats.class_names):
        share = 100.0 * stats.num_boxes[index] / total_boxes if total_boxes else 0.0
        rows.append(
            [
                name,
                str(int(stats.num_boxes[index])),
                f"{share:.1f}",
                str(int(stats.num_images[index])),
                str(int(stats.num_difficult[index])),
                str(int(stats.num_crowd[index])),
                *(f"{float(weights[index]):.4g}" for weights in weights_by_method.values()),
            ]
        )
    images_with_boxes = stats.num_images_total - stats.num_images_without_boxes
    rows.append(
        [
            "total",
            str(total_boxes),
            "100.0" if total_boxes else "0.0",
            str(images_with_boxes),
            str(int(stats.num_difficult.sum())),
            str(int(stats.num_crowd.sum())),
            *("" for _ in weights_by_method),
        ]
    )
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]

    def line(cells):
        return "  ".join(
            cell.ljust(width) if column == 0 else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(cells, widths))
        ).rstrip()

    rule = "-" * len(line(header))
    lines = [line(header), rule, *(line(row) for row in rows[:-1]), rule, line(rows[-1])]
    lines.append(
        f"{stats.num_images_total} images, {stats.num_images_without_boxes} without boxes."
    )
    return "\n".join(lines)


def plot_class_counts(stats, path, log_scale=False, weights=None, weights_label="suggested weight"):
    """Saves a bar chart of the boxes and images of each class.

    Two bars per class, boxes then images, in label order; with `weights`, the
    suggested class weights as a line on a second axis. Drawn on a
    `matplotlib.figure.Figure` with the Agg canvas (no pyplot, no display).

    Args:
        stats: `ClassStatistics`.
        path: str. Where to save the picture; its extension picks the format
            (`.png`, `.pdf`, `.svg`).
        log_scale: bool. Whether the count axis is logarithmic (for very
            imbalanced data). Defaults to `False`.
        weights: optional sequence of one class weight per class, e.g. from
            `compute_class_weights`. Defaults to None.
        weights_label: str. Legend of the weight line.

    Returns:
        The `matplotlib.figure.Figure`: its first Axes holds the bars, a second
        one (only with `weights`) the weight line.

    Example:

    ```python
    figure = plot_class_counts(stats, "class_counts.png")
    ```
    """
    # Imported here: only the chart needs matplotlib.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    num_classes = len(stats.class_names)
    figure = Figure(figsize=(max(6.0, 0.6 * num_classes + 2.0), 4.5))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    positions = np.arange(num_classes)
    width = 0.4
    axes.bar(positions - width / 2, stats.num_boxes, width, label="boxes")
    axes.bar(positions + width / 2, stats.num_images, width, label="images")
    axes.set_xticks(positions)
    many = num_classes > 6
    axes.set_xticklabels(stats.class_names, rotation=45 if many else 0, ha="right" if many else "center")
    axes.set_ylabel("count")
    if log_scale:
        axes.set_yscale("log")
    else:
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_title(
        f"Boxes and images per class ({int(stats.num_boxes.sum())} boxes, "
        f"{stats.num_images_total} images)"
    )
    handles, labels = axes.get_legend_handles_labels()
    if weights is not None:
        weights = np.asarray(weights, dtype=float)
        if weights.shape != (num_classes,):
            raise ValueError(
                f"plot_class_counts: weights has shape {weights.shape}, expected one weight "
                f"per class ({num_classes})."
            )
        weight_axes = axes.twinx()
        (line,) = weight_axes.plot(positions, weights, "o-", color="black", label=weights_label)
        for position, weight in zip(positions, weights):
            weight_axes.annotate(f"{weight:.2f}", (position, weight), textcoords="offset points",
                                 xytext=(0, 6), ha="center", fontsize=8)
        weight_axes.set_ylabel("class weight")
        weight_axes.set_ylim(0, weights.max() * 1.2 if weights.max() > 0 else 1)
        handles.append(line)
        labels.append(weights_label)
    axes.legend(handles, labels, loc="upper right")
    figure.tight_layout()
    save_figure_atomically(figure, path, dpi=100)
    return figure
