"""Smooth L1 (Huber) loss over encoded box deltas."""

import keras
from keras import ops

from keras_ssd.utils.arguments import check_number
from keras_ssd.losses.box_inputs import box_pair
from keras_ssd.losses.localization_loss import LocalizationLoss


@keras.saving.register_keras_serializable(package="keras_ssd")
class SmoothL1LocalizationLoss(LocalizationLoss):
    """Smooth L1 loss on the encoded box deltas of each anchor.

    The Huber form of the TF Object Detection API
    (`WeightedSmoothL1LocalizationLoss`), per coordinate of `x = y_pred - y_true`:

        0.5 * x ** 2                    if |x| < delta
        delta * (|x| - 0.5 * delta)     otherwise

    summed over the 4 coordinates of each anchor. With `delta=1` this is the
    smooth L1 of SSD (Liu et al. 2016, section 2.2, "localization loss"). It
    is computed as `0.5 * q ** 2 + delta * (|x| - q)` with `q = min(|x|, delta)`,
    which needs no branch and has a continuous gradient.

    The model passes `sample_weight` (per-box weight for positives, 0 for
    every other anchor), so only positives contribute. The loss is computed in
    float32 even under a mixed-precision policy and is not normalised by the
    number of positives: the model does that.

    Args:
        delta: float > 0. Where the loss turns from quadratic to linear.
            Defaults to `1.0`.
        reduction: str. Keras reduction applied after `sample_weight`.
            Defaults to `"sum"`.
        name: str. Name of the loss. Defaults to
            `"smooth_l1_localization_loss"`.

    Call arguments:
        y_true: encoded box targets `[batch, num_anchors, 4]`.
        y_pred: predicted box deltas `[batch, num_anchors, 4]`.
        sample_weight: optional per-anchor weights `[batch, num_anchors]`.

    Returns:
        `call` returns the per-anchor loss `[batch, num_anchors]`.

    Raises:
        ValueError: if `delta <= 0`, or the static shapes of `y_true` and
            `y_pred` differ or do not end in 4.

    Example:

    >>> import numpy as np
    >>> loss = SmoothL1LocalizationLoss(delta=1.0)
    >>> y_true = np.zeros((1, 1, 4), "float32")
    >>> y_pred = np.array([[[0.5, -2.0, 0.0, 1.0]]], "float32")
    >>> float(loss(y_true, y_pred))  # 0.125 + 1.5 + 0 + 0.5
    2.125
    """

    anchorwise = True

    def __init__(self, delta=1.0, reduction="sum", name="smooth_l1_localization_loss"):
        delta = check_number(delta, "delta", low=0, low_open=True)
        super().__init__(name=name, reduction=reduction, dtype="float32")
        self.delta = float(delta)

    def call(self, y_true, y_pred):
        """Per-anchor smooth L1 loss.

        Args:
            y_true: encoded box targets `[batch, num_anchors, 4]`.
            y_pred: predicted box deltas `[batch, num_anchors, 4]`.

        Returns:
            float32 tensor `[batch, num_anchors]`.

        Raises:
            ValueError: if the static shapes are inconsistent.
        """
        y_true, y_pred = box_pair(y_true, y_pred, "SmoothL1LocalizationLoss", "box deltas must have 4 coordinates")
        error = ops.abs(y_pred - y_true)
        quadratic = ops.minimum(error, self.delta)
        linear = error - quadratic
        return ops.sum(0.5 * ops.square(quadratic) + self.delta * linear, axis=-1)

    def get_config(self):
        config = super().get_config()
        config["delta"] = self.delta
        return config
