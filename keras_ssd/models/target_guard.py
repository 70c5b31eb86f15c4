"""Stops `fit`/`evaluate` with a clear message when a batch had bad ground truth.

Under XLA (Keras' default on one GPU) `tf.debugging` asserts are compiled out,
so `SSD.compute_loss` instead counts bad targets into a `TargetProblemCounter`
and turns the loss into NaN; `TargetGuard` sees the NaN after the batch and
raises with the counts, as `keras.callbacks.TerminateOnNaN` would stop, but
saying why.
"""

import math

import keras
import numpy as np

from keras_ssd.data.validation import TARGET_PROBLEMS, describe_target_problems


class TargetProblemCounter:
    """A running count of each of `TARGET_PROBLEMS`, outside Keras' tracking.

    A plain object (not a Layer or Metric attribute) so the count is neither
    saved with the model nor shown in the progress bar. The variable sums over
    replicas like Keras' own metrics.
    """

    def __init__(self):
        self.variable = keras.Variable(
            np.zeros(len(TARGET_PROBLEMS), "int32"),
            dtype="int32",
            trainable=False,
            aggregation="sum",
            synchronization="on_read",
            name="target_problem_counts",
        )

    def add(self, counts):
        """Adds `[len(TARGET_PROBLEMS)]` int32 counts (in-graph)."""
        self.variable.assign_add(counts)

    def read(self):
        """The counts so far, summed over replicas, as a NumPy array."""
        return np.asarray(keras.ops.convert_to_numpy(self.variable.value))


class TargetGuard(keras.callbacks.Callback):
    """Raises `ValueError` after a batch whose loss is NaN because of its targets.

    Args:
        counter: the model's `TargetProblemCounter`.
        num_classes: int. The model's number of classes (for the message).
    """

    def __init__(self, counter, num_classes):
        super().__init__()
        self.counter = counter
        self.num_classes = num_classes
        self._baseline = None

    def _start(self, logs=None):
        self._baseline = self.counter.read()

    on_train_begin = on_test_begin = _start

    def _check(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(float(np.asarray(loss))):
            return
        raise_for_target_problems(self.counter, self._baseline, self.num_classes, batch)

    on_train_batch_end = on_test_batch_end = _check


def raise_for_target_problems(counter, baseline, num_classes, batch=None):
    """Raises `ValueError` if `counter` grew past `baseline`; otherwise returns.

    Args:
        counter: a `TargetProblemCounter`.
        baseline: counts read before the batches in question (or None: zero).
        num_classes: int. For the message.
        batch: optional batch index named in the message.
    """
    counts = counter.read()
    if baseline is not None:
        counts = counts - baseline
    message = describe_target_problems(counts, num_classes)
    if message:
        where = "" if batch is None else f" in batch {batch}"
        raise ValueError(f"Training stopped{where} (the loss was set to NaN). {message}")
