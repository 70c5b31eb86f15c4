"""Per-class precision-recall curves at IoU 0.5, as COCO computes them."""

import numpy as np

from keras_ssd.visualization._style import class_color, new_figure


def plot_precision_recall(report):
    """One precision-recall curve per class (IoU 0.5, up to 100 detections per image).

    The curves are COCO's interpolated precision at the recalls 0, 0.01, ..., 1
    (`keras_ssd.metrics.coco_evaluation.RECALL_THRESHOLDS`); the mean of each curve
    is the class's AP50. A curve stops at the highest recall the class reaches.

    Args:
        report: a `DetectionReport` from `evaluate_detections` or an
            `EvaluationReport` from `evaluate_detector` (its `.coco`).

    Returns:
        A matplotlib `Figure` with one axis holding one line per class that has ground
        truth (`ax.lines`, in class order), labelled `"name (AP50 0.xxx)"`.

    Raises:
        ValueError: the report has no precision-recall curves.
    """
    report = getattr(report, "coco", report)
    curves = getattr(report, "precision50", None)
    if curves is None or not hasattr(report, "per_class"):
        raise ValueError(
            "plot_precision_recall expects a DetectionReport made by evaluate_detections "
            "(with its precision50 curves) or an EvaluationReport."
        )
    # COCO samples each curve at evenly spaced recalls (metrics' RECALL_THRESHOLDS); the
    # curve's length says how many, so drawing needs nothing from metrics/.
    recalls = np.linspace(0.0, 1.0, np.shape(curves)[-1])
    figure = new_figure(5.5, 4.0)
    ax = figure.add_subplot(1, 1, 1)
    for row, precision in zip(report.per_class, curves):
        if row["num_boxes"] == 0 or np.all(precision < 0):
            continue
        reached = recalls <= row["recall50"] + 1e-9
        ax.plot(
            recalls[reached], precision[reached],
            color=class_color(row["class_id"]), label=f"{row['name']} (AP50 {row['AP50']:.3f})",
        )  # fmt: skip
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.05)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title("Precision-recall per class (IoU 0.5)")
    if ax.lines:
        ax.legend(fontsize=7, loc="lower left")
    return figure
