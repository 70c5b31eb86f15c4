"""Class-weighted sigmoid cross-entropy over per-anchor class targets."""

import keras
import tensorflow as tf
from keras import ops

from keras_ssd.losses.class_weighted_loss import ClassWeightedLoss


def sigmoid_targets(class_targets, num_classes):
    """One-hot sigmoid targets without a background column.

    Args:
        class_targets: int32 tensor `[batch, num_anchors]` (0 = background,
            `k + 1` = object class `k`, -1 = ignored).
        num_classes: int. Number of object classes.

    Returns:
        float32 tensor `[batch, num_anchors, num_classes]`; background and
        ignored anchors get an all-zero row.
    """
    # tf.one_hot maps the out-of-range indices -1 (background) and -2
    # (ignored) to all-zero rows, which is "every class off".
    return tf.one_hot(class_targets - 1, num_classes, dtype=tf.float32)


@keras.saving.register_keras_serializable(package="keras_ssd")
class WeightedSigmoidClassificationLoss(ClassWeightedLoss):
    """Sigmoid cross-entropy per anchor, weighted by the target's class.

    Each of the `num_classes` logits of an anchor is an independent binary
    classifier; a background anchor is "every class off". The per-anchor loss
    is the sum over the class columns of the sigmoid cross-entropy
    `max(x, 0) - x * z + log(1 + exp(-|x|))` (stable for any logit), multiplied
    by `class_weights[k]` when the target is object class `k`, by
    `background_weight` for background and by 0 for ignored anchors (TF Object
    Detection API `WeightedSigmoidClassificationLoss`, with class weights
    looked up from the target instead of passed per call).

    The loss is computed in float32 even under a mixed-precision policy. It is
    not normalised by the number of positives: the model does that.

    Args:
        class_weights: `None` or a sequence of `num_classes` non-negative finite
            floats, one per object class. `None` weighs every class 1.
            Defaults to `None`.
        background_weight: float. Multiplier of background anchors' loss.
            Defaults to `1.0`.
        reduction: str. Keras reduction applied after `sample_weight`
            (`"sum"`, `"none"`, `"sum_over_batch_size"`, ...). Defaults to
            `"sum"`.
        name: str. Name of the loss. Defaults to
            `"weighted_sigmoid_classification_loss"`.

    Call arguments:
        y_true: tensor `[batch, num_anchors]` of class targets: 0 = background,
            `k + 1` = object class `k`, -1 = ignored.
        y_pred: logits `[batch, num_anchors, num_classes]` (no background
            column).
        sample_weight: optional per-anchor weights `[batch, num_anchors]`.

    Returns:
        `call` returns the class-weighted per-anchor loss `[batch, num_anchors]`;
        `__call__` multiplies by `sample_weight` and applies `reduction`.

    Raises:
        ValueError: if `class_weights` or `background_weight` is invalid, or the
            logits' last dimension differs from `len(class_weights)`.

    Example:

    >>> import numpy as np
    >>> loss = WeightedSigmoidClassificationLoss(class_weights=[2.0, 1.0])
    >>> y_true = np.array([[2, 0, -1]])  # class 1, background, ignored
    >>> y_pred = np.zeros((1, 3, 2), "float32")  # every logit 0: CE = ln 2
    >>> np.asarray(loss.call(y_true, y_pred), "float64").round(4).tolist()
    [[1.3863, 1.3863, 0.0]]
    >>> round(float(loss(y_true, y_pred)), 4)  # reduction="sum"
    2.7726
    """

    uses_background_logit = False
    anchorwise = True

    def __init__(
        self,
        class_weights=None,
        background_weight=1.0,
        reduction="sum",
        name="weighted_sigmoid_classification_loss",
    ):
        super().__init__(
            class_weights=class_weights,
            background_weight=background_weight,
            reduction=reduction,
            name=name,
        )

    def _per_anchor_loss(self, class_targets, logits, num_classes):
        labels = sigmoid_targets(class_targets, num_classes)
        losses = tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
        return ops.sum(losses, axis=-1)
