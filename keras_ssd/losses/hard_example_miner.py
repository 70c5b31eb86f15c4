"""Hard-example mining around a per-anchor classification loss (the TF OD API's rule)."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_ssd.utils.arguments import check_number
from keras_ssd.losses.class_weighted_loss import class_targets_to_int
from keras_ssd.losses.mining import MiningLoss
from keras_ssd.losses.mining import rank

# The NMS among hard examples first looks at this many candidates per hard example.
CANDIDATES_PER_EXAMPLE = 2

LOSS_TYPES = ("classification", "localization", "both")


@keras.saving.register_keras_serializable(package="keras_ssd")
class HardExampleMiner(MiningLoss):
    """Keeps the hardest examples of each image, positives and negatives together.

    The TF Object Detection API's rule (`HardExampleMiner` of
    `object_detection/core/losses.py`): per image, positives and negatives
    together are ranked by their loss and only the `num_hard_examples` largest
    are selected (all of them when it is `None`); then, if
    `max_negatives_per_positive` is given, with `P_s` the number of *selected*
    positives, the selected positives and the first

        k = max(floor(max_negatives_per_positive * P_s), min_negatives_per_image)

    selected negatives are kept. It differs from the SSD paper's
    `HardNegativeMining` in that a positive outside the `num_hard_examples`
    hardest is dropped and is not counted for the ratio, and that without
    `max_negatives_per_positive` an image with no positives still contributes
    `num_hard_examples` negatives. With `num_hard_examples=None` it is exactly
    the SSD rule with `negative_ratio=max_negatives_per_positive` and
    `min_negatives=min_negatives_per_image`. With `iou_threshold` the hard
    examples are chosen, as in TF, by non-maximum suppression on the decoded
    predicted boxes scored by the ranking loss, which can drop positives;
    `loss_type` ranks by the classification loss, the localization loss or
    their sum. These two need `y_pred` as a dict (see `call`), which `SSD`
    builds. Unlike TF, the model's localization loss is not mined: every
    positive keeps it. `docs/class_imbalance.md` compares the two rules.

    `floor(ratio * P_s)` is computed in float32; ignored anchors (target -1)
    are never mined and give 0; ties in the loss are broken by anchor index (a
    stable sort), so the choice is deterministic. Only the inner loss' `call`
    is used (its own `reduction` is ignored); this wrapper's `sample_weight`
    and `reduction` apply to the mined loss.

    Args:
        loss: a per-anchor classification loss such as
            `WeightedSoftmaxClassificationLoss`, whose `call(y_true, y_pred)`
            returns `[batch, num_anchors]`.
        num_hard_examples: `None` or int > 0. Anchors selected per image,
            positives and negatives together, before the ratio. `None`
            selects all (TF OD API's `num_hard_examples: 0`). Defaults to
            `None`.
        max_negatives_per_positive: `None` or float > 0. Negatives kept per
            selected positive; `None` keeps every selected negative (TF OD
            API's `max_negatives_per_positive: 0`). Defaults to `None`.
        min_negatives_per_image: int >= 0. The ratio keeps at least this many
            selected negatives per image. Only valid with
            `max_negatives_per_positive` (TF OD API ignores it otherwise).
            Defaults to `0`.
        iou_threshold: None or float in (0, 1]. NMS among the hard examples on
            the decoded predicted boxes. Defaults to `None` (no suppression).
        loss_type: `"classification"`, `"localization"` or `"both"`: the
            loss that ranks hard examples (TF OD API's `loss_type`). Defaults
            to `"classification"`.
        reduction: str. Keras reduction applied after `sample_weight`.
            Defaults to `"sum"`.
        name: str. Name of the loss. Defaults to `"hard_example_miner"`.

    Call arguments and returns: as `HardNegativeMining`, except that `y_pred`
    may be the dict described in `call`.

    Raises:
        ValueError: if `loss` is not a Keras loss, `num_hard_examples` is not
            `None` or an integer > 0, `max_negatives_per_positive` is not
            `None` or a number > 0, `min_negatives_per_image` is not an
            integer >= 0 or is given without `max_negatives_per_positive`,
            `iou_threshold` is not `None` or in (0, 1], or `loss_type` is not
            one of `LOSS_TYPES`.

    Example:

    With one hard example per image only the hardest negative is kept; the
    positive, whose loss (ln 2) is smaller, is dropped:

    >>> import numpy as np
    >>> from keras_ssd.losses import WeightedSoftmaxClassificationLoss
    >>> logits = np.array([[[0.0, 3.0], [0.0, 0.0], [3.0, 0.0]]], "float32")
    >>> miner = HardExampleMiner(WeightedSoftmaxClassificationLoss(), num_hard_examples=1)
    >>> np.asarray(miner.call(np.array([[0, 1, 0]]), logits), "float64").round(4).tolist()
    [[3.0486, 0.0, 0.0]]
    """

    def __init__(
        self,
        loss,
        num_hard_examples=None,
        max_negatives_per_positive=None,
        min_negatives_per_image=0,
        iou_threshold=None,
        loss_type="classification",
        reduction="sum",
        name="hard_example_miner",
    ):
        super().__init__(loss, reduction=reduction, name=name)
        min_negatives_per_image = check_number(
            min_negatives_per_image, "min_negatives_per_image", low=0, integer=True
        )
        num_hard_examples = check_number(
            num_hard_examples, "num_hard_examples", low=0, low_open=True, integer=True, optional=True,
            hint="TF OD API's `num_hard_examples: 0` (select every anchor) is None here.",
        )
        max_negatives_per_positive = check_number(
            max_negatives_per_positive, "max_negatives_per_positive", low=0, low_open=True,
            optional=True, hint="TF OD API's `max_negatives_per_positive: 0` (no ratio) is None here.",
        )
        iou_threshold = check_number(iou_threshold, "iou_threshold", low=0, high=1, low_open=True, optional=True)
        if loss_type not in LOSS_TYPES:
            raise ValueError(
                f"`loss_type` must be one of {LOSS_TYPES}, got {loss_type!r} "
                f"(TF OD API's CLASSIFICATION is 'classification')."
            )
        if min_negatives_per_image != 0 and max_negatives_per_positive is None:
            raise ValueError(
                f"`min_negatives_per_image` ({min_negatives_per_image}) only applies "
                f"with `max_negatives_per_positive` (as in the TF OD API); for the "
                f"SSD paper's rule use HardNegativeMining(loss, min_negatives=...)."
            )
        self.num_hard_examples = num_hard_examples
        self.max_negatives_per_positive = max_negatives_per_positive
        self.min_negatives_per_image = int(min_negatives_per_image)
        self.iou_threshold = iou_threshold
        self.loss_type = loss_type

    @property
    def needs_predicted_boxes(self):
        """Whether `y_pred` must carry the decoded predicted boxes (NMS)."""
        return self.iou_threshold is not None

    @property
    def needs_localization_losses(self):
        """Whether `y_pred` must carry the per-anchor localization losses."""
        return self.loss_type != "classification"

    def call(self, y_true, y_pred):
        """Inner per-anchor loss with the unmined anchors set to 0.

        Args:
            y_true: tensor `[batch, num_anchors]` of class targets.
            y_pred: logits, as the inner loss expects them; or, for the
                options that need more, a dict with `"logits"`, `"boxes"`
                (decoded predicted boxes `[batch, num_anchors, 4]`, for
                `iou_threshold`) and `"localization"` (per-anchor
                localization losses `[batch, num_anchors]`, for `loss_type`
                `"localization"` or `"both"`). `SSD` passes these itself.

        Returns:
            float32 tensor `[batch, num_anchors]`.
        """
        extras = y_pred if isinstance(y_pred, dict) else {"logits": y_pred}
        return self.mine(y_true, self.loss.call(y_true, extras["logits"]), extras)

    def mine(self, y_true, losses, y_pred):
        """`call` on inner per-anchor losses computed already (see `MiningLoss`).

        Args:
            y_true: tensor `[batch, num_anchors]` of class targets.
            losses: the inner loss' `call(y_true, logits)`, `[batch, num_anchors]`.
            y_pred: what `call` got: logits, or the dict with `"boxes"` and
                `"localization"` when the options need them.

        Returns:
            float32 tensor `[batch, num_anchors]`: `losses` with every anchor
            that is not kept set to 0.
        """
        extras = y_pred if isinstance(y_pred, dict) else {"logits": y_pred}
        for key, needed in (
            ("boxes", self.needs_predicted_boxes),
            ("localization", self.needs_localization_losses),
        ):
            if needed and key not in extras:
                raise ValueError(
                    f"HardExampleMiner with iou_threshold={self.iou_threshold}, "
                    f"loss_type={self.loss_type!r} needs y_pred as a dict with 'logits' and "
                    f"{key!r}; SSD passes it, a direct call must too."
                )
        losses = ops.cast(losses, "float32")
        class_targets = class_targets_to_int(y_true)
        positive = class_targets > 0
        negative = ops.equal(class_targets, 0)
        keep = self._keep(self._ranking_losses(losses, extras), positive, negative, extras.get("boxes"))
        return ops.where(keep, losses, ops.zeros_like(losses))

    def _ranking_losses(self, losses, extras):
        if self.loss_type == "classification":
            return losses
        localization = ops.cast(extras["localization"], "float32")
        if self.loss_type == "localization":
            return localization
        return losses + localization

    def _keep(self, losses, positive, negative, boxes=None):
        candidate = ops.logical_or(positive, negative)
        # Positives and negatives compete for the hard-example slots; ignored
        # anchors sort last and are never selected.
        scores = ops.where(candidate, ops.stop_gradient(losses), ops.full_like(losses, -np.inf))
        order = tf.argsort(scores, axis=1, direction="DESCENDING", stable=True)
        ranks = rank(order)
        if self.iou_threshold is not None:
            selected = ops.logical_and(candidate, self._suppress(scores, boxes))
        elif self.num_hard_examples is not None:
            selected = ops.logical_and(candidate, ranks < self.num_hard_examples)
        else:
            selected = candidate
        if self.max_negatives_per_positive is None:
            return selected
        selected_positive = ops.logical_and(selected, positive)
        selected_negative = ops.logical_and(selected, negative)
        num_positives = ops.sum(ops.cast(selected_positive, "float32"), axis=1)
        num_from_ratio = ops.cast(
            ops.floor(self.max_negatives_per_positive * num_positives), "int32"
        )
        num_keep = ops.maximum(num_from_ratio, self.min_negatives_per_image)
        # 1-based position of each negative among the negatives in loss order
        # (the TF miner's cumulative sum over the selected indices).
        sorted_negative = ops.take_along_axis(ops.cast(selected_negative, "int32"), order, axis=1)
        negative_position = ops.take_along_axis(ops.cumsum(sorted_negative, axis=1), ranks, axis=1)
        keep_negative = ops.logical_and(selected_negative, negative_position <= num_keep[:, None])
        return ops.logical_or(selected_positive, keep_negative)

    def _suppress(self, scores, boxes):
        """TF OD API's NMS among hard examples: `[batch, anchors]` bool kept.

        Greedy NMS visits anchors by decreasing score and stops at
        `num_hard_examples` selections (as TF's kernel does), so it first runs
        on the `2 * num_hard_examples` highest scores only (top-k), and on
        every anchor only when suppression left too few among them: the same
        selection, without an NMS over every anchor.
        """
        num_anchors = tf.shape(scores)[1]
        # Ignored anchors score below the threshold and are never selected.
        finite_scores = tf.where(tf.math.is_finite(scores), scores, -1e30)
        boxes = tf.cast(tf.stop_gradient(boxes), tf.float32)
        static_anchors = scores.shape[1]
        if self.num_hard_examples is None or (
            static_anchors is not None and static_anchors <= CANDIDATES_PER_EXAMPLE * self.num_hard_examples
        ):
            indices, num_valid = self._nms(boxes, finite_scores)
        else:
            indices, num_valid = self._nms_on_top_scores(boxes, finite_scores)
        valid = tf.range(tf.shape(indices)[1])[tf.newaxis, :] < num_valid[:, tf.newaxis]
        # Padding entries write to an extra column that is dropped.
        columns = tf.where(valid, indices, num_anchors)
        rows = tf.broadcast_to(tf.range(tf.shape(scores)[0])[:, tf.newaxis], tf.shape(columns))
        kept = tf.scatter_nd(
            tf.stack([rows, columns], axis=-1),
            tf.ones_like(columns),
            tf.stack([tf.shape(scores)[0], num_anchors + 1]),
        )
        return kept[:, :-1] > 0

    def _nms(self, boxes, scores):
        """Greedy NMS per image, padded: `(indices [batch, max_output], num_valid [batch])`.

        TF's own NMS kernel (`NonMaxSuppressionV4`, which XLA compiles too)
        mapped over the images: on a CPU it costs a fraction of the batched,
        tiled `non_max_suppression_padded`, and selects the same anchors.
        """
        num_anchors = scores.shape[1] if scores.shape[1] is not None else tf.shape(scores)[1]
        # XLA needs max_output_size <= num_boxes, known when compiling.
        max_output = num_anchors
        if self.num_hard_examples is not None:
            max_output = tf.minimum(self.num_hard_examples, num_anchors)
            if isinstance(num_anchors, int):
                max_output = min(self.num_hard_examples, num_anchors)

        def one_image(inputs):
            image_boxes, image_scores = inputs
            selected = tf.raw_ops.NonMaxSuppressionV4(
                boxes=image_boxes,
                scores=image_scores,
                max_output_size=max_output,
                iou_threshold=self.iou_threshold,
                score_threshold=-1e29,
                pad_to_max_output_size=True,
            )
            return selected.selected_indices, selected.valid_outputs

        return tf.map_fn(
            one_image, (boxes, scores), fn_output_signature=(tf.int32, tf.int32)
        )

    def _nms_on_top_scores(self, boxes, scores):
        """`_nms` on the top `2 * num_hard_examples` scores; on all if that selects too few."""
        num_candidates = tf.minimum(CANDIDATES_PER_EXAMPLE * self.num_hard_examples, tf.shape(scores)[1])
        # top_k puts the lower index first among equal scores, as the full sort does.
        top_scores, top_indices = tf.math.top_k(scores, k=num_candidates)
        indices, num_valid = self._nms(tf.gather(boxes, top_indices, batch_dims=1), top_scores)
        indices = tf.gather(top_indices, indices, batch_dims=1)
        too_few = tf.reduce_any(num_valid < self.num_hard_examples)
        return tf.cond(
            too_few,
            lambda: self._nms(boxes, scores),
            lambda: (indices, num_valid),
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_hard_examples": self.num_hard_examples,
                "max_negatives_per_positive": self.max_negatives_per_positive,
                "min_negatives_per_image": self.min_negatives_per_image,
                "iou_threshold": self.iou_threshold,
                "loss_type": self.loss_type,
            }
        )
        return config
