"""Class-weighted softmax cross-entropy over per-anchor class targets."""

import keras
import tensorflow as tf
from keras import ops

from keras_ssd.utils.arguments import check_number
from keras_ssd.losses.class_weighted_loss import ClassWeightedLoss


@keras.saving.register_keras_serializable(package="keras_ssd")
class WeightedSoftmaxClassificationLoss(ClassWeightedLoss):
    """Softmax cross-entropy per anchor, weighted by the target's class.

    The anchor's `num_classes + 1` logits (column 0 = background) are divided
    by `logit_scale` (TF Object Detection API `WeightedSoftmaxClassificationLoss`)
    and the loss is `-log_softmax(logits / logit_scale)[target]`, computed with
    a stable log-softmax. It is multiplied by `class_weights[k]` when the target
    is object class `k`, by `background_weight` for background and by 0 for
    ignored anchors. This is the loss of the original SSD (Liu et al. 2016,
    section 2.2, "confidence loss").

    The loss is computed in float32 even under a mixed-precision policy. It is
    not normalised by the number of positives: the model does that.

    Args:
        logit_scale: float > 0. The logits are divided by it (a softmax
            temperature). Defaults to `1.0`.
        class_weights: `None` or a sequence of `num_classes` non-negative finite
            floats, one per object class (background excluded). `None` weighs
            every class 1. Defaults to `None`.
        background_weight: float. Multiplier of background anchors' loss.
            Defaults to `1.0`.
        reduction: str. Keras reduction applied after `sample_weight`.
            Defaults to `"sum"`.
        name: str. Name of the loss. Defaults to
            `"weighted_softmax_classification_loss"`.

    Call arguments:
        y_true: tensor `[batch, num_anchors]` of class targets: 0 = background,
            `k + 1` = object class `k`, -1 = ignored.
        y_pred: logits `[batch, num_anchors, num_classes + 1]`, column 0 =
            background.
        sample_weight: optional per-anchor weights `[batch, num_anchors]`.

    Returns:
        `call` returns the class-weighted per-anchor loss `[batch, num_anchors]`;
        `__call__` multiplies by `sample_weight` and applies `reduction`.

    Raises:
        ValueError: if `logit_scale <= 0`, `class_weights` or
            `background_weight` is invalid, or the logits' last dimension is not
            `len(class_weights) + 1`.

    Example:

    >>> import numpy as np
    >>> loss = WeightedSoftmaxClassificationLoss(class_weights=[3.0])
    >>> y_true = np.array([[1, 0, -1]])  # class 0, background, ignored
    >>> y_pred = np.zeros((1, 3, 2), "float32")  # uniform softmax: CE = ln 2
    >>> np.asarray(loss.call(y_true, y_pred), "float64").round(4).tolist()
    [[2.0794, 0.6931, 0.0]]
    """

    uses_background_logit = True
    anchorwise = True

    def __init__(
        self,
        logit_scale=1.0,
        class_weights=None,
        background_weight=1.0,
        reduction="sum",
        name="weighted_softmax_classification_loss",
    ):
        logit_scale = check_number(
            logit_scale, "logit_scale", low=0, low_open=True, hint="(The logits are divided by it.)"
        )
        super().__init__(
            class_weights=class_weights,
            background_weight=background_weight,
            reduction=reduction,
            name=name,
        )
        self.logit_scale = float(logit_scale)

    def _per_anchor_loss(self, class_targets, logits, num_classes):
        if self.logit_scale != 1.0:
            logits = logits / self.logit_scale
        # -1 (ignored) one-hot encodes to an all-zero row: loss 0, gradient 0.
        labels = tf.one_hot(class_targets, num_classes + 1, dtype=tf.float32)
        return -ops.sum(labels * ops.log_softmax(logits, axis=-1), axis=-1)

    def get_config(self):
        config = super().get_config()
        config["logit_scale"] = self.logit_scale
        return config
