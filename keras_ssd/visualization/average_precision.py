"""Per-class average precision of one or two runs as grouped bars."""

import math

import numpy as np

from keras_ssd.visualization._style import new_figure

METRICS = ("AP", "AP50")


def _per_class(run, metric, where):
    """`(names, values)` from a `DetectionReport`, its `per_class` list or a name->AP dict."""
    if hasattr(run, "per_class"):
        run = run.per_class
    if isinstance(run, dict):
        return [str(name) for name in run], [float(value) for value in run.values()]
    rows = list(run)
    try:
        return [str(row["name"]) for row in rows], [float(row[metric]) for row in rows]
    except (TypeError, KeyError):
        raise ValueError(
            f"plot_per_class_ap: {where} must be a DetectionReport, its per_class list (dicts "
            f"with 'name' and {metric!r}) or a dict from class name to AP."
        ) from None


def plot_per_class_ap(first, second=None, labels=("first run", "second run"), metric="AP"):
    """Per-class AP as bars, two runs side by side (e.g. without / with class weights).

    Args:
        first: a `DetectionReport` (`keras_ssd.metrics`), its `per_class` list, or a
            dict from class name to AP.
        second: optional second run of the same classes, same kinds.
        labels: names of the runs in the legend.
        metric: `"AP"` (AP@[.5:.95]) or `"AP50"`, read from reports and lists.

    Returns:
        A matplotlib `Figure` with one axis holding one bar per class and run
        (`ax.patches`, first run first). A class without ground truth (NaN AP)
        gets a bar of height 0 labelled "n/a"; the legend shows each run's mean
        over the other classes.

    Raises:
        ValueError: unknown `metric`, or the runs name different classes.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}.")
    runs = [_per_class(first, metric, "first")]
    if second is not None:
        runs.append(_per_class(second, metric, "second"))
        if runs[1][0] != runs[0][0]:
            raise ValueError(
                f"plot_per_class_ap: the runs name different classes: {runs[0][0]} vs {runs[1][0]}."
            )
    names = runs[0][0]
    if not names:
        raise ValueError("plot_per_class_ap: no classes.")
    labels = list(labels)[: len(runs)]
    if len(labels) < len(runs):
        raise ValueError(f"plot_per_class_ap: {len(runs)} runs need {len(runs)} labels, got {labels}.")
    figure = new_figure(max(4.0, 0.9 * len(names) * len(runs) + 1.5), 3.6)
    ax = figure.add_subplot(1, 1, 1)
    width = 0.8 / len(runs)
    positions = np.arange(len(names))
    for index, ((_, values), label) in enumerate(zip(runs, labels)):
        heights = [0.0 if math.isnan(value) else value for value in values]
        valid = [value for value in values if not math.isnan(value)]
        mean = f"{np.mean(valid):.3f}" if valid else "n/a"
        bars = ax.bar(
            positions + (index - (len(runs) - 1) / 2) * width,
            heights,
            width,
            label=f"{label} (mean {mean})",
        )
        ax.bar_label(
            bars,
            labels=["n/a" if math.isnan(value) else f"{value:.2f}" for value in values],
            fontsize=7,
            padding=1,
        )
    ax.set_xticks(positions, names, rotation=30 if len(names) > 6 else 0)
    ax.set_ylim(0, 1.15)  # room for the legend above AP 1
    ax.set_ylabel(metric)
    ax.set_title(f"Per-class {metric}")
    ax.legend(fontsize=8)
    return figure
