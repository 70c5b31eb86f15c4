"""Resumable training: one checkpoint per completed epoch, each written atomically."""

import csv
import io
import json
import os
import re

import keras
import numpy as np

from keras_ssd.utils.atomic_files import remove_partial_files, save_model_atomically, write_text_atomically

STATE_FILE = "state.json"
_CHECKPOINT = re.compile(r"^epoch-(\d+)\.keras$")


class TrainingCheckpoint(keras.callbacks.Callback):
    """Saves the model, its optimizer state and the history after every epoch; resumes from them.

    After epoch `n` (counted from 1) `backup_dir` holds:

    - `epoch-<n>.keras`: the whole model, optimizer state (and its iteration
      counter, which drives the learning-rate schedule) included;
    - `state.json`: `{"epoch": n, "checkpoint": "epoch-<n>.keras", "history": [...]}`,
      one history row per completed epoch.

    Both are written to a temporary file and renamed into place, the model
    first: `state.json` is the commit point. A process killed at any moment
    leaves a `state.json` naming a complete model of the same epoch, so a
    restart neither repeats a completed epoch nor skips one. `history_path`
    (a CSV in the layout of `keras.callbacks.CSVLogger`) is rewritten from
    the committed rows, so its rows are never duplicated or lost.

    When `fit` starts, a committed checkpoint is loaded into the model (which
    must be built and compiled as in the run that wrote it) and training
    continues with the next epoch. Without one, training starts from epoch 0
    and `history_path` is started afresh. The checkpoint is kept after the
    last epoch: the same command run again does not train again.

    Args:
        backup_dir: str. Folder of the checkpoints, used by nothing else.
        history_path: optional str. The CSV of per-epoch logs.
    """

    def __init__(self, backup_dir, history_path=None):
        super().__init__()
        if not backup_dir:
            raise ValueError(f"backup_dir: expected a folder name, got {backup_dir!r}.")
        self.backup_dir = str(backup_dir)
        self.history_path = None if history_path is None else str(history_path)
        self.history = []

    @property
    def state_path(self):
        """Path of `state.json`, the file that says which epoch is complete."""
        return os.path.join(self.backup_dir, STATE_FILE)

    def read_state(self):
        """The committed state as a dict, or None before the first completed epoch."""
        if not os.path.exists(self.state_path):
            return None
        with open(self.state_path, encoding="utf-8") as handle:
            return json.load(handle)

    def on_train_begin(self, logs=None):
        os.makedirs(self.backup_dir, exist_ok=True)
        remove_partial_files(self.backup_dir)
        if self.history_path is not None:
            remove_partial_files(os.path.dirname(os.path.abspath(self.history_path)))
        state = self.read_state()
        if state is None:
            self.history = []
            self.model._initial_epoch = None
        else:
            self._restore(state)
        self._remove_other_checkpoints(None if state is None else state["checkpoint"])
        self._write_history()

    def _restore(self, state):
        path = os.path.join(self.backup_dir, state["checkpoint"])
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"{self.state_path}: the checkpoint it names, {path}, is missing (deleted by hand?). "
                f"Delete {self.backup_dir} to start afresh."
            )
        if not self.model.built:
            raise ValueError(f"{path}: cannot resume into a model that is not built; build it before `fit`.")
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:
            # The optimizer's slots must exist before its state can be loaded.
            optimizer.build(self.model.trainable_variables)
        try:
            self.model.load_weights(path)
        except ValueError as error:
            raise ValueError(
                f"{path}: this checkpoint does not fit the model being trained ({error}). It was "
                f"written with other settings: delete {self.backup_dir} to start afresh, or choose "
                "another output folder."
            ) from error
        self.history = [row for row in state["history"] if row["epoch"] < state["epoch"]]
        # What keras.callbacks.BackupAndRestore sets: `fit` starts its epoch loop there.
        self.model._initial_epoch = state["epoch"]
        step = "" if optimizer is None else f", optimizer step {int(optimizer.iterations.numpy())}"
        print(f"Resuming from {path}: {state['epoch']} epochs done{step}.")

    def on_epoch_end(self, epoch, logs=None):
        completed = epoch + 1
        row = {"epoch": epoch, **{key: _plain(value) for key, value in (logs or {}).items()}}
        self.history = [old for old in self.history if old["epoch"] < epoch] + [row]
        name = f"epoch-{completed}.keras"
        save_model_atomically(self.model, os.path.join(self.backup_dir, name))
        state = {"epoch": completed, "checkpoint": name, "history": self.history}
        write_text_atomically(self.state_path, json.dumps(state, indent=1))
        self._remove_other_checkpoints(name)
        self._write_history()

    def on_train_end(self, logs=None):
        # Read once, after `on_train_begin`: a later `fit` of this model must not inherit it.
        self.model._initial_epoch = None

    def _remove_other_checkpoints(self, keep):
        # Older epochs, and a model written by a run killed before its commit.
        for name in os.listdir(self.backup_dir):
            if _CHECKPOINT.match(name) and name != keep:
                os.remove(os.path.join(self.backup_dir, name))

    def _write_history(self):
        if self.history_path is None:
            return
        if not self.history:
            if os.path.exists(self.history_path):
                os.remove(self.history_path)
            return
        write_text_atomically(self.history_path, format_history(self.history))


def format_history(rows):
    """Per-epoch logs as CSV text: `epoch`, then the other keys sorted (as `CSVLogger`).

    Args:
        rows: list of dicts, each with an `"epoch"` key.

    Returns:
        str. A header line and one line per row; a key a row lacks is `NA`.
    """
    keys = sorted({key for row in rows for key in row if key != "epoch"})
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=["epoch", *keys], restval="NA", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()


def _plain(value):
    """A log value as JSON can hold it: a float, a list of floats, or a string."""
    array = np.asarray(value)
    if array.dtype.kind in "biuf":
        return float(array) if array.ndim == 0 else array.astype(float).tolist()
    return str(value)
