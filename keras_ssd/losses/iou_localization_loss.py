"""IoU and generalised IoU losses over decoded boxes."""

import keras
from keras import ops

from keras_ssd.losses.box_inputs import box_pair
from keras_ssd.losses.localization_loss import LocalizationLoss

MODES = ("giou", "iou")
# Decoded predictions are exp(...) of raw deltas and can overflow; clipping the
# coordinates keeps every area finite (no inf - inf) without touching real boxes.
COORDINATE_LIMIT = 1e4
# Smallest union / enclosing area divided by, so degenerate boxes give 0, not NaN.
EPSILON = 1e-9


def _extents(boxes):
    """Splits yxyx boxes into coordinates and non-negative height and width."""
    y_min, x_min, y_max, x_max = (boxes[..., index] for index in range(4))
    height = ops.maximum(y_max - y_min, 0.0)
    width = ops.maximum(x_max - x_min, 0.0)
    return y_min, x_min, y_max, x_max, height, width


@keras.saving.register_keras_serializable(package="keras_ssd")
class IoULocalizationLoss(LocalizationLoss):
    """`1 - IoU` or `1 - GIoU` between each anchor's predicted and target box.

    Elementwise (anchor `i` of `y_pred` against anchor `i` of `y_true`, not
    pairwise), on decoded normalised `[ymin, xmin, ymax, xmax]` boxes. With
    `h = max(ymax - ymin, 0)` and `w = max(xmax - xmin, 0)`:

        I = max(min(ymax_p, ymax_t) - max(ymin_p, ymin_t), 0)
            * max(min(xmax_p, xmax_t) - max(xmin_p, xmin_t), 0)
        U = h_p * w_p + h_t * w_t - I
        IoU = I / max(U, eps)
        C = (max(ymax_p, ymax_t) - min(ymin_p, ymin_t))
            * (max(xmax_p, xmax_t) - min(xmin_p, xmin_t))
        GIoU = IoU - (C - U) / max(C, eps)

    with `eps = 1e-9` (Rezatofighi et al. 2019, "Generalized Intersection over
    Union", algorithm 1; TF Object Detection API `WeightedIOULocalizationLoss`
    and `WeightedGIOULocalizationLoss`). The loss is `1 - IoU` in `[0, 1]` or
    `1 - GIoU` in `[0, 2]`. Degenerate boxes (zero or negative height or width)
    have area 0: the loss is finite, `1` for IoU, and so are the gradients.
    Coordinates are first clipped to `[-1e4, 1e4]` so that an overflowing
    decoded prediction still gives finite areas. Keras'
    `compute_iou` is pairwise and `compute_ciou` computes CIoU with other
    epsilon terms, so neither is used.

    `SSD` sees the `compares_decoded_boxes` attribute and decodes its box
    targets and predicted deltas with its box coder before calling this loss.
    It passes `sample_weight` (per-box weight for positives, 0 for every other
    anchor), so only positives contribute. The loss is computed in float32 even
    under a mixed-precision policy and is not normalised by the number of
    positives: the model does that.

    Args:
        mode: `"giou"` or `"iou"`. Defaults to `"giou"`.
        reduction: str. Keras reduction applied after `sample_weight`.
            Defaults to `"sum"`.
        name: str. Name of the loss. Defaults to `"iou_localization_loss"`.

    Call arguments:
        y_true: target boxes `[batch, num_anchors, 4]`, normalised yxyx.
        y_pred: predicted boxes `[batch, num_anchors, 4]`, normalised yxyx.
        sample_weight: optional per-anchor weights `[batch, num_anchors]`.

    Returns:
        `call` returns the per-anchor loss `[batch, num_anchors]`.

    Raises:
        ValueError: if `mode` is not `"giou"` or `"iou"`, or the static shapes
            of `y_true` and `y_pred` differ or do not end in 4.

    Example:

    >>> import numpy as np
    >>> y_true = np.array([[[0.0, 0.0, 0.2, 0.2]]], "float32")
    >>> y_pred = np.array([[[0.1, 0.1, 0.3, 0.3]]], "float32")
    >>> # I = 0.01, U = 0.07, C = 0.09: IoU = 1/7, GIoU = 1/7 - 2/9
    >>> round(float(IoULocalizationLoss(mode="iou")(y_true, y_pred)), 6)
    0.857143
    >>> round(float(IoULocalizationLoss(mode="giou")(y_true, y_pred)), 6)
    1.079365
    """

    compares_decoded_boxes = True
    anchorwise = True

    def __init__(self, mode="giou", reduction="sum", name="iou_localization_loss"):
        if mode not in MODES:
            raise ValueError(f"`mode` must be one of {MODES}, got {mode!r}.")
        super().__init__(name=name, reduction=reduction, dtype="float32")
        self.mode = mode

    def call(self, y_true, y_pred):
        """Per-anchor `1 - IoU` or `1 - GIoU`.

        Args:
            y_true: target boxes `[batch, num_anchors, 4]`, normalised yxyx.
            y_pred: predicted boxes `[batch, num_anchors, 4]`, normalised yxyx.

        Returns:
            float32 tensor `[batch, num_anchors]`.

        Raises:
            ValueError: if the static shapes are inconsistent.
        """
        y_true, y_pred = box_pair(y_true, y_pred, "IoULocalizationLoss", "boxes must be decoded [ymin, xmin, ymax, xmax]")
        y_true = ops.clip(y_true, -COORDINATE_LIMIT, COORDINATE_LIMIT)
        y_pred = ops.clip(y_pred, -COORDINATE_LIMIT, COORDINATE_LIMIT)
        y_min_t, x_min_t, y_max_t, x_max_t, height_t, width_t = _extents(y_true)
        y_min_p, x_min_p, y_max_p, x_max_p, height_p, width_p = _extents(y_pred)

        intersection_height = ops.maximum(
            ops.minimum(y_max_p, y_max_t) - ops.maximum(y_min_p, y_min_t), 0.0
        )
        intersection_width = ops.maximum(
            ops.minimum(x_max_p, x_max_t) - ops.maximum(x_min_p, x_min_t), 0.0
        )
        intersection = intersection_height * intersection_width
        union = height_p * width_p + height_t * width_t - intersection
        iou = intersection / ops.maximum(union, EPSILON)
        if self.mode == "iou":
            return 1.0 - iou
        enclosing = ops.maximum(
            ops.maximum(y_max_p, y_max_t) - ops.minimum(y_min_p, y_min_t), 0.0
        ) * ops.maximum(ops.maximum(x_max_p, x_max_t) - ops.minimum(x_min_p, x_min_t), 0.0)
        return 1.0 - iou + (enclosing - union) / ops.maximum(enclosing, EPSILON)

    def get_config(self):
        config = super().get_config()
        config["mode"] = self.mode
        return config
