"""Where and how `train_detector` computes: a `tf.distribute` strategy, a dtype policy.

Both are TensorFlow's and Keras' own machinery; this module only maps the
`keras-ssd train` choices onto them and checks them before any work starts.
"""

import json
import os

import keras
import tensorflow as tf

PRECISIONS = {"float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}
"""`--mixed-precision` choices and the Keras dtype policy each one sets."""

DISTRIBUTIONS = ("mirrored", "multi_worker")
"""`--distribute` choices: `MirroredStrategy` (every local GPU) or
`MultiWorkerMirroredStrategy` (one process per machine, cluster in `TF_CONFIG`)."""


def set_precision(mixed_precision):
    """Sets Keras' global dtype policy for the models built afterwards.

    Args:
        mixed_precision: None (leave the policy as it is: float32 unless the
            caller set another), `"float16"` (`mixed_float16`; Keras wraps the
            optimizer in a `LossScaleOptimizer`) or `"bfloat16"`.

    Returns:
        str. The policy's name.
    """
    if mixed_precision is None:
        return keras.config.dtype_policy().name
    if mixed_precision in PRECISIONS:
        policy = PRECISIONS[mixed_precision]
    else:
        raise ValueError(
            f"mixed_precision must be None or one of {', '.join(PRECISIONS)}, got {mixed_precision!r}."
        )
    policy = PRECISIONS[mixed_precision]
    keras.config.set_dtype_policy(policy)
    return policy


def make_strategy(distribute):
    """The `tf.distribute` strategy of a `--distribute` choice.

    Args:
        distribute: None (the default strategy: one device), `"mirrored"` or
            `"multi_worker"` (needs `TF_CONFIG`; every worker runs the same
            command).

    Returns:
        A `tf.distribute.Strategy`.
    """
    if distribute is None:
        return tf.distribute.get_strategy()
    if distribute == "mirrored":
        return tf.distribute.MirroredStrategy()
    if distribute == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError(
                "distribute='multi_worker' needs the TF_CONFIG environment variable naming the "
                "cluster and this worker (docs/distributed_training.md, 'Many machines')."
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"distribute must be None or one of {', '.join(DISTRIBUTIONS)}, got {distribute!r}.")


def worker_output_dir(output_dir):
    """The folder this process writes: `output_dir` on the chief, a subfolder elsewhere.

    Under `MultiWorkerMirroredStrategy` every worker runs the same command;
    only the chief (worker 0) writes `output_dir`, the others write
    `output_dir/worker_<index>` so that no two processes write one file.

    Args:
        output_dir: str. The run folder of the command.

    Returns:
        str.
    """
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task = config.get("task") or {}
    if task.get("type", "worker") in ("worker", "chief") and int(task.get("index", 0)) == 0:
        return output_dir
    return os.path.join(output_dir, f"{task.get('type')}_{task.get('index')}")
