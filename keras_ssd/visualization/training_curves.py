"""Training curves from a Keras `History`, its dict or the `history.csv` of `CSVLogger`."""

import csv
import math
import os

from keras_ssd.visualization._style import new_figure


def read_history(history):
    """`{metric: [one value per epoch]}` from a `History`, a dict or a CSV path.

    Raises:
        FileNotFoundError: the CSV file does not exist.
        ValueError: no metrics, or columns of different lengths.
    """
    if hasattr(history, "history"):
        history = history.history
    if isinstance(history, (str, os.PathLike)):
        path = os.fspath(history)
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path}: no such history file (the CSVLogger's history.csv).")
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        columns = {}
        for row in rows:
            for key, value in row.items():
                if key != "epoch":
                    columns.setdefault(key, []).append(float(value) if value not in ("", None) else math.nan)
        history = columns
        if not history:
            raise ValueError(f"{path}: no metric columns (an empty history.csv?).")
    if not isinstance(history, dict) or not history:
        raise ValueError(
            "plot_training_curves expects a keras History, its .history dict or the path of a "
            f"history.csv, got {type(history).__name__}."
        )
    history = {str(key): [float(value) for value in values] for key, values in history.items()}
    lengths = {len(values) for values in history.values()}
    if len(lengths) != 1:
        raise ValueError(f"History columns have different lengths: { {k: len(v) for k, v in history.items()} }.")
    return history


def plot_training_curves(history, metrics=None):
    """One axis per metric, training and validation (`val_*`) curves over epochs.

    Args:
        history: a `keras.callbacks.History`, its `.history` dict, or the path of
            the `history.csv` written by `keras.callbacks.CSVLogger`.
        metrics: optional list of metric names (without `val_`) to show, in that
            order. Defaults to every metric in the history.

    Returns:
        A matplotlib `Figure`, one axis per metric with one line for training
        and one for validation where the history has it (`ax.lines`).

    Raises:
        ValueError: a requested metric is not in the history.
    """
    history = read_history(history)
    names = [key for key in history if not key.startswith("val_")]
    names += [key[4:] for key in history if key.startswith("val_") and key[4:] not in history]
    if metrics is not None:
        unknown = [name for name in metrics if name not in names]
        if unknown:
            raise ValueError(f"Metrics {unknown} are not in the history; it has {names}.")
        names = list(metrics)
    columns = min(3, len(names))
    rows = math.ceil(len(names) / columns)
    figure = new_figure(4.0 * columns, 3.0 * rows)
    for index, name in enumerate(names):
        ax = figure.add_subplot(rows, columns, index + 1)
        for key, label, style in ((name, "training", "-"), (f"val_{name}", "validation", "--")):
            if key in history:
                values = history[key]
                ax.plot(range(1, len(values) + 1), values, style, marker=".", label=label)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=8)
    return figure
