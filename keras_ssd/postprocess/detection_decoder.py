"""Decoding of raw SSD outputs into boxes, then per-class non-maximum suppression."""

import keras
import keras_cv

from keras_ssd.anchors.anchor_generator import AnchorGenerator
from keras_ssd.anchors.box_coder import BoxCoder


@keras.saving.register_keras_serializable(package="keras_ssd")
class DetectionDecoder(keras.layers.Layer):
    """Turns box deltas and class logits into final detections.

    Boxes are decoded against the anchors, clipped to the image, and filtered
    per class by keras-cv's `MultiClassNonMaxSuppression`. Everything runs in
    float32, so the layer works under `mixed_float16` (keras-cv's RetinaNet
    decoder does not).

    Args:
        anchor_generator: an `AnchorGenerator` (or its config dict).
        background_logit: bool. Whether logit 0 is background (softmax
            scores); otherwise the logits are per-class sigmoids.
        variances: box coder variances. Defaults to (0.1, 0.1, 0.2, 0.2).
        confidence_threshold: float. Minimum score kept. Defaults to 0.05.
        iou_threshold: float. NMS IoU threshold. Defaults to 0.5.
        max_detections: int. Detections kept per image. Defaults to 100.
        max_detections_per_class: int. Defaults to 100.

    Returns (from `call`):
        The keras-cv dict: `boxes` `[batch, max_detections, 4]` normalised
        yxyx, `classes` and `confidence` `[batch, max_detections]` (-1 for
        padding), `num_detections` `[batch]`.
    """

    def __init__(
        self,
        anchor_generator,
        background_logit=False,
        variances=(0.1, 0.1, 0.2, 0.2),
        confidence_threshold=0.05,
        iou_threshold=0.5,
        max_detections=100,
        max_detections_per_class=100,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(anchor_generator, dict):
            anchor_generator = AnchorGenerator.from_config(anchor_generator)
        if not 0.0 <= confidence_threshold <= 1.0:
            raise ValueError(f"confidence_threshold must be in [0, 1], got {confidence_threshold}.")
        if not 0.0 < iou_threshold <= 1.0:
            raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}.")
        self.anchor_generator = anchor_generator
        self.background_logit = bool(background_logit)
        self.box_coder = BoxCoder(variances)
        self.confidence_threshold = float(confidence_threshold)
        self.iou_threshold = float(iou_threshold)
        self.max_detections = int(max_detections)
        self.max_detections_per_class = int(max_detections_per_class)
        self.anchors = anchor_generator()
        self.non_max_suppression = keras_cv.layers.MultiClassNonMaxSuppression(
            bounding_box_format="rel_yxyx",
            from_logits=False,
            iou_threshold=self.iou_threshold,
            confidence_threshold=self.confidence_threshold,
            max_detections=self.max_detections,
            max_detections_per_class=self.max_detections_per_class,
            dtype="float32",
        )

    def scores(self, class_logits):
        """Per-class confidences `[batch, num_anchors, num_classes]` from logits."""
        class_logits = keras.ops.cast(class_logits, "float32")
        if self.background_logit:
            return keras.ops.softmax(class_logits, axis=-1)[..., 1:]
        return keras.ops.sigmoid(class_logits)

    def call(self, box_deltas, class_logits):
        boxes = self.box_coder.decode(box_deltas, self.anchors)
        boxes = keras.ops.clip(boxes, 0.0, 1.0)
        detections = self.non_max_suppression(boxes, self.scores(class_logits))
        detections["classes"] = keras.ops.cast(detections["classes"], "int32")
        return detections

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "anchor_generator": self.anchor_generator.get_config(),
                "background_logit": self.background_logit,
                "variances": list(self.box_coder.variances),
                "confidence_threshold": self.confidence_threshold,
                "iou_threshold": self.iou_threshold,
                "max_detections": self.max_detections,
                "max_detections_per_class": self.max_detections_per_class,
            }
        )
        return config
