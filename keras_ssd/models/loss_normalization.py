"""How `SSD` reduces its per-anchor losses to one number per replica.

The gradients Keras sums over replicas must equal a single-device step, so every
count divided by is the count over the global batch, and the regularisation
losses are divided by the number of replicas.
"""

import tensorflow as tf

LOSS_NORMALIZATIONS = ("num_positives", "per_image")


def num_replicas():
    """The number of replicas in sync (1 outside a distribution strategy)."""
    return tf.distribute.get_strategy().num_replicas_in_sync


def sum_over_replicas(value):
    """Sums a per-replica value over all replicas (identity outside a strategy)."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    return context.all_reduce(tf.distribute.ReduceOp.SUM, value)


def normalize_losses(classification, localization, positive, loss_normalization="num_positives"):
    """Reduces `[batch, anchors]` losses to per-replica scalars.

    Args:
        classification: float32 `[batch, num_anchors]` weighted classification losses.
        localization: float32 `[batch, num_anchors]` weighted localization losses.
        positive: float32 `[batch, num_anchors]`, 1 for positive anchors.
        loss_normalization: `"num_positives"` (divide by the number of
            positive anchors in the global batch, at least 1) or `"per_image"`
            (divide each image by its own count, at least 1, then average the
            images of the global batch). Defaults to `"num_positives"`.

    Returns:
        `(classification, localization)` float32 scalars.
    """
    if loss_normalization == "per_image":
        per_image_positives = tf.maximum(tf.reduce_sum(positive, axis=1), 1.0)
        # Summed, not local size × replicas: a last batch of 3 splits 2 + 1.
        global_batch = sum_over_replicas(tf.cast(tf.shape(positive)[0], tf.float32))
        return tuple(
            tf.reduce_sum(tf.reduce_sum(loss, axis=1) / per_image_positives) / global_batch
            for loss in (classification, localization)
        )
    num_positives = tf.maximum(sum_over_replicas(tf.reduce_sum(positive)), 1.0)
    return (
        tf.reduce_sum(classification) / num_positives,
        tf.reduce_sum(localization) / num_positives,
    )
