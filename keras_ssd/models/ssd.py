"""The SSD detector as a `keras.Model` (Liu et al. 2016)."""

import copy

import keras
import numpy as np
import tensorflow as tf

from keras_ssd.data.validation import assert_valid_targets, count_target_problems
from keras_ssd.losses.class_weighted_loss import anchor_class_weights
from keras_ssd.losses.class_weights import resolve_class_weights
from keras_ssd.losses.localization_loss import per_anchor_localization_loss
from keras_ssd.losses.mining import MiningLoss
from keras_ssd.models.loss_normalization import normalize_losses
from keras_ssd.models.loss_normalization import num_replicas
from keras_ssd.models.checked_fit import GroundTruthCheckedFit
from keras_ssd.models.compiled_losses import per_anchor_losses, supports_compiled_losses
from keras_ssd.models.device_steps import DeviceSafeSteps
from keras_ssd.models.ssd_arguments import (
    check_not_all_zero,
    check_probability,
    check_ssd_arguments,
    per_image_weights,
    resolve_losses,
)
from keras_ssd.models.input_warnings import InputCounter
# default_aspect_ratios stays importable from here (docs/api/model.md names it so).
from keras_ssd.models.ssd_network import SSDNetwork, default_aspect_ratios  # noqa: F401
from keras_ssd.models.target_guard import TargetProblemCounter

# The `SSD` arguments that `get_config` returns as the attributes of the same
# name; it adds `backbone`, `backbone_weights`, `head` and the two losses.
_CONFIG_ATTRIBUTES = (
    "num_classes", "image_size", "width_multiplier", "batch_norm_momentum", "extra_filters",
    "aspect_ratios", "min_scale", "max_scale", "anchor_scales", "anchor_steps", "anchor_offset",
    "anchor_box_shapes", "head_options", "class_weights", "class_names", "localization_weight",
    "weight_localization", "loss_normalization", "positive_threshold", "negative_threshold",
    "variances", "confidence_threshold", "iou_threshold", "max_detections",
)


def _deserialize(value):
    """Revives a serialized Keras object; Keras consumes the dict, so give it a copy."""
    if isinstance(value, dict):
        return keras.saving.deserialize_keras_object(copy.deepcopy(value))
    return value


def _per_anchor(method, *args):
    """A loss' per-anchor method, kept out of AutoGraph as Keras keeps `Loss.__call__` out of it.

    The losses branch in Python on static shapes only; AutoGraph would convert
    their methods inside a user's `tf.function` and fail on them.
    """
    return tf.autograph.experimental.do_not_convert(method)(*args)


class _Untracked:
    """A plain attribute holder: Keras and tf.Module do not track what it holds."""

    def __init__(self, **values):
        self.__dict__.update(values)


@keras.saving.register_keras_serializable(package="keras_ssd")
class SSD(SSDNetwork, GroundTruthCheckedFit, DeviceSafeSteps, keras.Model):
    """Single Shot MultiBox Detector with class-weighted losses.

    `call` returns the raw head outputs; `compute_loss` assigns anchors to the
    ground truth in-graph and calls the loss objects, so `fit` and `evaluate`
    work with no `loss=` in `compile`; `predict` returns decoded detections
    after non-maximum suppression. Data layouts: `docs/conventions.md`.

    Args:
        num_classes: int (any integral type). Number of object classes
            (background excluded).
        backbone: `"mobilenet_v2"`, the name of a published feature extractor
            (`"vgg16_ssd300"`, `"vgg16_ssd512"`, `"ssdlite_mobilenet_v2"`,
            `"resnet50_fpn"`; `SSD.from_preset` picks them) or a `keras.Model`
            returning feature maps. Defaults to `"mobilenet_v2"`.
        image_size: int >= 8. Side of the square input in pixels. Defaults to 300.
        backbone_weights: None, `"imagenet"` or a weights file path, for a
            named backbone.
        width_multiplier: float. Width of a named backbone. Defaults to 1.0.
        batch_norm_momentum: float. BatchNorm momentum in the named backbone
            and the extra layers. Defaults to 0.9.
        extra_filters: channels of the extra feature blocks.
        aspect_ratios: per-map lists of ratios > 1. Defaults to SSD300's
            pattern (`default_aspect_ratios`).
        min_scale: float. Anchor scale of the first map. Defaults to 0.1.
        max_scale: float. Anchor scale of the last map. Defaults to 0.9.
        anchor_scales: optional explicit scales, one per map plus one.
        anchor_steps: optional stride in pixels of each map, placing anchor
            centres as Caffe SSD does (`AnchorGenerator`). Defaults to None.
        anchor_offset: float. Anchor centre offset in a cell. Defaults to 0.5.
        anchor_box_shapes: optional explicit `[height, width]` boxes per map
            (`AnchorGenerator`'s `box_shapes`), replacing the ratios and
            scales. Defaults to None.
        head: `"convolutional"` (a 3x3 convolution per map, `SSDHead`),
            `"separable"` (SSDLite, `SeparableSSDHead`) or `"weight_shared"`
            (one tower for all maps, `WeightSharedSSDHead`). Defaults to
            `"convolutional"`.
        head_options: optional dict of further arguments of the head class
            (e.g. `{"depth": 64}`). Defaults to None.
        class_weights: None, a list of `num_classes` weights, or a dict from
            class id or name to weight (missing classes weigh 1), not all 0.
            Multiplies the classification loss of anchors matched to each
            class. To derive them from the data, pass the result of
            `keras_ssd.compute_class_weights`.
        class_names: optional list of `num_classes` names.
        classification_loss: a keras_ssd classification loss or a short
            name: `"softmax"` (`HardNegativeMining(WeightedSoftmaxClassificationLoss())`,
            the SSD paper's softmax loss with 3:1 hard-negative mining, the
            default), `"focal"` (`SigmoidFocalClassificationLoss()`) or
            `"sigmoid"` (`WeightedSigmoidClassificationLoss()`).
        localization_loss: a keras_ssd localization loss or `"smooth_l1"`
            (the default), `"iou"` or `"giou"` (`IoULocalizationLoss`).
        localization_weight: float. Weight of the localization term
            (paper's alpha). Defaults to 1.0.
        weight_localization: bool. Also multiply the localization loss of a
            positive anchor by its class weight. Defaults to False (per-box
            weights only, as in the TF OD API).
        loss_normalization: `"num_positives"` (divide by the number of
            positive anchors in the global batch, at least 1) or `"per_image"`
            (divide each image by its own count, then average the images).
        positive_threshold: float. IoU for a positive anchor. Defaults to 0.5.
        negative_threshold: float or None. IoU under which an anchor is
            background (anchors in between are ignored). Defaults to None.
        variances: box coder variances. Defaults to (0.1, 0.1, 0.2, 0.2).
        confidence_threshold: float. Minimum detection score. Defaults to 0.05.
        iou_threshold: float. NMS IoU threshold. Defaults to 0.5.
        max_detections: int. Detections per image. Defaults to 100.

    Example:

    ```python
    model = keras_ssd.SSD(num_classes=3, image_size=128, width_multiplier=0.35,
                          class_weights=[1.0, 2.0, 8.0])
    model.compile(optimizer="adam")
    model.fit(images, {"boxes": boxes, "classes": classes}, epochs=1)
    detections = model.predict(images)
    ```
    """

    def __init__(
        self,
        num_classes,
        backbone="mobilenet_v2",
        image_size=300,
        backbone_weights=None,
        width_multiplier=1.0,
        batch_norm_momentum=0.9,
        extra_filters=(256, 256, 128, 128, 128),
        aspect_ratios=None,
        min_scale=0.1,
        max_scale=0.9,
        anchor_scales=None,
        anchor_steps=None,
        anchor_offset=0.5,
        anchor_box_shapes=None,
        head="convolutional",
        head_options=None,
        class_weights=None,
        class_names=None,
        classification_loss=None,
        localization_loss=None,
        localization_weight=1.0,
        weight_localization=False,
        loss_normalization="num_positives",
        positive_threshold=0.5,
        negative_threshold=None,
        variances=(0.1, 0.1, 0.2, 0.2),
        confidence_threshold=0.05,
        iou_threshold=0.5,
        max_detections=100,
        **kwargs,
    ):
        super().__init__(**kwargs)
        num_classes, image_size, max_detections = check_ssd_arguments(
            num_classes, image_size, max_detections, class_weights=class_weights,
            class_names=class_names, loss_normalization=loss_normalization,
            localization_weight=localization_weight, head=head,
        )
        classification_loss, localization_loss = resolve_losses(
            _deserialize(classification_loss), _deserialize(localization_loss)
        )

        self.num_classes = num_classes
        self.backbone = _deserialize(backbone)
        self.image_size = image_size
        self.backbone_weights = backbone_weights
        self.width_multiplier = float(width_multiplier)
        self.batch_norm_momentum = float(batch_norm_momentum)
        self.extra_filters = list(extra_filters)
        self.min_scale = float(min_scale)
        self.max_scale = float(max_scale)
        self.anchor_scales = None if anchor_scales is None else list(anchor_scales)
        self.anchor_steps = None if anchor_steps is None else list(anchor_steps)
        self.anchor_offset = float(anchor_offset)
        self.head_name = head
        self.head_options = dict(head_options or {})
        self.class_names = None if class_names is None else list(class_names)
        class_weights = resolve_class_weights(class_weights, num_classes, self.class_names)
        self.class_weights = None if class_weights is None else list(class_weights)
        check_not_all_zero(self.class_weights)
        self.classification_loss = classification_loss
        self.localization_loss = localization_loss
        self.localization_weight = float(localization_weight)
        self.weight_localization = bool(weight_localization)
        self.loss_normalization = loss_normalization
        self.positive_threshold = float(positive_threshold)
        self.negative_threshold = negative_threshold
        self.variances = list(variances)
        self.confidence_threshold = check_probability(confidence_threshold, "confidence_threshold")
        self.iou_threshold = check_probability(iou_threshold, "iou_threshold", low_open=True)
        self.max_detections = max_detections

        self._prepare_classification_loss()
        self._build_feature_extractor()
        self._build_anchors(aspect_ratios, anchor_box_shapes)
        self._build_head_and_decoder()
        self._add_trackers()
        self.build((None, self.image_size, self.image_size, 3))

    def _prepare_classification_loss(self):
        """Sets `_classification_loss` and `uses_background_logit` (which sizes the head).

        `_classification_loss` is `classification_loss` with the model's class
        weights; `classification_loss` itself stays as given, for `get_config`.
        """
        loss = self.classification_loss
        if self.class_weights is not None:
            if loss.class_weights is not None:
                raise ValueError(
                    "class_weights were given both to SSD and to its classification_loss; "
                    "give them in one place."
                )
            loss = loss.with_class_weights(self.class_weights)
        if loss.class_weights is not None and len(loss.class_weights) != self.num_classes:
            raise ValueError(
                f"The classification loss has {len(loss.class_weights)} class weights but "
                f"num_classes={self.num_classes}."
            )
        check_not_all_zero(loss.class_weights, "classification_loss.class_weights")
        self._classification_loss = loss
        self.uses_background_logit = bool(loss.uses_background_logit)

    def _add_trackers(self):
        """Sets the loss trackers and the counters of bad targets and dropped boxes."""
        self.classification_loss_tracker = keras.metrics.Mean(name="classification_loss")
        self.localization_loss_tracker = keras.metrics.Mean(name="localization_loss")
        self._target_problems = TargetProblemCounter()
        self._input_counts = InputCounter()
        # Plain attributes hold what must stay out of Keras/TF tracking (and saving).
        self._predict_network = _Untracked(function=None)

    def build(self, input_shape):
        feature_shapes = [tuple(output.shape) for output in self.feature_extractor.outputs]
        self.head.build(feature_shapes)
        self.built = True

    def call(self, images, training=None):
        """Returns `{"boxes": deltas [batch, anchors, 4], "classes": logits}`."""
        features = self.feature_extractor(images, training=training)
        box_deltas, class_logits = self.head(features)
        return {"boxes": box_deltas, "classes": class_logits}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Assigns targets and returns the SSD loss of one (per-replica) batch.

        `loss = (L_cls + localization_weight · L_loc) / N`, `N` the number of
        positive anchors in the global batch (at least 1), which makes the
        gradients summed over replicas equal to a single-device step.
        `sample_weight` (from `fit`) is one weight per image, `[batch]` or
        `[batch, 1]`: it multiplies the losses of that image's anchors.
        """
        if not isinstance(y, dict) or "boxes" not in y or "classes" not in y:
            raise ValueError(
                "SSD expects targets as a dict with 'boxes' [batch, max_boxes, 4] "
                "(normalised yxyx) and 'classes' [batch, max_boxes] (-1 = padding); "
                f"got {type(y).__name__}."
            )
        if y_pred is None:
            y_pred = self(x, training=training)
        classes = tf.cast(y["classes"], tf.int32)
        # Asserts stop eager and plain-graph runs; XLA compiles them out, so the
        # problems are also counted and turn the loss into NaN (see TargetGuard).
        assert_valid_targets(y["boxes"], classes, self.num_classes)
        problems = count_target_problems(y["boxes"], classes, self.num_classes)
        self._target_problems.add(problems)
        if x is not None:
            self._input_counts.add(x, y.get("num_dropped_boxes"), classes.shape[1])
        targets = self.target_assigner(y["boxes"], classes, y.get("weights"))
        class_losses = localization = None
        # The compiled call also gives the derivatives, which only training needs.
        if training and supports_compiled_losses(
            self.target_assigner, self._classification_loss, self.localization_loss
        ):
            class_losses, localization = per_anchor_losses(
                self.target_assigner, self._classification_loss, self.localization_loss, targets, y_pred
            )
        positive = tf.cast(targets["positive_mask"], tf.float32)
        anchor_weights = targets["anchor_weights"] * per_image_weights(sample_weight, classes)

        localization_weights = positive * anchor_weights
        # The weights set on the model or on the loss: the prepared loss holds both.
        class_weights = self._classification_loss.class_weights
        if self.weight_localization and class_weights is not None:
            # The classification loss' lookup; only positives matter here.
            localization_weights *= anchor_class_weights(
                targets["class_targets"], class_weights, 0.0, self.num_classes
            )
        if localization is None:
            localization = _per_anchor(
                per_anchor_localization_loss,
                self.localization_loss,
                targets["box_targets"],
                y_pred["boxes"],
                self.box_coder,
                self.anchors,
            )
        localization = localization * localization_weights
        # The loss contract: `call` gives per-anchor losses; the weighting and
        # the reduction are the model's.
        loss, inputs = self._classification_loss, self._classification_inputs(y_pred, localization)
        if class_losses is None:
            classification = _per_anchor(loss.call, targets["class_targets"], inputs)
        elif isinstance(loss, MiningLoss):
            classification = _per_anchor(loss.mine, targets["class_targets"], class_losses, inputs)
        else:
            classification = class_losses
        classification = classification * anchor_weights
        classification, localization = normalize_losses(
            classification, localization, positive, self.loss_normalization
        )
        total = classification + self.localization_weight * localization
        if self.losses:
            total += tf.add_n(self.losses) / num_replicas()
        replicas = tf.cast(num_replicas(), tf.float32)
        self.classification_loss_tracker.update_state(classification * replicas)
        self.localization_loss_tracker.update_state(localization * replicas)
        # tf.where passes no gradient to the NaN branch: the weights stay finite.
        return tf.where(tf.reduce_any(problems > 0), tf.constant(np.nan, total.dtype), total)

    def _classification_inputs(self, y_pred, localization):
        """Logits, or the dict a TF OD API-style miner needs (boxes for its NMS)."""
        loss = self._classification_loss
        needs_boxes = loss.needs_predicted_boxes
        needs_localization = loss.needs_localization_losses
        if not (needs_boxes or needs_localization):
            return y_pred["classes"]
        inputs = {"logits": y_pred["classes"]}
        if needs_boxes:
            inputs["boxes"] = self.box_coder.decode(y_pred["boxes"], self.anchors)
        if needs_localization:
            inputs["localization"] = localization
        return inputs

    def detect(self, images):
        """Runs the network, decodes boxes and applies NMS.

        Args:
            images: `[batch, image_size, image_size, 3]` pixels in `[0, 255]`.

        Returns:
            The detections dict of `DetectionDecoder` (normalised yxyx boxes).
        """
        outputs = self(images, training=False)
        return self.decoder(outputs["boxes"], outputs["classes"])

    def get_config(self):
        config = super().get_config()
        backbone = self.backbone
        if isinstance(backbone, keras.Model):
            backbone = keras.saving.serialize_keras_object(backbone)
        config.update({name: getattr(self, name) for name in _CONFIG_ATTRIBUTES})
        config.update(
            {
                "backbone": backbone,
                # The weights travel in the .keras file; reloading must not download.
                "backbone_weights": None,
                "head": self.head_name,
                "classification_loss": keras.saving.serialize_keras_object(
                    self.classification_loss
                ),
                "localization_loss": keras.saving.serialize_keras_object(self.localization_loss),
            }
        )
        return config

    @classmethod
    def from_preset(cls, name, num_classes, backbone_weights=None, **overrides):
        """Builds a published SSD architecture (`keras_ssd.models.presets`).

        Args:
            name: str. A name from `SSD.presets()`, e.g. `"ssd300_vgg16"`.
            num_classes: int. Number of object classes (background excluded).
            backbone_weights: None, `"imagenet"` or a weights file path for
                the backbone. Defaults to None.
            **overrides: any other `SSD` argument, e.g. `image_size=160`,
                `width_multiplier=0.25` or `class_weights`; the anchors and
                layers that depend on the image size follow it.

        Returns:
            An `SSD`.

        Raises:
            ValueError: for an unknown name.

        Example:

        ```python
        model = keras_ssd.SSD.from_preset("ssd300_vgg16", num_classes=20)
        ```
        """
        from keras_ssd.models.presets import preset_arguments

        arguments = preset_arguments(name, **overrides)
        return cls(num_classes=num_classes, backbone_weights=backbone_weights, **arguments)

    @staticmethod
    def presets():
        """The names of the built-in architectures and what each one is.

        Returns:
            dict from preset name to a one-line description (input size,
            reference).
        """
        from keras_ssd.models.presets import PRESETS

        return {name: preset.description for name, preset in PRESETS.items()}

    def export(self, filepath, format="saved_model", **options):
        """Exports the detector with decoding and NMS inside (`keras_ssd.export`).

        Args:
            filepath: str. SavedModel directory, or `.tflite` file.
            format: `"saved_model"` (alias `"tf_saved_model"`) or `"tflite"`.
            **options: `score_threshold`, `iou_threshold`, `max_detections`
                (default: the model's); for TFLite also `quantize`
                (None or `"dynamic_range"`).

        Returns:
            str. `filepath`.
        """
        from keras_ssd.export import export_model

        return export_model(self, filepath, format=format, **options)
