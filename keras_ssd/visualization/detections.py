"""Detections drawn on images: one axis helper and a gallery."""

import math

import numpy as np
from matplotlib.patches import Rectangle

from keras_ssd.visualization._style import (
    as_image_batch,
    class_color,
    class_name,
    new_figure,
    per_image,
    show_image,
)


def draw_boxes(
    ax,
    boxes,
    classes,
    scores=None,
    class_names=None,
    image_shape=None,
    score_threshold=0.0,
    linestyle="-",
    show_labels=True,
):
    """Draws normalised yxyx boxes on an axis that shows an image.

    One `Rectangle` patch per box (so `len(ax.patches)` counts them) and, with
    `show_labels`, a text with the class name and score.

    Args:
        ax: a matplotlib `Axes` on which the image was drawn with `imshow`.
        boxes: `[n, 4]` normalised `[ymin, xmin, ymax, xmax]`.
        classes: `[n]` 0-based class ids (-1 rows are skipped).
        scores: optional `[n]` scores; boxes under `score_threshold` are skipped.
        class_names: optional list of names.
        image_shape: `(height, width)` in pixels. Defaults to the extent of the
            last image on `ax`.
        score_threshold: float. Defaults to 0.
        linestyle: matplotlib line style, e.g. `"--"` for ground truth.
        show_labels: bool. Write the class name (and score). Defaults to True.

    Returns:
        int. The number of boxes drawn.
    """
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    classes = np.asarray(classes).reshape(-1).astype(np.int64)
    if classes.shape[0] != boxes.shape[0]:
        raise ValueError(f"draw_boxes: {boxes.shape[0]} boxes but {classes.shape[0]} classes.")
    if scores is not None:
        scores = np.asarray(scores, np.float32).reshape(-1)
        if scores.shape[0] != boxes.shape[0]:
            raise ValueError(f"draw_boxes: {boxes.shape[0]} boxes but {scores.shape[0]} scores.")
    if image_shape is None:
        if not ax.images:
            raise ValueError("draw_boxes: give image_shape, or draw the image on ax first.")
        image_shape = ax.images[-1].get_array().shape[:2]
    height, width = image_shape
    drawn = 0
    for index, (box, class_id) in enumerate(zip(boxes, classes)):
        score = None if scores is None else float(scores[index])
        if class_id < 0 or (score is not None and score < score_threshold):
            continue
        ymin, xmin, ymax, xmax = box
        color = class_color(class_id)
        # imshow puts pixel centres on integers, so the image spans [-0.5, size - 0.5].
        ax.add_patch(
            Rectangle(
                (xmin * width - 0.5, ymin * height - 0.5),
                (xmax - xmin) * width,
                (ymax - ymin) * height,
                fill=False,
                edgecolor=color,
                linewidth=2,
                linestyle=linestyle,
            )
        )
        if show_labels:
            label = class_name(class_id, class_names)
            if score is not None:
                label = f"{label} {score:.2f}"
            ax.text(
                xmin * width - 0.5,
                ymin * height - 0.5,
                label,
                fontsize=8,
                color="white",
                verticalalignment="bottom",
                bbox={"facecolor": color, "edgecolor": "none", "pad": 1, "alpha": 0.8},
                clip_on=True,
            )
        drawn += 1
    return drawn


def plot_detections(
    images, detections, class_names=None, score_threshold=0.0, columns=4, titles=None
):
    """A gallery of images with their detections.

    Args:
        images: one image `[h, w, 3]` or `[h, w]`, a batch `[n, h, w, c]` or a
            list of images, pixels in `[0, 255]`.
        detections: the `SSD.predict` dict, or a list of per-image dicts with
            `boxes` (normalised yxyx), `classes` and `confidence` or `scores`.
        class_names: optional list of names.
        score_threshold: float. Boxes under it are not drawn. Defaults to 0.
        columns: int. Images per row. Defaults to 4.
        titles: optional list of one title per image.

    Returns:
        A matplotlib `Figure`, one axis per image (`fig.axes`), one `Rectangle`
        in `ax.patches` per drawn box.

    Example:

    ```python
    figure = plot_detections(images, model.predict(images), class_names, 0.3)
    figure.savefig("detections.png")
    ```
    """
    images = as_image_batch(images)
    if not images:
        raise ValueError("plot_detections: no images.")
    found = per_image(detections, len(images))
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"plot_detections: {len(titles)} titles for {len(images)} images.")
    columns = max(1, min(int(columns), len(images)))
    rows = math.ceil(len(images) / columns)
    figure = new_figure(3.2 * columns, 3.2 * rows)
    for index, (image, boxes) in enumerate(zip(images, found)):
        ax = figure.add_subplot(rows, columns, index + 1)
        shape = show_image(ax, image)
        count = draw_boxes(
            ax,
            boxes["boxes"],
            boxes["classes"],
            boxes["scores"],
            class_names,
            image_shape=shape,
            score_threshold=score_threshold,
        )
        title = f"{count} detection{'s' if count != 1 else ''}"
        ax.set_title(title if titles is None else f"{titles[index]} ({title})", fontsize=9)
    return figure
