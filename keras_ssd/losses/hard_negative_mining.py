"""Hard-negative mining around a per-anchor classification loss (the SSD paper's rule)."""

import keras
import numpy as np
from keras import ops

from keras_ssd.utils.arguments import check_number
from keras_ssd.losses.class_weighted_loss import class_targets_to_int
from keras_ssd.losses.mining import MiningLoss
from keras_ssd.losses.mining import keep_highest

_DEFAULT_NEGATIVE_RATIO = 3.0

# HardExampleMiner's arguments, with the values that older HardNegativeMining
# configs stored for them when they were not used.
_HARD_EXAMPLE_MINER_DEFAULTS = {
    "num_hard_examples": None,
    "max_negatives_per_positive": None,
    "min_negatives_per_image": 0,
    "iou_threshold": None,
    "loss_type": "classification",
}


@keras.saving.register_keras_serializable(package="keras_ssd")
class HardNegativeMining(MiningLoss):
    """Keeps every positive anchor and only the hardest negatives of each image.

    The SSD paper's rule (Liu et al. 2016, section 2.2 "Hard negative mining";
    torchvision `SSD.compute_loss`): per image, with `P` positive anchors
    (target > 0) and `N` background anchors (target 0), keep every positive
    and the `k` background anchors with the largest inner loss, where

        k = min(N, max(floor(negative_ratio * P), min_negatives))

    The TF Object Detection API's rule (positives compete for a fixed number of
    hard examples, NMS among them) is `HardExampleMiner`;
    `docs/class_imbalance.md` compares the two.

    `floor(ratio * P)` is computed in float32 (exact for integer ratios);
    ignored anchors (target -1) are never mined and give 0; ties in the loss
    are broken by anchor index (a stable sort: the lower index is kept), so
    the choice is deterministic. The selection is batched, without Python
    loops: a `top_k` of each image's `k` hardest negatives (a radix select
    under XLA, which needs a static `k`; `keep_highest`).

    Only the inner loss' `call` is used (its own `reduction` is ignored); this
    wrapper's `sample_weight` and `reduction` apply to the mined loss. Mining
    ranks the inner loss before `sample_weight`; background anchors have
    sample weight 1, so the ranking of negatives is the same.

    Args:
        loss: a per-anchor classification loss such as
            `WeightedSoftmaxClassificationLoss`, whose `call(y_true, y_pred)`
            returns `[batch, num_anchors]`.
        negative_ratio: float >= 0. Negatives kept per positive. Defaults to
            `3.0` (the SSD paper).
        min_negatives: int >= 0. Negatives kept per image even with few or no
            positives (still capped by the available negatives). Defaults to
            `0`.
        reduction: str. Keras reduction applied after `sample_weight`.
            Defaults to `"sum"`.
        name: str. Name of the loss. Defaults to `"hard_negative_mining"`.

    Call arguments:
        y_true: tensor `[batch, num_anchors]` of class targets: 0 = background,
            `k + 1` = object class `k`, -1 = ignored.
        y_pred: logits, as the inner loss expects them.
        sample_weight: optional per-anchor weights `[batch, num_anchors]`.

    Returns:
        `call` returns the inner per-anchor loss `[batch, num_anchors]` with
        every anchor that is not kept set to 0.

    Raises:
        ValueError: if `loss` is not a Keras loss, `negative_ratio < 0`,
            `min_negatives` is not an integer >= 0, or an argument of
            `HardExampleMiner` is given.

    Example:

    >>> import numpy as np
    >>> from keras_ssd.losses import WeightedSoftmaxClassificationLoss
    >>> mining = HardNegativeMining(
    ...     WeightedSoftmaxClassificationLoss(), negative_ratio=1.0)
    >>> y_true = np.array([[1, 0, 0, -1]])
    >>> y_pred = np.array([[[0.0, 0.0], [0.0, 2.0], [2.0, 0.0], [0.0, 9.0]]],
    ...                   "float32")
    >>> np.asarray(mining.call(y_true, y_pred), "float64").round(4).tolist()
    [[0.6931, 2.1269, 0.0, 0.0]]
    """

    def __init__(
        self,
        loss,
        negative_ratio=_DEFAULT_NEGATIVE_RATIO,
        min_negatives=0,
        reduction="sum",
        name="hard_negative_mining",
        **kwargs,
    ):
        for argument in kwargs:
            if argument in _HARD_EXAMPLE_MINER_DEFAULTS:
                raise ValueError(
                    f"HardNegativeMining (the SSD paper's rule) takes no `{argument}`: it is an "
                    f"argument of the TF OD API rule, "
                    f"keras_ssd.losses.HardExampleMiner(loss, {argument}=...)."
                )
            raise TypeError(f"HardNegativeMining got an unexpected argument {argument!r}.")
        super().__init__(loss, reduction=reduction, name=name)
        self.negative_ratio = check_number(negative_ratio, "negative_ratio", low=0)
        self.min_negatives = check_number(min_negatives, "min_negatives", low=0, integer=True)

    def call(self, y_true, y_pred):
        """Inner per-anchor loss with the unmined anchors set to 0.

        Args:
            y_true: tensor `[batch, num_anchors]` of class targets.
            y_pred: logits, as the inner loss expects them.

        Returns:
            float32 tensor `[batch, num_anchors]`.
        """
        return self.mine(y_true, self.loss.call(y_true, y_pred), y_pred)

    def mine(self, y_true, losses, y_pred):
        """`call` on inner per-anchor losses computed already (see `MiningLoss`).

        Args:
            y_true: tensor `[batch, num_anchors]` of class targets.
            losses: the inner loss' `call(y_true, y_pred)`, `[batch, num_anchors]`.
            y_pred: what `call` got (unused by this rule).

        Returns:
            float32 tensor `[batch, num_anchors]`: `losses` with every anchor
            that is not kept set to 0.
        """
        losses = ops.cast(losses, "float32")
        class_targets = class_targets_to_int(y_true)
        positive = class_targets > 0
        negative = ops.equal(class_targets, 0)
        num_positives = ops.sum(ops.cast(positive, "float32"), axis=1)
        num_negatives = ops.sum(ops.cast(negative, "int32"), axis=1)
        num_from_ratio = ops.cast(ops.floor(self.negative_ratio * num_positives), "int32")
        num_keep = ops.minimum(num_negatives, ops.maximum(num_from_ratio, self.min_negatives))

        # Non-negatives sort last; the ranking is not differentiated.
        scores = ops.where(negative, ops.stop_gradient(losses), ops.full_like(losses, -np.inf))
        keep_negative = ops.logical_and(negative, keep_highest(scores, num_keep))
        keep = ops.logical_or(positive, keep_negative)
        return ops.where(keep, losses, ops.zeros_like(losses))

    def get_config(self):
        config = super().get_config()
        config.update({"negative_ratio": self.negative_ratio, "min_negatives": self.min_negatives})
        return config

    @classmethod
    def from_config(cls, config):
        # Configs saved before HardExampleMiner was split off hold its
        # arguments at their unused defaults; those are dropped.
        config = {
            key: value
            for key, value in config.items()
            if not (key in _HARD_EXAMPLE_MINER_DEFAULTS and _HARD_EXAMPLE_MINER_DEFAULTS[key] == value)
        }
        return super().from_config(config)
