"""Turns padded ground truth into per-anchor SSD targets, batched and in-graph."""

import collections
import functools
import numbers

import tensorflow as tf

from keras_ssd.utils import xla
from keras_ssd.anchors.box_coder import BoxCoder
from keras_ssd.anchors.matching import IGNORED, match_boxes


# Hashable, so that compiled functions keyed on it are shared by equal assigners.
AssignmentSettings = collections.namedtuple(
    "AssignmentSettings", ["variances", "positive_threshold", "negative_threshold", "bipartite", "chunk_size"]
)


def assign_targets(boxes, classes, weights, anchors, settings, box_coder=None):
    """`TargetAssigner.__call__` on float32 boxes and weights and int32 classes.

    Args:
        boxes: float32 `[batch, max_boxes, 4]` normalised yxyx ground truth.
        classes: int32 `[batch, max_boxes]`, -1 for padding.
        weights: float32 `[batch, max_boxes]` per-box weights.
        anchors: float32 `[num_anchors, 4]`.
        settings: an `AssignmentSettings` (`TargetAssigner.settings`).
        box_coder: the `BoxCoder`. Defaults to one with `settings.variances`.

    Returns:
        The dict of `TargetAssigner.__call__`.
    """
    box_coder = box_coder or BoxCoder(settings.variances)
    is_box = classes >= 0

    matches = match_boxes(
        boxes,
        is_box,
        anchors,
        settings.positive_threshold,
        settings.negative_threshold,
        settings.bipartite,
        settings.chunk_size,
    )
    box_index = tf.maximum(matches, 0)
    matched_boxes = tf.gather(boxes, box_index, batch_dims=1)
    matched_classes = tf.gather(classes, box_index, batch_dims=1)
    matched_weights = tf.gather(weights, box_index, batch_dims=1)
    # A box of weight 0 (e.g. a crowd region) makes its anchors ignored, not background.
    matches = tf.where((matches >= 0) & (matched_weights <= 0.0), IGNORED, matches)
    positive = matches >= 0

    class_targets = tf.where(positive, matched_classes + 1, 0)
    class_targets = tf.where(matches == IGNORED, -1, class_targets)
    anchor_weights = tf.where(positive, matched_weights, 1.0)
    anchor_weights = tf.where(matches == IGNORED, 0.0, anchor_weights)
    # Background rows encode a dummy box (the anchor itself) so no log(0) appears.
    matched_boxes = tf.where(positive[..., tf.newaxis], matched_boxes, anchors)
    box_targets = box_coder.encode(matched_boxes, anchors)
    return {
        "class_targets": class_targets,
        "box_targets": tf.cast(box_targets, tf.float32),
        "anchor_weights": anchor_weights,
        "positive_mask": positive,
    }


# Shared by all assigners with the same settings: XLA compiles once per settings
# and input shapes, however many models are built.
_assign_with_xla = tf.function(assign_targets, jit_compile=True, autograph=False)


class TargetAssigner:
    """Builds class targets, box targets and weights for every anchor.

    See `docs/conventions.md` for the layouts: class target 0 = background,
    `k + 1` = class `k`, -1 = ignored; anchor weight = the matched box's weight
    for positives, 1 for background, 0 for ignored anchors. Anchors matched to
    a box of weight 0 are ignored: such a box marks a region to learn nothing
    about (a COCO crowd box), neither object nor background.

    Args:
        anchors: `[num_anchors, 4]` normalised yxyx default boxes.
        box_coder: a `BoxCoder`. Defaults to variances (0.1, 0.1, 0.2, 0.2).
        positive_threshold: float. IoU from which an anchor is positive.
            Defaults to 0.5.
        negative_threshold: float or None. IoU under which an anchor is
            background; anchors in between are ignored. Defaults to None
            (equal to `positive_threshold`: no ignore band).
        bipartite: bool. First give every box its own best anchor. Defaults
            to True.
        chunk_size: int, None or `"auto"`. Anchors whose IoU with every
            box is held at once; bounds memory to one `[batch, max_boxes,
            chunk_size]` chunk. None holds all, which is faster. `"auto"`
            holds all up to 2^20 boxes x anchors per image (SSD300 with up to
            120 boxes), else chunks of 2048. The targets do not depend on it.
            Defaults to `"auto"`.
        jit_compile: bool or `"auto"`. Compile the assignment with XLA, on
            its own even when the train step is not compiled: it is many small
            ops over the `[batch, boxes, anchors]` IoU matrix, which XLA fuses
            (2-2.5x faster on CPU; fewer kernel launches on GPU). The targets
            are the same either way. `"auto"` compiles except where Keras
            itself never turns XLA on (Apple silicon with a Metal GPU, which
            has no XLA). Defaults to `"auto"`.
    """

    def __init__(
        self,
        anchors,
        box_coder=None,
        positive_threshold=0.5,
        negative_threshold=None,
        bipartite=True,
        chunk_size="auto",
        jit_compile="auto",
    ):
        if negative_threshold is not None and negative_threshold > positive_threshold:
            raise ValueError(
                f"negative_threshold ({negative_threshold}) must not exceed "
                f"positive_threshold ({positive_threshold})."
            )
        self.anchors = tf.constant(anchors, tf.float32)
        self.box_coder = box_coder or BoxCoder()
        self.positive_threshold = float(positive_threshold)
        self.negative_threshold = negative_threshold
        self.bipartite = bool(bipartite)
        if chunk_size not in (None, "auto") and (
            isinstance(chunk_size, bool) or not isinstance(chunk_size, numbers.Integral) or chunk_size < 1
        ):
            raise ValueError(f"`chunk_size` must be None, 'auto' or a positive integer, got {chunk_size!r}.")
        self.chunk_size = chunk_size if chunk_size in (None, "auto") else int(chunk_size)
        if jit_compile != "auto" and not isinstance(jit_compile, bool):
            raise ValueError(f"`jit_compile` must be True, False or 'auto', got {jit_compile!r}.")
        self.jit_compile = jit_compile
        if type(self.box_coder) is BoxCoder:
            self._compiled_assign = _assign_with_xla
        else:  # a coder of its own is traced into a function of this assigner
            assign = functools.partial(assign_targets, box_coder=self.box_coder)
            self._compiled_assign = tf.function(assign, jit_compile=True, autograph=False)

    def __call__(self, boxes, classes, weights=None):
        """Assigns targets.

        Args:
            boxes: `[batch, max_boxes, 4]` normalised yxyx ground truth.
            classes: `[batch, max_boxes]` int class ids, -1 for padding.
            weights: optional `[batch, max_boxes]` per-box weights (default 1).

        Returns:
            A dict with `class_targets` `[batch, num_anchors]` int32,
            `box_targets` `[batch, num_anchors, 4]` float32,
            `anchor_weights` `[batch, num_anchors]` float32 and
            `positive_mask` `[batch, num_anchors]` bool.
        """
        boxes = tf.cast(boxes, tf.float32)
        classes = tf.cast(classes, tf.int32)
        if weights is None:
            weights = tf.ones_like(boxes[..., 0])
        weights = tf.cast(weights, tf.float32)
        if self.uses_xla:
            return self._compiled_assign(boxes, classes, weights, self.anchors, self.settings)
        return assign_targets(boxes, classes, weights, self.anchors, self.settings, self.box_coder)

    @property
    def settings(self):
        """The `AssignmentSettings` of this assigner (its box coder's variances included)."""
        return AssignmentSettings(
            tuple(self.box_coder.variances),
            self.positive_threshold,
            self.negative_threshold,
            self.bipartite,
            self.chunk_size,
        )

    @property
    def uses_xla(self):
        """Whether the assignment is compiled with XLA (`jit_compile`, resolved)."""
        return xla.xla_available() if self.jit_compile == "auto" else bool(self.jit_compile)

