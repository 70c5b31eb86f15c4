"""Hard-negative mining around a per-anchor classification loss."""

import math
import numbers

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_ssd.losses.class_weighting import class_targets_to_int


@keras.saving.register_keras_serializable(package="keras_ssd")
class HardNegativeMining(keras.losses.Loss):
    """Keeps every positive anchor and only the hardest negatives of each image.

    The SSD rule (Liu et al. 2016, section 2.2 "Hard negative mining";
    torchvision `SSD.compute_loss`): per image, with `P` positive anchors
    (target > 0) and `N` background anchors (target 0), keep every positive and
    the `k` background anchors with the largest inner loss, where

        k = min(N, max(floor(negative_ratio * P), min_negatives))

    `floor(negative_ratio * P)` is computed in float32 (exact for integer
    ratios). Ignored anchors (target -1) are never mined and give 0. Ties in
    the loss are broken by anchor index (a stable sort: the lower index is
    kept), so the choice is deterministic. Ranking is batched, without Python
    loops: the rank of each negative within its image is the inverse
    permutation of a descending stable argsort, and negatives with
    `rank < k` are kept.

    Only the inner loss' `call` is used (its own `reduction` is ignored); this
    wrapper's `sample_weight` and `reduction` apply to the mined loss. Mining
    ranks the inner loss before `sample_weight`; background anchors have
    sample weight 1, so the ranking is the same.

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
        ValueError: if `loss` is not a Keras loss, `negative_ratio < 0` or
            `min_negatives` is not an integer >= 0.

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
        negative_ratio=3.0,
        min_negatives=0,
        reduction="sum",
        name="hard_negative_mining",
    ):
        if not isinstance(loss, keras.losses.Loss):
            raise ValueError(
                f"`loss` must be a keras.losses.Loss whose call returns a "
                f"per-anchor loss [batch, num_anchors], got "
                f"{type(loss).__name__}: {loss!r}."
            )
        if isinstance(negative_ratio, (bool, np.bool_)) or not isinstance(
            negative_ratio, numbers.Real
        ):
            raise ValueError(
                f"`negative_ratio` must be a number >= 0, got "
                f"{type(negative_ratio).__name__}: {negative_ratio!r}."
            )
        if not math.isfinite(float(negative_ratio)) or float(negative_ratio) < 0:
            raise ValueError(f"`negative_ratio` must be finite and >= 0, got {negative_ratio}.")
        if isinstance(min_negatives, (bool, np.bool_)) or not isinstance(
            min_negatives, numbers.Integral
        ):
            raise ValueError(
                f"`min_negatives` must be an integer >= 0, got "
                f"{type(min_negatives).__name__}: {min_negatives!r}."
            )
        if min_negatives < 0:
            raise ValueError(f"`min_negatives` must be >= 0, got {min_negatives}.")
        super().__init__(name=name, reduction=reduction, dtype="float32")
        self.loss = loss
        self.negative_ratio = float(negative_ratio)
        self.min_negatives = int(min_negatives)

    @property
    def class_weights(self):
        """The inner loss' class weights."""
        return self.loss.class_weights

    @property
    def uses_background_logit(self):
        """Whether the inner loss expects a background logit in column 0."""
        return self.loss.uses_background_logit

    def with_class_weights(self, class_weights):
        """Returns a new mining loss around `loss.with_class_weights(...)`.

        Args:
            class_weights: `None` or a sequence of `num_classes` non-negative
                finite floats.

        Returns:
            A new `HardNegativeMining`; neither `self` nor its inner loss is
            modified.
        """
        config = self.get_config()
        config["loss"] = keras.saving.serialize_keras_object(
            self.loss.with_class_weights(class_weights)
        )
        return type(self).from_config(config)

    def call(self, y_true, y_pred):
        """Inner per-anchor loss with the unmined negatives set to 0.

        Args:
            y_true: tensor `[batch, num_anchors]` of class targets.
            y_pred: logits, as the inner loss expects them.

        Returns:
            float32 tensor `[batch, num_anchors]`.
        """
        losses = ops.cast(self.loss.call(y_true, y_pred), "float32")
        class_targets = class_targets_to_int(y_true)
        positive = class_targets > 0
        negative = ops.equal(class_targets, 0)

        num_positives = ops.sum(ops.cast(positive, "float32"), axis=1)
        num_negatives = ops.sum(ops.cast(negative, "int32"), axis=1)
        num_from_ratio = ops.cast(ops.floor(self.negative_ratio * num_positives), "int32")
        num_keep = ops.minimum(num_negatives, ops.maximum(num_from_ratio, self.min_negatives))

        # Non-negatives sort last; the ranking is not differentiated.
        scores = ops.where(negative, ops.stop_gradient(losses), ops.full_like(losses, -np.inf))
        order = tf.argsort(scores, axis=1, direction="DESCENDING", stable=True)
        rank = tf.argsort(order, axis=1, direction="ASCENDING", stable=True)
        keep_negative = ops.logical_and(negative, rank < num_keep[:, None])
        keep = ops.logical_or(positive, keep_negative)
        return ops.where(keep, losses, ops.zeros_like(losses))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "loss": keras.saving.serialize_keras_object(self.loss),
                "negative_ratio": self.negative_ratio,
                "min_negatives": self.min_negatives,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("loss"), dict):
            config["loss"] = keras.saving.deserialize_keras_object(config["loss"])
        return cls(**config)
