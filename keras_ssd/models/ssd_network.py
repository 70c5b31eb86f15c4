"""The parts `SSD` builds from its stored arguments: the feature extractor, the
anchors with their box coder and target assigner, the head and the decoder.

Keras tracks the layers in the order the attributes are set, and a saved
`.keras` file's weights follow that order: keep it.
"""

from keras_ssd.anchors.anchor_generator import AnchorGenerator
from keras_ssd.anchors.box_coder import BoxCoder
from keras_ssd.anchors.target_assigner import TargetAssigner
from keras_ssd.backbones.feature_extractor import build_feature_extractor
from keras_ssd.models.separable_ssd_head import SeparableSSDHead
from keras_ssd.models.ssd_head import SSDHead
from keras_ssd.models.weight_shared_ssd_head import WeightSharedSSDHead
from keras_ssd.postprocess.detection_decoder import DetectionDecoder

HEADS = {
    "convolutional": SSDHead,
    "separable": SeparableSSDHead,
    "weight_shared": WeightSharedSSDHead,
}


def default_aspect_ratios(num_feature_maps):
    """SSD300's pattern: {2} on the first and the last two maps, {2, 3} between."""
    return [
        [2.0] if level == 0 or level >= num_feature_maps - 2 else [2.0, 3.0]
        for level in range(num_feature_maps)
    ]


class SSDNetwork:
    """A `keras.Model` mixin; the model provides its stored arguments (the
    names of `SSD.get_config`, `head_name` for `head`) and `uses_background_logit`."""

    def _build_feature_extractor(self):
        """Sets `feature_extractor`, the backbone with its extra feature blocks."""
        self.feature_extractor = build_feature_extractor(
            self.backbone,
            self.image_size,
            backbone_weights=self.backbone_weights,
            width_multiplier=self.width_multiplier,
            extra_filters=self.extra_filters,
            batch_norm_momentum=self.batch_norm_momentum,
        )

    def _build_anchors(self, aspect_ratios, anchor_box_shapes):
        """Sets the anchors on the feature maps, the box coder and the target assigner.

        Args:
            aspect_ratios: `SSD`'s argument; None gives `default_aspect_ratios`.
            anchor_box_shapes: `SSD`'s argument; the generator's box shapes are stored.
        """
        feature_shapes = [tuple(output.shape) for output in self.feature_extractor.outputs]
        if aspect_ratios is None:
            aspect_ratios = default_aspect_ratios(len(feature_shapes))
        self.aspect_ratios = [list(ratios) for ratios in aspect_ratios]
        self.anchor_generator = AnchorGenerator(
            [list(shape[1:3]) for shape in feature_shapes],
            aspect_ratios=self.aspect_ratios,
            scales=self.anchor_scales,
            min_scale=self.min_scale,
            max_scale=self.max_scale,
            steps=self.anchor_steps,
            image_size=None if self.anchor_steps is None else self.image_size,
            offset=self.anchor_offset,
            box_shapes=anchor_box_shapes,
        )
        self.anchor_box_shapes = self.anchor_generator.box_shapes
        self.anchors = self.anchor_generator()
        # One box coder: targets are encoded and, for IoU losses, decoded with it.
        self.box_coder = BoxCoder(self.variances)
        self.target_assigner = TargetAssigner(
            self.anchors,
            self.box_coder,
            positive_threshold=self.positive_threshold,
            negative_threshold=self.negative_threshold,
        )

    def _build_head_and_decoder(self):
        """Sets `head`, the predictions for every anchor, and `decoder` (boxes and NMS)."""
        self.head = HEADS[self.head_name](
            self.anchor_generator.num_anchors_per_location(),
            num_logits=self.num_classes + int(self.uses_background_logit),
            background_logit=self.uses_background_logit,
            name="ssd_head",
            **self.head_options,
        )
        self.decoder = DetectionDecoder(
            self.anchor_generator,
            background_logit=self.uses_background_logit,
            variances=self.variances,
            confidence_threshold=self.confidence_threshold,
            iou_threshold=self.iou_threshold,
            max_detections=self.max_detections,
            name="detection_decoder",
        )
