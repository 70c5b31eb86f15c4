"""What the two miners share: the wrapper around an inner loss, the batched rank and top-k.

`HardNegativeMining` (the SSD paper's rule) and `HardExampleMiner` (the TF
Object Detection API's) both wrap a per-anchor classification loss, forward its
class weights and background logit, and rank anchors by their loss.
"""

import keras
import tensorflow as tf

from keras_ssd.losses.classification_loss import ClassificationLoss
from keras_ssd.utils.xla import compiling_with_xla


def rank(order):
    """Inverse permutation of each row of `order`: the rank of every anchor.

    A scatter instead of a second argsort: linear, not `n log n`.

    Args:
        order: int32 tensor `[batch, num_anchors]`, a permutation per row
            (an argsort).

    Returns:
        int32 tensor `[batch, num_anchors]`: the position of each anchor in
        `order`.
    """
    batch_size, num_anchors = tf.unstack(tf.shape(order))
    rows = tf.broadcast_to(tf.range(batch_size)[:, tf.newaxis], tf.shape(order))
    positions = tf.broadcast_to(tf.range(num_anchors)[tf.newaxis, :], tf.shape(order))
    return tf.scatter_nd(tf.stack([rows, order], axis=-1), positions, tf.shape(order))


def keep_highest(scores, num_keep):
    """Marks the `num_keep[i]` highest scores of each row `i`.

    Equal scores are taken in anchor order (the lower index first), so the
    choice is deterministic. Outside XLA this is a `top_k` of the largest
    `num_keep` only (the SSD rule keeps 3 negatives per positive: a few hundred
    of thousands of anchors), about 2.5 times faster on a CPU than sorting
    every anchor (1524 anchors, batch 8). XLA needs a static `k`, so there it
    is a radix select: 32 counting passes, which XLA fuses, 4-5 times faster
    than its sort on a CPU. The marks are those of a stable sort either way.

    Args:
        scores: float tensor `[batch, num_anchors]` (compared in float32);
            `-inf` for anchors that must rank last.
        num_keep: int32 tensor `[batch]`, each in `[0, num_anchors]`.

    Returns:
        bool tensor `[batch, num_anchors]`.
    """
    if compiling_with_xla():
        return _keep_highest_by_radix_select(scores, num_keep)
    # top_k puts the lower index first among equal scores, as the stable sort does.
    # At least 0: the max of an empty batch (a replica's share of a last batch) is INT_MIN.
    k = tf.maximum(tf.reduce_max(num_keep), 0)
    _, top_indices = tf.math.top_k(scores, k=k)
    taken = tf.range(k)[tf.newaxis, :] < num_keep[:, tf.newaxis]
    rows = tf.broadcast_to(tf.range(tf.shape(scores)[0])[:, tf.newaxis], tf.shape(top_indices))
    marks = tf.scatter_nd(tf.stack([rows, top_indices], axis=-1), tf.cast(taken, tf.int32), tf.shape(scores))
    return marks > 0


def _keep_highest_by_radix_select(scores, num_keep):
    """`keep_highest` without a sort: each row's `num_keep`-th largest key, bit by bit."""
    scores = tf.cast(scores, tf.float32)  # the keys are float32 bit patterns
    # -0.0 and 0.0 are equal scores; their bit patterns are not.
    scores = tf.where(scores == 0.0, tf.zeros_like(scores), scores)
    bits = tf.bitcast(scores, tf.int32)
    # Flipping the magnitude bits of negative floats orders the int32 keys as the floats.
    keys = tf.bitwise.bitwise_xor(bits, tf.bitwise.right_shift(bits, 31) & 0x7FFFFFFF)
    keys = tf.cast(keys, tf.int64) + 2**31  # in [0, 2^32)
    wanted = tf.cast(num_keep, tf.int64)
    # The largest threshold with at least `num_keep` keys at or above it, from the top bit down.
    threshold = tf.zeros_like(wanted)
    for bit in range(31, -1, -1):
        candidate = threshold | (1 << bit)
        count = tf.reduce_sum(tf.cast(keys >= candidate[:, tf.newaxis], tf.int64), axis=1)
        threshold = tf.where(count >= wanted, candidate, threshold)
    above = keys > threshold[:, tf.newaxis]
    tied = keys == threshold[:, tf.newaxis]
    num_above = tf.reduce_sum(tf.cast(above, tf.int64), axis=1, keepdims=True)
    # Among keys equal to the threshold, the lower indices fill the places left.
    tied_taken = tf.cumsum(tf.cast(tied, tf.int64), axis=1) <= wanted[:, tf.newaxis] - num_above
    return above | (tied & tied_taken)


class MiningLoss(ClassificationLoss):
    """Base class of the miners: a loss that keeps some anchors of an inner loss.

    Only the inner loss' `call` is used (its own `reduction` is ignored); the
    miner's `sample_weight` and `reduction` apply to the mined loss. `call` is
    `mine(y_true, loss.call(y_true, logits), y_pred)`; `SSD` calls `mine` on
    inner losses it computed with their gradients (`keras_ssd.models.compiled_losses`).

    Args:
        loss: a per-anchor classification loss such as
            `WeightedSoftmaxClassificationLoss`, whose `call(y_true, y_pred)`
            returns `[batch, num_anchors]`.
        reduction: str. Keras reduction applied after `sample_weight`.
        name: str. Name of the loss.

    Raises:
        ValueError: if `loss` is not a Keras loss.
    """

    def __init__(self, loss, reduction="sum", name=None):
        if not isinstance(loss, keras.losses.Loss):
            raise ValueError(
                f"`loss` must be a keras.losses.Loss whose call returns a "
                f"per-anchor loss [batch, num_anchors], got "
                f"{type(loss).__name__}: {loss!r}."
            )
        super().__init__(name=name, reduction=reduction, dtype="float32")
        self.loss = loss

    def mine(self, y_true, losses, y_pred):
        """Keeps some anchors of the inner per-anchor losses.

        Args:
            y_true: tensor `[batch, num_anchors]` of class targets.
            losses: the inner loss' per-anchor losses `[batch, num_anchors]`.
            y_pred: what `call` got (logits, or a dict with `"logits"`).

        Returns:
            float32 tensor `[batch, num_anchors]`: `losses` with every anchor
            that is not kept set to 0.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement mine.")

    @property
    def class_weights(self):
        """The inner loss' class weights."""
        return self.loss.class_weights

    @property
    def uses_background_logit(self):
        """Whether the inner loss expects a background logit in column 0."""
        return self.loss.uses_background_logit

    def with_class_weights(self, class_weights):
        """Returns a new miner around `loss.with_class_weights(...)`.

        Args:
            class_weights: `None` or a sequence of `num_classes` non-negative
                finite floats.

        Returns:
            A new miner of the same class; neither `self` nor its inner loss
            is modified.
        """
        config = self.get_config()
        config["loss"] = keras.saving.serialize_keras_object(
            self.loss.with_class_weights(class_weights)
        )
        return type(self).from_config(config)

    def get_config(self):
        config = super().get_config()
        config["loss"] = keras.saving.serialize_keras_object(self.loss)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("loss"), dict):
            config["loss"] = keras.saving.deserialize_keras_object(config["loss"])
        return cls(**config)
