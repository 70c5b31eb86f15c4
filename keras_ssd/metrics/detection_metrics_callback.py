"""A callback that scores the detector with pycocotools every N epochs during `fit`."""

import math

import keras

from keras_ssd.metrics.model_evaluation import evaluate_model


class DetectionMetrics(keras.callbacks.Callback):
    """Evaluates COCO AP, AP50 and per-class AP50 every `every_n_epochs` epochs of `fit`.

    At the end of epochs `every_n_epochs`, `2 · every_n_epochs`, ... (1-based) it runs
    `evaluate_model` on `dataset` and writes into the epoch's `logs`:
    `{prefix}AP` (AP@[.5:.95]), `{prefix}AP50` and `{prefix}AP50/{class name}` for every
    class (NaN for a class without ground truth in `dataset`). Callbacks later in the list
    see them, so they land in `History` and, with `TensorBoard` placed **after** this
    callback, in TensorBoard (the `/` groups the per-class curves in one section).

    Keras' `History` appends a key's value only at the epochs that have it: with
    `every_n_epochs=2` and 4 epochs, `history.history["val_AP"]` has 2 values (epochs 2
    and 4) while `history.history["loss"]` has 4; `self.evaluated_epochs` lists the
    0-based epochs that were evaluated. No NaN is written at the other epochs, so
    `EarlyStopping(monitor="val_AP")` only acts on evaluated epochs (it warns and skips
    the others).

    Passed to `model.evaluate(..., callbacks=[metrics])` it evaluates once at the end and
    keeps the same entries in `metrics.last_metrics` (Keras 3.15 hands callbacks a copy of
    the logs at the end of `evaluate`, so its return value cannot carry them).

    Args:
        dataset: `tf.data.Dataset` of `(images, {"boxes", "classes"})` batches, as made by
            `keras_ssd.data.pipeline.to_detection_inputs` (not shuffled, not augmented).
        class_names: sequence of str, one per class.
        every_n_epochs: int >= 1. Evaluation period in epochs. Defaults to 1.
        prefix: str. Prefix of the log keys. Defaults to `"val_"`.

    Raises:
        ValueError: if `every_n_epochs` is not a positive int or `class_names` is empty.

    Example:

    ```python
    metrics = DetectionMetrics(validation, class_names, every_n_epochs=5)
    model.fit(train, epochs=20, callbacks=[metrics, keras.callbacks.TensorBoard("logs")])
    ```
    """

    def __init__(self, dataset, class_names, every_n_epochs=1, prefix="val_"):
        super().__init__()
        if isinstance(every_n_epochs, bool) or not isinstance(every_n_epochs, int) or every_n_epochs < 1:
            raise ValueError(
                f"DetectionMetrics: every_n_epochs must be an int >= 1, got {every_n_epochs!r}."
            )
        class_names = [str(name) for name in class_names]
        if not class_names:
            raise ValueError("DetectionMetrics: class_names is empty; give one name per class.")
        self.dataset = dataset
        self.class_names = class_names
        self.every_n_epochs = every_n_epochs
        self.prefix = str(prefix)
        self.evaluated_epochs = []
        self.reports = []
        self.last_metrics = {}
        self._training = False

    def on_train_begin(self, logs=None):
        self._training = True

    def on_train_end(self, logs=None):
        self._training = False

    def on_test_end(self, logs=None):
        # `model.evaluate(..., callbacks=[this], return_dict=True)` returns these
        # entries too; during `fit` the epoch end does the work instead.
        if self._training:
            return
        report = evaluate_model(self.model, self.dataset, self.class_names, progress=False)
        self.reports.append(report)
        self.last_metrics = self.metrics_from_report(report)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs:
            return
        report = evaluate_model(self.model, self.dataset, self.class_names, progress=False)
        self.evaluated_epochs.append(epoch)
        self.reports.append(report)
        self.last_metrics = self.metrics_from_report(report)
        if logs is not None:
            logs.update(self.last_metrics)

    def metrics_from_report(self, report):
        """The log entries of a `DetectionReport`: `{prefix}AP`, `{prefix}AP50`, per class."""
        metrics = {
            f"{self.prefix}AP": _clean(report.summary["AP"]),
            f"{self.prefix}AP50": _clean(report.summary["AP50"]),
        }
        for row in report.per_class:
            metrics[f"{self.prefix}AP50/{row['name']}"] = float(row["AP50"])
        return metrics


def _clean(value):
    # pycocotools writes -1 when nothing is defined (no ground truth at all).
    value = float(value)
    return math.nan if value < 0 else value
