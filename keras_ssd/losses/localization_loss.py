"""`LocalizationLoss`: what `SSD` needs from a localization loss, declared once."""

import keras


class LocalizationLoss(keras.losses.Loss):
    """Base class of the localization losses: the contract with `SSD`.

    `SSD` calls `call(y_true, y_pred)`, which returns the per-anchor loss
    `[batch, num_anchors]`, and applies its own per-anchor weights (per-box
    weight of positives, 0 elsewhere) and normalisation
    (`docs/conventions.md`, "The loss contract"): the loss' own `reduction`
    serves direct calls only.

    Attributes:
        compares_decoded_boxes: bool. `False`: `y_true` and `y_pred` are
            centre-size box deltas `[batch, num_anchors, 4]` (the box coder's
            encoding). `True`: `SSD` decodes both into normalised yxyx boxes
            first (IoU-family losses compare boxes, not deltas).
        anchorwise: bool. Whether the loss of each anchor depends only on
            that anchor's target and prediction, and XLA compiles `call`
            (see `ClassificationLoss`). The built-in losses set it.
    """

    compares_decoded_boxes = False
    anchorwise = False


def per_anchor_localization_loss(loss, box_targets, box_deltas, box_coder, anchors):
    """`loss.call` on what it compares: deltas, or boxes decoded from them.

    Args:
        loss: a `LocalizationLoss`.
        box_targets: encoded targets `[batch, num_anchors, 4]`.
        box_deltas: predicted deltas `[batch, num_anchors, 4]`.
        box_coder: the `BoxCoder` that encoded the targets.
        anchors: `[num_anchors, 4]` normalised yxyx.

    Returns:
        The per-anchor loss `[batch, num_anchors]`.
    """
    if loss.compares_decoded_boxes:
        # IoU-family losses compare boxes, not centre-size deltas.
        box_targets = box_coder.decode(box_targets, anchors)
        box_deltas = box_coder.decode(box_deltas, anchors)
    return loss.call(box_targets, box_deltas)
