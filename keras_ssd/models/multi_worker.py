"""Workarounds that let Keras 3 `fit` run under `MultiWorkerMirroredStrategy`.

Keras 3.15 reduces values across workers in two ways that TensorFlow's
collective strategy refuses (keras-team/keras#20585): a whole nested data batch
in one `strategy.reduce` call (the symbolic build before the first step), and
scalar step logs with `strategy.reduce("MEAN", value, axis=0)`. `SSD` routes
both through the helpers here; under any other strategy they change nothing.
"""

import tensorflow as tf


def is_multi_worker(strategy):
    """Whether `strategy` is a `MultiWorkerMirroredStrategy` spanning workers.

    Args:
        strategy: a `tf.distribute.Strategy`, or None.

    Returns:
        True where Keras reduces step logs with the collective cross-worker path.
    """
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and bool(
        strategy.extended._in_multi_worker_mode()
    )


def first_replica_batch(strategy, batch):
    """One local replica's part of a distributed batch (enough for shapes).

    Args:
        strategy: the `tf.distribute.Strategy` that distributed `batch`.
        batch: a nested structure of `tf.distribute.DistributedValues` or tensors.

    Returns:
        The same structure with each distributed value replaced by its first
        local replica's tensor.
    """

    def first(value):
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    return tf.nest.map_structure(first, batch)


def logs_for_cross_worker_mean(logs):
    """Scalar step logs as `[1]` vectors, which Keras' cross-worker mean accepts.

    Keras averages multi-worker logs with `reduce("MEAN", value, axis=0)`, which
    fails on scalars; a `[1]` vector reduces to the same scalar mean.

    Args:
        logs: the dict a train or test step returns.

    Returns:
        `logs` with every scalar tensor reshaped to `[1]`.
    """
    return {
        name: tf.reshape(value, [1]) if tf.is_tensor(value) and value.shape.rank == 0 else value
        for name, value in logs.items()
    }
