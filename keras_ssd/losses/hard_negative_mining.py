"""Hard-negative mining around a per-anchor classification loss."""

import math
import numbers

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_ssd.losses.class_weighting import class_targets_to_int

LOSS_TYPES = ("classification", "localization", "both")
SSD_MODE = "ssd"
TF_OBJECT_DETECTION_MODE = "tf_object_detection"
_DEFAULT_NEGATIVE_RATIO = 3.0
# The NMS of the TF OD API mode first looks at this many candidates per hard example.
CANDIDATES_PER_EXAMPLE = 2


def _validate_optional_positive_int(value, name, zero_hint):
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(
            f"`{name}` must be None or an integer > 0, got " f"{type(value).__name__}: {value!r}."
        )
    if value <= 0:
        raise ValueError(f"`{name}` must be None or > 0, got {value}. {zero_hint}")
    return int(value)


def _rank(order):
    """Inverse permutation of each row of `order`: the rank of every anchor.

    A scatter instead of a second argsort: linear, not `n log n`.
    """
    batch_size, num_anchors = tf.unstack(tf.shape(order))
    rows = tf.broadcast_to(tf.range(batch_size)[:, tf.newaxis], tf.shape(order))
    positions = tf.broadcast_to(tf.range(num_anchors)[tf.newaxis, :], tf.shape(order))
    return tf.scatter_nd(tf.stack([rows, order], axis=-1), positions, tf.shape(order))


@keras.saving.register_keras_serializable(package="keras_ssd")
class HardNegativeMining(keras.losses.Loss):
    """Keeps every positive anchor and only the hardest negatives of each image.

    Two rules are offered; `docs/class_imbalance.md` compares them.

    **SSD-paper mode** (the default; Liu et al. 2016, section 2.2 "Hard
    negative mining"; torchvision `SSD.compute_loss`): per image, with `P`
    positive anchors (target > 0) and `N` background anchors (target 0), keep
    every positive and the `k` background anchors with the largest inner loss,
    where

        k = min(N, max(floor(negative_ratio * P), min_negatives))

    **TF Object Detection API mode**, on as soon as `num_hard_examples` or
    `max_negatives_per_positive` is given (`HardExampleMiner` of
    `object_detection/core/losses.py`, with `loss_type: CLASSIFICATION`): per
    image, positives and negatives together are ranked by their inner loss and
    only the `num_hard_examples` largest are selected (all of them when it is
    `None`); then, if `max_negatives_per_positive` is given, with `P_s` the
    number of *selected* positives, the selected positives and the first

        k = max(floor(max_negatives_per_positive * P_s), min_negatives_per_image)

    selected negatives are kept. It differs from the SSD-paper mode in that a
    positive outside the `num_hard_examples` hardest is dropped and is not
    counted for the ratio, and that without `max_negatives_per_positive` an
    image with no positives still contributes `num_hard_examples` negatives.
    With `num_hard_examples=None` it is exactly the SSD-paper rule with
    `negative_ratio=max_negatives_per_positive` and
    `min_negatives=min_negatives_per_image`. With `iou_threshold` the hard
    examples are chosen, as in TF, by non-maximum suppression on the decoded
    predicted boxes scored by the ranking loss, which can drop positives;
    `loss_type` ranks by the classification loss, the localization loss or
    their sum. These two need `y_pred` as a dict (see `call`), which `SSD`
    builds. Unlike TF, the model's localization loss is not mined: every
    positive keeps it.

    In both modes `floor(ratio * P)` is computed in float32 (exact for integer
    ratios); ignored anchors (target -1) are never mined and give 0; ties in
    the loss are broken by anchor index (a stable sort: the lower index is
    kept), so the choice is deterministic. Ranking is batched, without Python
    loops: the rank of each anchor within its image is the inverse permutation
    of a descending stable argsort.

    Only the inner loss' `call` is used (its own `reduction` is ignored); this
    wrapper's `sample_weight` and `reduction` apply to the mined loss. Mining
    ranks the inner loss before `sample_weight`; background anchors have
    sample weight 1, so the ranking of negatives is the same.

    Args:
        loss: a per-anchor classification loss such as
            `WeightedSoftmaxClassificationLoss`, whose `call(y_true, y_pred)`
            returns `[batch, num_anchors]`.
        negative_ratio: float >= 0. SSD-paper mode: negatives kept per
            positive; must keep its default in the TF OD API mode. Defaults to
            `3.0` (the SSD paper).
        min_negatives: int >= 0. SSD-paper mode: negatives kept per image even
            with few or no positives (still capped by the available
            negatives); must be 0 in the TF OD API mode. Defaults to `0`.
        num_hard_examples: `None` or int > 0. TF OD API mode: anchors selected
            per image, positives and negatives together, before the ratio.
            `None` selects all (TF OD API's `num_hard_examples: 0`). Defaults
            to `None`.
        max_negatives_per_positive: `None` or float > 0. TF OD API mode:
            negatives kept per selected positive; `None` keeps every selected
            negative (TF OD API's `max_negatives_per_positive: 0`). Defaults to
            `None`.
        min_negatives_per_image: int >= 0. TF OD API mode: the ratio keeps at
            least this many selected negatives per image. Only valid with
            `max_negatives_per_positive` (TF OD API ignores it otherwise).
            Defaults to `0`.
        iou_threshold: None or float in (0, 1]. TF OD API mode: NMS among
            the hard examples on the decoded predicted boxes. Defaults to
            `None` (no suppression).
        loss_type: `"classification"`, `"localization"` or `"both"`: the
            loss that ranks hard examples (TF OD API's `loss_type`). Defaults
            to `"classification"`.
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
            `min_negatives` or `min_negatives_per_image` is not an integer
            >= 0, `num_hard_examples` is not `None` or an integer > 0,
            `max_negatives_per_positive` is not `None` or a number > 0,
            `iou_threshold` is not `None` or in (0, 1], `loss_type` is not
            one of `LOSS_TYPES`, or the arguments of the two modes are mixed.

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

    The TF OD API mode with one hard example per image drops the positive,
    whose loss (ln 2) is smaller than the hardest negative's:

    >>> tf_miner = HardNegativeMining(
    ...     WeightedSoftmaxClassificationLoss(), num_hard_examples=1)
    >>> tf_miner.mode
    'tf_object_detection'
    >>> np.asarray(tf_miner.call(y_true, y_pred), "float64").round(4).tolist()
    [[0.0, 2.1269, 0.0, 0.0]]
    """

    def __init__(
        self,
        loss,
        negative_ratio=_DEFAULT_NEGATIVE_RATIO,
        min_negatives=0,
        num_hard_examples=None,
        max_negatives_per_positive=None,
        min_negatives_per_image=0,
        iou_threshold=None,
        loss_type="classification",
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
        for value, label in (
            (min_negatives, "min_negatives"),
            (min_negatives_per_image, "min_negatives_per_image"),
        ):
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
                raise ValueError(
                    f"`{label}` must be an integer >= 0, got " f"{type(value).__name__}: {value!r}."
                )
            if value < 0:
                raise ValueError(f"`{label}` must be >= 0, got {value}.")
        num_hard_examples = _validate_optional_positive_int(
            num_hard_examples,
            "num_hard_examples",
            "TF OD API's `num_hard_examples: 0` (select every anchor) is None here.",
        )
        if max_negatives_per_positive is not None:
            if isinstance(max_negatives_per_positive, (bool, np.bool_)) or not isinstance(
                max_negatives_per_positive, numbers.Real
            ):
                raise ValueError(
                    f"`max_negatives_per_positive` must be None or a number > 0, got "
                    f"{type(max_negatives_per_positive).__name__}: "
                    f"{max_negatives_per_positive!r}."
                )
            if (
                not math.isfinite(float(max_negatives_per_positive))
                or float(max_negatives_per_positive) <= 0
            ):
                raise ValueError(
                    f"`max_negatives_per_positive` must be None or finite and > 0, got "
                    f"{max_negatives_per_positive}. TF OD API's "
                    f"`max_negatives_per_positive: 0` (no ratio) is None here."
                )
            max_negatives_per_positive = float(max_negatives_per_positive)
        if iou_threshold is not None:
            if isinstance(iou_threshold, (bool, np.bool_)) or not isinstance(
                iou_threshold, numbers.Real
            ) or not 0.0 < float(iou_threshold) <= 1.0:
                raise ValueError(
                    f"`iou_threshold` must be None or a number in (0, 1], got {iou_threshold!r}."
                )
            iou_threshold = float(iou_threshold)
        if loss_type not in LOSS_TYPES:
            raise ValueError(
                f"`loss_type` must be one of {LOSS_TYPES}, got {loss_type!r} "
                f"(TF OD API's CLASSIFICATION is 'classification')."
            )
        tf_mode = (
            num_hard_examples is not None
            or max_negatives_per_positive is not None
            or iou_threshold is not None
            or loss_type != "classification"
        )
        if tf_mode and (
            min_negatives != 0 or float(negative_ratio) != _DEFAULT_NEGATIVE_RATIO
        ):
            raise ValueError(
                f"`negative_ratio` ({negative_ratio}) and `min_negatives` ({min_negatives}) "
                f"belong to the SSD-paper mode, but `num_hard_examples`, "
                f"`max_negatives_per_positive`, `iou_threshold` or `loss_type` select the "
                f"TF OD API mode; there use "
                f"`max_negatives_per_positive` and `min_negatives_per_image`."
            )
        if min_negatives_per_image != 0 and max_negatives_per_positive is None:
            raise ValueError(
                f"`min_negatives_per_image` ({min_negatives_per_image}) only applies "
                f"with `max_negatives_per_positive` (as in the TF OD API); for the "
                f"SSD-paper mode use `min_negatives`."
            )
        super().__init__(name=name, reduction=reduction, dtype="float32")
        self.loss = loss
        self.negative_ratio = float(negative_ratio)
        self.min_negatives = int(min_negatives)
        self.num_hard_examples = num_hard_examples
        self.max_negatives_per_positive = max_negatives_per_positive
        self.min_negatives_per_image = int(min_negatives_per_image)
        self.iou_threshold = iou_threshold
        self.loss_type = loss_type

    @property
    def mode(self):
        """`"ssd"` (SSD-paper rule) or `"tf_object_detection"` (TF OD API miner)."""
        if (
            self.num_hard_examples is None
            and self.max_negatives_per_positive is None
            and self.iou_threshold is None
            and self.loss_type == "classification"
        ):
            return SSD_MODE
        return TF_OBJECT_DETECTION_MODE

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

    @property
    def requires_decoded_boxes(self):
        """Whether `y_pred` must carry the decoded predicted boxes (NMS)."""
        return self.iou_threshold is not None

    @property
    def requires_localization_losses(self):
        """Whether `y_pred` must carry the per-anchor localization losses."""
        return self.loss_type != "classification"

    def call(self, y_true, y_pred):
        """Inner per-anchor loss with the unmined anchors set to 0.

        Args:
            y_true: tensor `[batch, num_anchors]` of class targets.
            y_pred: logits, as the inner loss expects them; or, for the TF OD
                API options that need more, a dict with `"logits"`, `"boxes"`
                (decoded predicted boxes `[batch, num_anchors, 4]`, for
                `iou_threshold`) and `"localization"` (per-anchor
                localization losses `[batch, num_anchors]`, for `loss_type`
                `"localization"` or `"both"`). `SSD` passes these itself.

        Returns:
            float32 tensor `[batch, num_anchors]`.
        """
        extras = y_pred if isinstance(y_pred, dict) else {"logits": y_pred}
        for key, needed in (
            ("boxes", self.requires_decoded_boxes),
            ("localization", self.requires_localization_losses),
        ):
            if needed and key not in extras:
                raise ValueError(
                    f"HardNegativeMining with iou_threshold={self.iou_threshold}, "
                    f"loss_type={self.loss_type!r} needs y_pred as a dict with 'logits' and "
                    f"{key!r}; SSD passes it, a direct call must too."
                )
        losses = ops.cast(self.loss.call(y_true, extras["logits"]), "float32")
        class_targets = class_targets_to_int(y_true)
        positive = class_targets > 0
        negative = ops.equal(class_targets, 0)
        if self.mode == SSD_MODE:
            keep = self._keep_ssd(losses, positive, negative)
        else:
            keep = self._keep_tf_object_detection(
                self._ranking_losses(losses, extras), positive, negative, extras.get("boxes")
            )
        return ops.where(keep, losses, ops.zeros_like(losses))

    def _ranking_losses(self, losses, extras):
        if self.loss_type == "classification":
            return losses
        localization = ops.cast(extras["localization"], "float32")
        if self.loss_type == "localization":
            return localization
        return losses + localization

    def _keep_ssd(self, losses, positive, negative):
        num_positives = ops.sum(ops.cast(positive, "float32"), axis=1)
        num_negatives = ops.sum(ops.cast(negative, "int32"), axis=1)
        num_from_ratio = ops.cast(ops.floor(self.negative_ratio * num_positives), "int32")
        num_keep = ops.minimum(num_negatives, ops.maximum(num_from_ratio, self.min_negatives))

        # Non-negatives sort last; the ranking is not differentiated.
        scores = ops.where(negative, ops.stop_gradient(losses), ops.full_like(losses, -np.inf))
        order = tf.argsort(scores, axis=1, direction="DESCENDING", stable=True)
        keep_negative = ops.logical_and(negative, _rank(order) < num_keep[:, None])
        return ops.logical_or(positive, keep_negative)

    def _keep_tf_object_detection(self, losses, positive, negative, boxes=None):
        candidate = ops.logical_or(positive, negative)
        # Positives and negatives compete for the hard-example slots; ignored
        # anchors sort last and are never selected.
        scores = ops.where(candidate, ops.stop_gradient(losses), ops.full_like(losses, -np.inf))
        order = tf.argsort(scores, axis=1, direction="DESCENDING", stable=True)
        rank = _rank(order)
        if self.iou_threshold is not None:
            selected = ops.logical_and(candidate, self._suppress(scores, boxes))
        elif self.num_hard_examples is not None:
            selected = ops.logical_and(candidate, rank < self.num_hard_examples)
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
        negative_position = ops.take_along_axis(ops.cumsum(sorted_negative, axis=1), rank, axis=1)
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
                "loss": keras.saving.serialize_keras_object(self.loss),
                "negative_ratio": self.negative_ratio,
                "min_negatives": self.min_negatives,
                "num_hard_examples": self.num_hard_examples,
                "max_negatives_per_positive": self.max_negatives_per_positive,
                "min_negatives_per_image": self.min_negatives_per_image,
                "iou_threshold": self.iou_threshold,
                "loss_type": self.loss_type,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("loss"), dict):
            config["loss"] = keras.saving.deserialize_keras_object(config["loss"])
        return cls(**config)
