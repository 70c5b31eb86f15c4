"""`ClassificationLoss`: what `SSD` needs from a classification loss, declared once."""

import keras


class ClassificationLoss(keras.losses.Loss):
    """Base class of the classification losses: the contract with `SSD`.

    `SSD` calls `call(y_true, y_pred)`, which returns the per-anchor loss
    `[batch, num_anchors]`, and applies its own per-anchor weights and
    normalisation (`docs/conventions.md`, "The loss contract"): the loss' own
    `reduction` serves direct calls only.

    `y_true` is the per-anchor class target `[batch, num_anchors]` (0 =
    background, `k + 1` = object class `k`, -1 = ignored); `y_pred` the logits
    `[batch, num_anchors, num_logits]`, or a dict when the loss asks for more
    (below).

    Attributes:
        uses_background_logit: bool. Whether the logits have a background
            column 0 (`num_classes + 1` logits, softmax) or not (`num_classes`,
            sigmoid: background is "every class off"). `SSD` sizes its head
            from it.
        needs_predicted_boxes: bool. Whether `y_pred` must be a dict with
            `"logits"` and `"boxes"`, the decoded predicted boxes
            `[batch, num_anchors, 4]` (normalised yxyx), e.g. for NMS among
            hard examples.
        needs_localization_losses: bool. Whether `y_pred` must be a dict with
            `"logits"` and `"localization"`, the per-anchor localization losses
            `[batch, num_anchors]`.
        class_weights: tuple of `num_classes` floats or `None` (all 1).
        anchorwise: bool. Whether the loss of each anchor depends only on
            that anchor's target and prediction, and XLA compiles `call`.
            `SSD` then computes the per-anchor losses and their gradients
            in one XLA call (`keras_ssd.models.compiled_losses`). The
            built-in per-anchor losses set it; a subclass whose `call` mixes
            anchors must not.

    Subclasses also implement `with_class_weights(class_weights)`, returning a
    new loss with other class weights: `SSD(class_weights=...)` fills them in
    through it.
    """

    uses_background_logit = False
    needs_predicted_boxes = False
    needs_localization_losses = False
    anchorwise = False

    @property
    def class_weights(self):
        """Tuple of per-object-class weights, or `None` (all 1)."""
        return None

    def with_class_weights(self, class_weights):
        """Returns a new loss equal to this one but with other class weights.

        Args:
            class_weights: `None` or a sequence of `num_classes` non-negative
                finite floats.

        Returns:
            A new loss of the same class; `self` is not modified.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement with_class_weights.")
