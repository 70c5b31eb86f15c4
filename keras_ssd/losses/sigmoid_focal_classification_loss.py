"""Class-weighted sigmoid focal loss over per-anchor class targets."""

import keras
import tensorflow as tf
from keras import ops

from keras_ssd.utils.arguments import check_number
from keras_ssd.losses.class_weighted_loss import ClassWeightedLoss
from keras_ssd.losses.weighted_sigmoid_classification_loss import sigmoid_targets


@keras.saving.register_keras_serializable(package="keras_ssd")
class SigmoidFocalClassificationLoss(ClassWeightedLoss):
    """Sigmoid focal loss per anchor, weighted by the target's class.

    The RetinaNet form (Lin et al. 2017, section 3.2; TF Object Detection API
    `SigmoidFocalClassificationLoss`), elementwise per class column with the
    one-hot target `z` (all zeros for background):

        loss = CE(z, x) * (1 - p_t) ** gamma * alpha_t
        p_t = z * sigmoid(x) + (1 - z) * (1 - sigmoid(x))
        alpha_t = z * alpha + (1 - z) * (1 - alpha)

    summed over the `num_classes` columns, then multiplied by
    `class_weights[k]` when the target is object class `k`, by
    `background_weight` for background and by 0 for ignored anchors.
    `(1 - p_t) ** gamma` is computed as `exp(-gamma * softplus(s * x))` with
    `s = 2 z - 1`, which is finite with a finite gradient for any logit and any
    `gamma >= 0` (the power form has an infinite derivative at `p_t = 1` when
    `gamma < 1`). With `gamma=0` and `alpha=None` the loss equals
    `WeightedSigmoidClassificationLoss` exactly.

    The loss is computed in float32 even under a mixed-precision policy. It is
    not normalised by the number of positives: the model does that.

    Args:
        gamma: float >= 0. Focusing parameter. Defaults to `2.0`.
        alpha: float in `[0, 1]` or `None`. Weight of positive targets (and
            `1 - alpha` of negative targets); `None` disables the factor.
            Defaults to `0.25`.
        class_weights: `None` or a sequence of `num_classes` non-negative finite
            floats, one per object class. `None` weighs every class 1.
            Defaults to `None`.
        background_weight: float. Multiplier of background anchors' loss.
            Defaults to `1.0`.
        reduction: str. Keras reduction applied after `sample_weight`.
            Defaults to `"sum"`.
        name: str. Name of the loss. Defaults to
            `"sigmoid_focal_classification_loss"`.

    Call arguments and returns: as `WeightedSigmoidClassificationLoss` (logits
    `[batch, num_anchors, num_classes]`, no background column).

    Raises:
        ValueError: if `gamma < 0`, `alpha` is outside `[0, 1]`,
            `class_weights` or `background_weight` is invalid, or the logits'
            last dimension differs from `len(class_weights)`.

    Example:

    >>> import numpy as np
    >>> loss = SigmoidFocalClassificationLoss(gamma=2.0, alpha=0.25)
    >>> y_true = np.array([[1]])  # object class 0
    >>> y_pred = np.zeros((1, 1, 1), "float32")  # p = 0.5
    >>> round(float(loss(y_true, y_pred)), 6)  # ln 2 * 0.5**2 * 0.25
    0.043322
    """

    uses_background_logit = False
    anchorwise = True

    def __init__(
        self,
        gamma=2.0,
        alpha=0.25,
        class_weights=None,
        background_weight=1.0,
        reduction="sum",
        name="sigmoid_focal_classification_loss",
    ):
        gamma = check_number(gamma, "gamma", low=0)
        alpha = check_number(alpha, "alpha", low=0, high=1, optional=True, hint="(None disables it.)")
        super().__init__(
            class_weights=class_weights,
            background_weight=background_weight,
            reduction=reduction,
            name=name,
        )
        self.gamma = float(gamma)
        self.alpha = None if alpha is None else float(alpha)

    def _per_anchor_loss(self, class_targets, logits, num_classes):
        labels = sigmoid_targets(class_targets, num_classes)
        losses = tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
        if self.gamma != 0.0:
            signs = 2.0 * labels - 1.0
            # log(1 - p_t) = -softplus(s * x): no log(0), no 0 ** (gamma - 1).
            losses = losses * ops.exp(-self.gamma * ops.softplus(signs * logits))
        if self.alpha is not None:
            losses = losses * (labels * self.alpha + (1.0 - labels) * (1.0 - self.alpha))
        return ops.sum(losses, axis=-1)

    def get_config(self):
        config = super().get_config()
        config.update({"gamma": self.gamma, "alpha": self.alpha})
        return config
