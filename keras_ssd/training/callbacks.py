"""Keras callbacks of the training job, and those of other rooms under the name users look for.

`PerClassAPPrinter` prints the per-class AP line of each epoch; `DetectionMetrics`
(metrics/) computes it; `TrainingCheckpoint` (checkpoint.py) makes a run resumable.
"""

import math

import keras

from keras_ssd.metrics.detection_metrics_callback import DetectionMetrics
from keras_ssd.training.checkpoint import TrainingCheckpoint

__all__ = ["DetectionMetrics", "PerClassAPPrinter", "ProgressBarWithoutAP", "TrainingCheckpoint"]


class PerClassAPPrinter(keras.callbacks.Callback):
    """Prints the per-class AP50 that `DetectionMetrics` put in the epoch's logs.

    Place it after `DetectionMetrics`. One line per epoch:
    `epoch 3 val AP50: top 0.412, dress 0.633 (mean 0.523); AP 0.301` (COCO's AP
    where the logs have it).

    Args:
        class_names: sequence of str.
        prefix: str. The `DetectionMetrics` prefix. Defaults to `"val_"`.
    """

    def __init__(self, class_names, prefix="val_"):
        super().__init__()
        self.class_names = [str(name) for name in class_names]
        self.prefix = prefix
        self.lines = []

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        key = f"{self.prefix}AP50"
        if key not in logs:
            return
        parts = [
            f"{name} {logs.get(f'{key}/{name}', math.nan):.3f}" for name in self.class_names
        ]
        line = f"epoch {epoch + 1} {key.replace('_', ' ')}: {', '.join(parts)} (mean {logs[key]:.3f})"
        if f"{self.prefix}AP" in logs:
            line += f"; AP {logs[f'{self.prefix}AP']:.3f}"
        self.lines.append(line)
        print(line)


class ProgressBarWithoutAP(keras.callbacks.ProgbarLogger):
    """Keras' progress bar without the AP entries, which `PerClassAPPrinter` prints.

    Keras writes values under 0.001 as `0.0000e+00`, and one entry per class makes
    the bar's last line as long as the class list; the AP line after it gives them
    with three decimals.

    Args:
        prefix: str. The `DetectionMetrics` prefix. Defaults to `"val_"`.
    """

    def __init__(self, prefix="val_"):
        super().__init__()
        self.prefix = prefix

    def _without_ap(self, logs):
        return {key: value for key, value in (logs or {}).items() if not key.startswith(f"{self.prefix}AP")}

    def _update_progbar(self, batch, logs=None):
        super()._update_progbar(batch, self._without_ap(logs))

    def _finalize_progbar(self, logs):
        super()._finalize_progbar(self._without_ap(logs))
