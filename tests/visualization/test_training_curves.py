import csv

import keras
import numpy as np
import pytest

from keras_ssd.visualization import plot_training_curves, read_history

HISTORY = {
    "loss": [3.0, 2.0, 1.5],
    "classification_loss": [2.0, 1.2, 1.0],
    "val_loss": [3.2, 2.5, 2.0],
    "learning_rate": [0.001, 0.001, 0.0005],
}


def test_curves_from_a_history_object(tmp_path):
    history = keras.callbacks.History()
    history.history = HISTORY
    figure = plot_training_curves(history)
    assert [ax.get_title() for ax in figure.axes] == ["loss", "classification_loss", "learning_rate"]
    assert [len(ax.lines) for ax in figure.axes] == [2, 1, 1]
    train, validation = figure.axes[0].lines
    np.testing.assert_array_equal(train.get_xdata(), [1, 2, 3])
    np.testing.assert_allclose(validation.get_ydata(), HISTORY["val_loss"])
    figure.savefig(tmp_path / "curves.png")


def test_curves_from_the_csv_logger_file(tmp_path):
    path = tmp_path / "history.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["epoch", *HISTORY])
        for epoch in range(3):
            writer.writerow([epoch, *(values[epoch] for values in HISTORY.values())])
    assert read_history(str(path)) == HISTORY
    figure = plot_training_curves(path, metrics=["loss"])
    assert len(figure.axes) == 1 and len(figure.axes[0].lines) == 2


def test_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.csv: no such history file"):
        plot_training_curves(str(tmp_path / "missing.csv"))
    with pytest.raises(ValueError, match=r"Metrics \['accuracy'\] are not in the history"):
        plot_training_curves(HISTORY, metrics=["accuracy"])
    with pytest.raises(ValueError, match="different lengths"):
        plot_training_curves({"loss": [1.0, 2.0], "val_loss": [1.0]})
    with pytest.raises(ValueError, match="expects a keras History"):
        plot_training_curves({})
