"""Bad `SSD` arguments end in a ValueError/TypeError naming the argument; short loss names work."""

import numpy as np
import pytest

from keras_ssd.losses import (
    HardNegativeMining,
    IoULocalizationLoss,
    SigmoidFocalClassificationLoss,
    SmoothL1LocalizationLoss,
    WeightedSigmoidClassificationLoss,
    WeightedSoftmaxClassificationLoss,
)
from keras_ssd.models.ssd import SSD
from keras_ssd.models.ssd_arguments import check_int, resolve_loss
from tests.conftest import tiny_ssd, tiny_ssd_arguments



@pytest.mark.parametrize(
    "name, expected",
    [
        ("softmax", HardNegativeMining),
        ("focal", SigmoidFocalClassificationLoss),
        ("sigmoid", WeightedSigmoidClassificationLoss),
    ],
)
def test_classification_loss_short_names(name, expected):
    loss = resolve_loss(name, "classification_loss")
    assert type(loss) is expected
    if name == "softmax":
        assert type(loss.loss) is WeightedSoftmaxClassificationLoss
        assert loss.negative_ratio == 3.0


@pytest.mark.parametrize(
    "name, expected, mode",
    [("smooth_l1", SmoothL1LocalizationLoss, None), ("iou", IoULocalizationLoss, "iou"),
     ("giou", IoULocalizationLoss, "giou")],
)
def test_localization_loss_short_names(name, expected, mode):
    loss = resolve_loss(name, "localization_loss")
    assert type(loss) is expected
    if mode is not None:
        assert loss.mode == mode


def test_ssd_with_short_names_builds_the_matching_head_and_round_trips():
    model = tiny_ssd(classification_loss="focal", localization_loss="giou")
    # A sigmoid loss has no background logit: 3 logits per anchor.
    assert model(np.zeros((1, 64, 64, 3), "float32"))["classes"].shape[-1] == 3
    config = model.get_config()
    assert config["classification_loss"]["class_name"] == "SigmoidFocalClassificationLoss"
    assert config["localization_loss"]["config"]["mode"] == "giou"
    softmax = tiny_ssd(classification_loss="softmax")
    assert softmax(np.zeros((1, 64, 64, 3), "float32"))["classes"].shape[-1] == 4


@pytest.mark.parametrize(
    "overrides, error, argument",
    [
        ({"classification_loss": "focall"}, ValueError, "classification_loss"),
        ({"classification_loss": 3}, TypeError, "classification_loss"),
        ({"classification_loss": SmoothL1LocalizationLoss()}, TypeError, "classification_loss"),
        ({"localization_loss": "l2"}, ValueError, "localization_loss"),
        ({"localization_loss": len}, TypeError, "localization_loss"),
        ({"class_weights": "balanced"}, ValueError, "compute_class_weights"),
        ({"class_weights": [0.0, 0.0]}, ValueError, "class_weights"),
        ({"class_weights": {0: 0.0, 1: 0}}, ValueError, "class_weights"),
        ({"image_size": 300.7}, TypeError, "image_size"),
        ({"image_size": "300"}, TypeError, "image_size"),
        ({"image_size": 4}, ValueError, "image_size"),
        ({"max_detections": 0}, ValueError, "max_detections"),
        ({"max_detections": 2.5}, TypeError, "max_detections"),
        ({"num_classes": 2.0}, TypeError, "num_classes"),
        ({"num_classes": True}, TypeError, "num_classes"),
        ({"num_classes": 0}, ValueError, "num_classes"),
        ({"iou_threshold": 0.0}, ValueError, "iou_threshold"),
        ({"confidence_threshold": 1.5}, ValueError, "confidence_threshold"),
    ],
)
def test_bad_argument_names_the_argument(overrides, error, argument):
    arguments = {"num_classes": 2, **tiny_ssd_arguments(), **overrides}
    with pytest.raises(error, match=argument):
        SSD(**arguments)


def test_class_weights_all_zero_on_the_loss_are_refused():
    loss = WeightedSigmoidClassificationLoss(class_weights=[0.0, 0.0])
    with pytest.raises(ValueError, match="classification_loss.class_weights"):
        tiny_ssd(2, classification_loss=loss)


def test_balanced_message_points_to_compute_class_weights():
    with pytest.raises(ValueError, match=r"class_weights.*compute_class_weights\(dataset, method='balanced'"):
        tiny_ssd(2, class_weights="balanced")


def test_any_integral_num_classes_is_accepted():
    model = SSD(num_classes=np.int64(2), class_weights=[1.0, 0.0], **tiny_ssd_arguments())
    assert type(model.num_classes) is int and model.num_classes == 2
    assert model(np.zeros((1, 64, 64, 3), "float32"))["classes"].shape[-1] == 3
    assert check_int(np.uint8(7), "image_size") == 7
