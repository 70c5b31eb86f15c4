"""The run folder of `train_detector`: resume, continue or refuse; its file names and history."""

import csv
import math
import os

from keras_ssd.training.checkpoint import STATE_FILE

MODEL = "model.keras"
BEST_MODEL = "best_model.keras"
HISTORY = "history.csv"
BACKUP = "backup"


class RunFolder:
    """What an output folder holds from earlier runs, and what a new run may do there.

    A finished run has `model.keras` (saved after `fit`); every run keeps
    `backup/` (`TrainingCheckpoint`: the last completed epoch) and the history
    of its completed epochs.

    Args:
        output_dir: str. The run folder (it may not exist yet).
    """

    def __init__(self, output_dir):
        self.output_dir = output_dir

    def _path(self, name):
        return os.path.join(self.output_dir, name)

    def history_rows(self):
        """The rows of `history.csv` (dicts of strings), empty if there is none."""
        if not os.path.isfile(self._path(HISTORY)):
            return []
        with open(self._path(HISTORY), newline="") as file:
            return list(csv.DictReader(file))

    def epochs_done(self):
        """Completed epochs: one more than the last epoch in `history.csv`."""
        rows = self.history_rows()
        return int(rows[-1]["epoch"]) + 1 if rows else 0

    def check_can_train(self, epochs):
        """The epoch a run of `epochs` epochs starts from here, or a ValueError.

        Returns:
            0 for a new run or one resumed from its backup; the epochs done for
            a finished run continued to more epochs (from its backup).

        Raises:
            ValueError: a finished run of at least `epochs` epochs, or a history
                without a model or a backup to go on from.
        """
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"epochs must be an int >= 1, got {epochs!r}.")
        done = self.epochs_done()
        if os.path.isfile(self._path(MODEL)):
            if epochs <= done or done == 0:
                raise ValueError(
                    f"{self.output_dir} holds a finished run of {done} epochs ({MODEL}, "
                    f"{HISTORY}); nothing was changed. To train it further, ask for more "
                    f"epochs in total (e.g. --epochs {max(done, 1) + 10}): it continues from "
                    f"{MODEL}. To start afresh, pick another output folder."
                )
            if not os.path.isfile(os.path.join(self._path(BACKUP), STATE_FILE)):
                raise ValueError(
                    f"{self.output_dir} holds a finished run of {done} epochs but not its "
                    f"checkpoint ({BACKUP}/{STATE_FILE}) to continue from; pick another output folder."
                )
            return done
        if done and not os.path.isdir(self._path(BACKUP)):
            raise ValueError(
                f"{self.output_dir} has a {HISTORY} of {done} epochs but neither {MODEL} nor "
                f"{BACKUP}/ to go on from; move it away or pick another output folder."
            )
        return 0

    def best(self, monitor):
        """The best (largest) `monitor` value in `history.csv`, or None."""
        values = []
        for row in self.history_rows():
            try:
                value = float(row.get(monitor, "nan"))
            except ValueError:
                continue
            if not math.isnan(value):
                values.append(value)
        return max(values) if values else None
