"""`ClassWeightedLoss`, the base class of the class-weighted classification losses.

`WeightedSigmoidClassificationLoss`, `WeightedSoftmaxClassificationLoss` and
`SigmoidFocalClassificationLoss` derive from it; it also holds the per-anchor
class-weight lookup (`anchor_class_weights`) that `SSD` uses for its
localization weights. `class_weights` are checked by
`keras_ssd.losses.class_weights.resolve_class_weights`. The per-anchor target
convention is the one of `docs/conventions.md`: 0 = background, `k + 1` =
object class `k`, -1 = ignored.
"""

import keras
from keras import ops

from keras_ssd.utils.arguments import check_number
from keras_ssd.losses.classification_loss import ClassificationLoss
from keras_ssd.losses.class_weights import resolve_class_weights


def class_targets_to_int(y_true):
    """Casts per-anchor class targets to int32.

    Keras' `Loss.__call__` converts `y_true` to the loss dtype (float32), so the
    integer targets usually arrive as floats; they are rounded before the cast
    so that a value such as 2.9999998 cannot become class 1.

    Args:
        y_true: tensor `[batch, num_anchors]`, integer or float class targets.

    Returns:
        int32 tensor `[batch, num_anchors]`.
    """
    y_true = ops.convert_to_tensor(y_true)
    if "int" not in str(y_true.dtype):
        y_true = ops.round(y_true)
    return ops.cast(y_true, "int32")


def anchor_class_weights(class_targets, class_weights, background_weight, num_classes):
    """Looks up the class weight of each anchor's target.

    Args:
        class_targets: int32 tensor `[batch, num_anchors]` (0 = background,
            `k + 1` = object class `k`, -1 = ignored).
        class_weights: `None` or a tuple of `num_classes` floats. `None` weighs
            every object class 1.
        background_weight: float. Weight of background anchors (target 0).
        num_classes: int or scalar int tensor. Number of object classes.

    Returns:
        float32 tensor `[batch, num_anchors]`: `class_weights[k]` for target
        `k + 1`, `background_weight` for target 0, and 0 for target -1. Targets
        outside `[-1, num_classes]` also get 0, i.e. they are treated as
        ignored (the check cannot raise inside a compiled graph).
    """
    if class_weights is None:
        object_weights = ops.ones((num_classes,), dtype="float32")
    else:
        object_weights = ops.convert_to_tensor(class_weights, dtype="float32")
    # Table: [background, class 0 .. class C-1, "invalid or ignored"].
    table = ops.concatenate(
        [
            ops.convert_to_tensor([background_weight], dtype="float32"),
            object_weights,
            ops.zeros((1,), dtype="float32"),
        ],
        axis=0,
    )
    valid = ops.logical_and(class_targets >= 0, class_targets <= num_classes)
    index = ops.where(valid, class_targets, num_classes + 1)
    return ops.take(table, index, axis=0)


class ClassWeightedLoss(ClassificationLoss):
    """Base class of the per-anchor, class-weighted classification losses.

    Subclasses implement `_per_anchor_loss(class_targets, logits)` returning the
    unweighted loss `[batch, num_anchors]`; this class validates the inputs,
    applies the class weights, zeroes ignored anchors and handles the config.

    Args:
        class_weights: `None` or a sequence of `num_classes` non-negative finite
            floats; the loss of an anchor whose target is object class `k` is
            multiplied by `class_weights[k]`. `None` weighs every class 1.
            Defaults to `None`.
        background_weight: float. Multiplier of the loss of background anchors.
            Defaults to `1.0`.
        reduction: str. Keras reduction applied after `sample_weight`.
            Defaults to `"sum"`.
        name: str. Name of the loss.
    """

    def __init__(self, class_weights=None, background_weight=1.0, reduction="sum", name=None):
        # Float32 even under a mixed-precision policy: the loss is a sum over
        # thousands of anchors and float16 would overflow or lose the tail.
        super().__init__(name=name, reduction=reduction, dtype="float32")
        self._class_weights = resolve_class_weights(class_weights)
        self.background_weight = check_number(background_weight, "background_weight", low=0)

    @property
    def class_weights(self):
        """Tuple of per-object-class weights, or `None` (all 1)."""
        return self._class_weights

    def with_class_weights(self, class_weights):
        """A new loss of the same class with other class weights (see `ClassificationLoss`)."""
        config = self.get_config()
        validated = resolve_class_weights(class_weights)
        config["class_weights"] = None if validated is None else list(validated)
        return type(self).from_config(config)

    def _num_logits(self, num_classes):
        return num_classes + 1 if self.uses_background_logit else num_classes

    def _check_shapes(self, y_true, y_pred):
        true_shape, pred_shape = tuple(y_true.shape), tuple(y_pred.shape)
        if len(pred_shape) < 2:
            raise ValueError(
                f"{type(self).__name__}: `y_pred` must be logits of shape "
                f"[batch, num_anchors, num_logits], got shape {pred_shape}."
            )
        if len(true_shape) != len(pred_shape) - 1:
            raise ValueError(
                f"{type(self).__name__}: `y_true` must hold one integer class "
                f"target per anchor, shape {pred_shape[:-1]}, got shape "
                f"{true_shape} for logits of shape {pred_shape}."
            )
        for true_dim, pred_dim in zip(true_shape, pred_shape[:-1]):
            if true_dim is not None and pred_dim is not None and true_dim != pred_dim:
                raise ValueError(
                    f"{type(self).__name__}: `y_true` shape {true_shape} does "
                    f"not match the leading dimensions of `y_pred` shape "
                    f"{pred_shape}."
                )
        num_logits = pred_shape[-1]
        if num_logits is None:
            return
        if self._class_weights is not None:
            expected = self._num_logits(len(self._class_weights))
            if num_logits != expected:
                extra = (
                    " (num_classes + 1, column 0 = background)"
                    if (self.uses_background_logit)
                    else " (num_classes, no background column)"
                )
                raise ValueError(
                    f"{type(self).__name__}: `y_pred` has {num_logits} logits "
                    f"per anchor but len(class_weights) = "
                    f"{len(self._class_weights)} implies {expected}{extra}."
                )
        elif num_logits < self._num_logits(1):
            raise ValueError(
                f"{type(self).__name__}: `y_pred` needs at least "
                f"{self._num_logits(1)} logits per anchor, got {num_logits}."
            )

    def call(self, y_true, y_pred):
        """Per-anchor class-weighted loss.

        Args:
            y_true: tensor `[batch, num_anchors]` of class targets (0 =
                background, `k + 1` = object class `k`, -1 = ignored); float
                values are rounded and cast to int32.
            y_pred: logits `[batch, num_anchors, num_logits]`.

        Returns:
            float32 tensor `[batch, num_anchors]`, already multiplied by the
            weight of each anchor's target class; exactly 0 for ignored anchors.

        Raises:
            ValueError: if the static shapes are inconsistent.
        """
        y_pred = ops.cast(ops.convert_to_tensor(y_pred), "float32")
        class_targets = class_targets_to_int(y_true)
        self._check_shapes(class_targets, y_pred)
        num_logits = y_pred.shape[-1]
        if num_logits is None:
            num_logits = ops.shape(y_pred)[-1]
        num_classes = num_logits - 1 if self.uses_background_logit else num_logits
        losses = self._per_anchor_loss(class_targets, y_pred, num_classes)
        weights = anchor_class_weights(
            class_targets, self._class_weights, self.background_weight, num_classes
        )
        # `where` and not only the product: an ignored anchor gives exactly 0
        # even if its logits are not finite.
        return ops.where(weights > 0, losses * weights, ops.zeros_like(losses))

    def _per_anchor_loss(self, class_targets, logits, num_classes):
        raise NotImplementedError

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "class_weights": (
                    None if self._class_weights is None else list(self._class_weights)
                ),
                "background_weight": self.background_weight,
            }
        )
        return config
