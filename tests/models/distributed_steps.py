"""Runs a few SSD training steps on one device or under a strategy; writes the result.

Run by `test_ssd_distributed.py` in subprocesses (a strategy must be set up before
TensorFlow initialises its devices):
`python -m tests.models.distributed_steps {single,mirrored,worker} OUT.npz [per_image]`.
"""

import json
import sys

import numpy as np
import tensorflow as tf


def _data(num_images):
    from tests.models.test_ssd import _batch

    images, targets = _batch(num_images=num_images)
    # Every image gets boxes, in different places, so the replicas' losses differ.
    for index in range(1, num_images):
        shift = 0.05 * (index % 5)
        targets["classes"][index, :2] = [index % 3, (index + 1) % 3]
        targets["boxes"][index, :2] = [
            [0.1 + shift, 0.1, 0.5 + shift, 0.45],
            [0.3, 0.5 - shift, 0.9, 0.95 - shift],
        ]
    return images, targets


def run_steps(strategy, num_images, batch_size, loss_normalization):
    import keras

    from keras_ssd.models.ssd import SSD
    from tests.conftest import tiny_backbone

    keras.utils.set_random_seed(0)
    with strategy.scope():
        # No BatchNorm: per-replica batch statistics would differ by design.
        model = SSD(
            num_classes=3,
            backbone=tiny_backbone(down_to_1x1=True),
            image_size=64,
            loss_normalization=loss_normalization,
        )
        model.compile(optimizer=keras.optimizers.SGD(0.1))
    start = model.get_weights()
    images, targets = _data(num_images)
    data = tf.data.Dataset.from_tensor_slices((images, targets)).batch(batch_size)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    history = model.fit(data.with_options(options), epochs=1, verbose=0, shuffle=False)
    return start, model.get_weights(), history.history


def main(mode, output, loss_normalization="num_positives"):
    if mode == "mirrored":
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    elif mode == "worker":  # TF_CONFIG names the cluster and this worker
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    else:
        strategy = tf.distribute.get_strategy()
    # A last batch of 3 splits 2 + 1 over two replicas (uneven on purpose).
    num_images, batch_size = (7, 4) if loss_normalization == "per_image" else (8, 4)
    start, weights, history = run_steps(strategy, num_images, batch_size, loss_normalization)
    np.savez(output, *weights, start_0=start[0])
    with open(output + ".json", "w") as file:
        json.dump({"replicas": strategy.num_replicas_in_sync, "history": history}, file)


if __name__ == "__main__":
    main(*sys.argv[1:])
