"""The detection confusion matrix as a heat map with the counts written in."""

import numpy as np

from keras_ssd.visualization._style import new_figure


def plot_confusion_matrix(confusion, normalize=True):
    """Draws a `ConfusionMatrix` (`keras_ssd.metrics.detection_confusion_matrix`).

    Rows are ground-truth classes and "background" (detections that match nothing),
    columns detected classes and "missed" (ground truth nobody found). Every cell shows
    its count.

    Args:
        confusion: a `keras_ssd.metrics.ConfusionMatrix`.
        normalize: bool. Colour each cell by its share of its row (a rare class's
            mistakes show as strongly as a frequent one's); False colours raw counts.
            Defaults to True.

    Returns:
        A matplotlib `Figure` with one axis; its image (`ax.images[0]`) holds the
        colour values, `[num_classes + 1, num_classes + 1]`, and `ax.texts` the counts
        row by row.

    Raises:
        TypeError: `confusion` is not a `ConfusionMatrix`.
    """
    if not hasattr(confusion, "matrix") or not hasattr(confusion, "class_names"):
        raise TypeError(
            f"plot_confusion_matrix expects a keras_ssd.metrics.ConfusionMatrix, got "
            f"{type(confusion).__name__}."
        )
    counts = np.asarray(confusion.matrix, np.float64)
    names = [str(name) for name in confusion.class_names]
    rows, columns = names + ["background"], names + ["missed"]
    if normalize:
        totals = counts.sum(axis=1, keepdims=True)
        values = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
        label = "share of the row"
    else:
        values, label = counts, "count"
    side = max(3.5, 0.6 * len(columns) + 2.0)
    figure = new_figure(side + 1.0, side)
    ax = figure.add_subplot(1, 1, 1)
    image = ax.imshow(values, cmap="Blues", vmin=0.0, vmax=max(values.max(), 1e-9 if normalize else 1.0))
    figure.colorbar(image, ax=ax, label=label, shrink=0.8)
    threshold = 0.5 * values.max() if values.max() > 0 else 1.0
    for i in range(len(rows)):
        for j in range(len(columns)):
            text = "-" if (i, j) == (len(rows) - 1, len(columns) - 1) else str(int(counts[i, j]))
            color = "white" if values[i, j] > threshold else "black"
            ax.text(j, i, text, ha="center", va="center", color=color, fontsize=8)
    ax.set_xticks(np.arange(len(columns)), columns, rotation=45, ha="right")
    ax.set_yticks(np.arange(len(rows)), rows)
    ax.set_xlabel("detected as")
    ax.set_ylabel("ground truth")
    ax.set_title(
        f"Detection confusion matrix (score >= {confusion.score_threshold:g}, "
        f"IoU >= {confusion.iou_threshold:g})",
        fontsize=9,
    )
    return figure
