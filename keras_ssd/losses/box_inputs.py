"""Shared input check of the localization losses."""

from keras import ops


def box_pair(y_true, y_pred, loss_name, what):
    """Casts both box tensors to float32 and checks their static shapes.

    Args:
        y_true: `[batch, num_anchors, 4]` targets.
        y_pred: `[batch, num_anchors, 4]` predictions.
        loss_name: str. Named in the error.
        what: str. What the last dimension holds, for the error.

    Returns:
        `(y_true, y_pred)` as float32 tensors.

    Raises:
        ValueError: if the shapes differ or the last dimension is not 4.
    """
    y_true = ops.cast(ops.convert_to_tensor(y_true), "float32")
    y_pred = ops.cast(ops.convert_to_tensor(y_pred), "float32")
    true_shape, pred_shape = tuple(y_true.shape), tuple(y_pred.shape)
    if len(true_shape) != len(pred_shape) or any(
        a is not None and b is not None and a != b for a, b in zip(true_shape, pred_shape)
    ):
        raise ValueError(
            f"{loss_name}: `y_true` shape {true_shape} and `y_pred` shape {pred_shape} "
            f"must be equal, [batch, num_anchors, 4]."
        )
    if not pred_shape or (pred_shape[-1] is not None and pred_shape[-1] != 4):
        raise ValueError(
            f"{loss_name}: {what} in the last dimension, got shape {pred_shape}."
        )
    return y_true, y_pred
