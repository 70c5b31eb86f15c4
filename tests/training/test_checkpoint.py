"""TrainingCheckpoint on a one-layer model: what a restart finds and continues."""

import csv
import json
import os

import keras
import numpy as np
import pytest

from keras_ssd.training.checkpoint import TrainingCheckpoint, format_history

# 8 samples in batches of 4: 2 optimizer steps per epoch.
X = np.arange(16, dtype="float32").reshape(8, 2) / 16.0
Y = X.sum(axis=1, keepdims=True)


def _model(units=1):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(units)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return model


class _RecordEpochs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)


def _fit(model, checkpoint, epochs):
    recorder = _RecordEpochs()
    model.fit(X, Y, batch_size=4, epochs=epochs, shuffle=False, verbose=0, callbacks=[recorder, checkpoint])
    return recorder.epochs


def _epochs_in_csv(path):
    with open(path, newline="") as handle:
        return [row["epoch"] for row in csv.DictReader(handle)]


def _checkpoint(tmp_path):
    return TrainingCheckpoint(str(tmp_path / "backup"), str(tmp_path / "history.csv"))


def test_a_new_run_continues_the_epochs_and_the_optimizer_steps(tmp_path):
    first = _model()
    assert _fit(first, _checkpoint(tmp_path), epochs=2) == [0, 1]
    assert sorted(os.listdir(tmp_path / "backup")) == ["epoch-2.keras", "state.json"]

    second = _model()
    assert _fit(second, _checkpoint(tmp_path), epochs=3) == [2]
    assert int(second.optimizer.iterations.numpy()) == 6  # 3 epochs x 2 steps, not 2
    assert _epochs_in_csv(tmp_path / "history.csv") == ["0", "1", "2"]
    with open(tmp_path / "backup" / "state.json") as handle:
        state = json.load(handle)
    assert state["epoch"] == 3 and state["checkpoint"] == "epoch-3.keras"
    assert [row["epoch"] for row in state["history"]] == [0, 1, 2]


def test_the_restored_model_equals_the_saved_one(tmp_path):
    first = _model()
    _fit(first, _checkpoint(tmp_path), epochs=2)
    second = _model()
    # fit(epochs=2) after 2 completed epochs trains nothing; the weights are those of the checkpoint.
    assert _fit(second, _checkpoint(tmp_path), epochs=2) == []
    for saved, restored in zip(first.variables, second.variables):
        np.testing.assert_array_equal(saved.numpy(), restored.numpy())
    for saved, restored in zip(first.optimizer.variables, second.optimizer.variables):
        np.testing.assert_array_equal(saved.numpy(), restored.numpy())


def test_an_uncommitted_checkpoint_and_stray_temporaries_are_ignored_and_removed(tmp_path):
    _fit(_model(), _checkpoint(tmp_path), epochs=1)
    backup = tmp_path / "backup"
    # A kill after epoch-2.keras was renamed but before state.json was: state.json still says 1.
    (backup / "epoch-2.keras").write_bytes((backup / "epoch-1.keras").read_bytes())
    (backup / ".epoch-3.keras.abc.partial.keras").write_bytes(b"PK\x03")
    (tmp_path / ".history.csv.abc.partial.csv").write_text("epoch\n0\n0\n")
    model = _model()
    assert _fit(model, _checkpoint(tmp_path), epochs=2) == [1]
    assert sorted(os.listdir(backup)) == ["epoch-2.keras", "state.json"]
    assert sorted(os.listdir(tmp_path)) == ["backup", "history.csv"]
    assert _epochs_in_csv(tmp_path / "history.csv") == ["0", "1"]
    assert int(model.optimizer.iterations.numpy()) == 4


def test_a_rerun_after_an_uncommitted_first_epoch_starts_afresh(tmp_path):
    (tmp_path / "backup").mkdir()
    (tmp_path / "backup" / "epoch-1.keras").write_bytes(b"half")
    (tmp_path / "history.csv").write_text("epoch,loss\n0,1.0\n")  # from an older run
    assert _fit(_model(), _checkpoint(tmp_path), epochs=1) == [0]
    assert _epochs_in_csv(tmp_path / "history.csv") == ["0"]
    assert sorted(os.listdir(tmp_path / "backup")) == ["epoch-1.keras", "state.json"]


def test_a_checkpoint_of_another_model_is_refused_naming_the_file(tmp_path):
    _fit(_model(units=1), _checkpoint(tmp_path), epochs=1)
    with pytest.raises(ValueError, match=r"epoch-1\.keras: this checkpoint does not fit the model being trained"):
        _fit(_model(units=3), _checkpoint(tmp_path), epochs=2)


def test_format_history_writes_csvlogger_columns():
    rows = [{"epoch": 0, "loss": 2.5, "val_loss": 3.0}, {"epoch": 1, "loss": 1.25}]
    assert format_history(rows) == "epoch,loss,val_loss\n0,2.5,3.0\n1,1.25,NA\n"


def test_backup_dir_is_required():
    with pytest.raises(ValueError, match="backup_dir: expected a folder name"):
        TrainingCheckpoint("")


def test_a_resumed_model_fitted_again_without_a_checkpoint_starts_at_epoch_0(tmp_path):
    _fit(_model(), _checkpoint(tmp_path / "first"), epochs=2)
    model = _model()
    assert _fit(model, _checkpoint(tmp_path / "first"), epochs=3) == [2]
    recorder = _RecordEpochs()
    model.fit(X, Y, batch_size=4, epochs=2, verbose=0, callbacks=[recorder])
    assert recorder.epochs == [0, 1]


def test_a_missing_checkpoint_file_is_reported_naming_the_state(tmp_path):
    _fit(_model(), _checkpoint(tmp_path), epochs=1)
    os.remove(tmp_path / "backup" / "epoch-1.keras")
    with pytest.raises(FileNotFoundError, match=r"state\.json: the checkpoint it names, .*epoch-1\.keras, is missing"):
        _fit(_model(), _checkpoint(tmp_path), epochs=2)
