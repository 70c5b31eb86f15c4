"""One config round trip for every public serializable class of keras_ssd.

For each class: every `__init__` argument is in `get_config` (keras-hub's RetinaNet
once dropped some and its tests could not see it), the config survives JSON, and the
object revived through `keras.saving` gives the same numbers as the original. `SSD`
itself, which builds a whole network, has its round trip in tests/models/test_ssd.py.
"""

import inspect
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssd.anchors.anchor_generator import AnchorGenerator
from keras_ssd.anchors.box_coder import BoxCoder
from keras_ssd.augment.ssd_augmentation import SSDAugmentation
from keras_ssd.losses import (
    HardExampleMiner,
    HardNegativeMining,
    IoULocalizationLoss,
    SigmoidFocalClassificationLoss,
    SmoothL1LocalizationLoss,
    WeightedSigmoidClassificationLoss,
    WeightedSoftmaxClassificationLoss,
)
from keras_ssd.models.ssd_head import SSDHead
from keras_ssd.postprocess.detection_decoder import DetectionDecoder

RNG = np.random.default_rng(0)
CLASS_TARGETS = RNG.choice([-1, 0, 0, 0, 1, 2, 3], size=(2, 30))
SAMPLE_WEIGHT = RNG.uniform(0.5, 2.0, size=(2, 30)).astype("float32")
LOGITS = (2.0 * RNG.standard_normal((2, 30, 4))).astype("float32")
DELTAS = (0.5 * RNG.standard_normal((2, 30, 4))).astype("float32")
CORNERS = RNG.uniform(0, 1, (2, 30, 2, 2))
BOXES = np.concatenate([CORNERS.min(-2), CORNERS.max(-2) + 0.05], -1).astype("float32")
TINY_ANCHORS = {"feature_map_sizes": [[2, 2], [1, 1]], "aspect_ratios": [[2.0], [2.0]]}


def _loss_numbers(y_true, y_pred):
    return lambda loss: [loss(y_true, y_pred, sample_weight=SAMPLE_WEIGHT)]


def _augment_numbers(augment):
    rng = np.random.default_rng(1)
    example = {
        "image": tf.constant(rng.integers(0, 255, (20, 24, 3)), tf.uint8),
        "objects": {"bbox": tf.constant(BOXES[0, :3].clip(0, 1)), "label": tf.constant([0, 1, 2], tf.int64)},
    }
    output = augment(example, tf.constant([2, 3]))
    return [output["image"], output["objects"]["bbox"]]


def _head_numbers(head):
    rng = np.random.default_rng(2)
    features = [tf.constant(rng.standard_normal((1, size, size, 8)), tf.float32) for size in (4, 2)]
    if not head.built:
        head.build([feature.shape for feature in features])
    return list(head(features))


def _decoder_numbers(decoder):
    rng = np.random.default_rng(3)
    num_anchors = decoder.anchors.shape[0]
    deltas = tf.constant(0.3 * rng.standard_normal((2, num_anchors, 4)), tf.float32)
    logits = tf.constant(2.0 * rng.standard_normal((2, num_anchors, 4)), tf.float32)
    detections = decoder(deltas, logits)
    return [detections[key] for key in ("boxes", "classes", "confidence", "num_detections")]


# name: (object with every argument set away from its default, numbers of an object)
CASES = {
    "BoxCoder": (
        lambda: BoxCoder([0.1, 0.2, 0.3, 0.4]),
        lambda coder: [coder.decode(DELTAS[0], BOXES[0]), coder.encode(BOXES[1], BOXES[0])],
    ),
    "AnchorGenerator": (
        lambda: AnchorGenerator(
            [[4, 4], [2, 2]], aspect_ratios=[[2.0], [2.0, 3.0]], scales=[0.2, 0.5, 0.9], min_scale=0.1,
            max_scale=0.8, steps=[16, 32], image_size=64, offset=0.4, clip=True,
        ),
        lambda generator: [generator()],
    ),
    "SSDAugmentation": (
        lambda: SSDAugmentation(
            (24, 32), photometric=False, expand_max_ratio=2.5, expand_probability=0.25,
            min_ious=(None, 0.5), crop_trials=7, scale_range=(0.5, 0.9),
            aspect_ratio_range=(0.75, 1.5), flip=False, mean_pixel=(1, 2, 3), seed=11,
        ),
        _augment_numbers,
    ),
    "WeightedSoftmaxClassificationLoss": (
        lambda: WeightedSoftmaxClassificationLoss(
            logit_scale=2.0, class_weights=(0.5, 2.0, 3.0), background_weight=0.7, reduction="none", name="cls"
        ),
        _loss_numbers(CLASS_TARGETS, LOGITS),
    ),
    "WeightedSigmoidClassificationLoss": (
        lambda: WeightedSigmoidClassificationLoss(
            class_weights=[1.0, 2.0, 0.5], background_weight=0.5, reduction="sum_over_batch_size", name="sig"
        ),
        _loss_numbers(CLASS_TARGETS, LOGITS[..., 1:]),
    ),
    "SigmoidFocalClassificationLoss": (
        lambda: SigmoidFocalClassificationLoss(
            gamma=1.5, alpha=0.4, class_weights=[1.0, 2.0, 0.5], background_weight=0.5, reduction="none",
            name="focal",
        ),
        _loss_numbers(CLASS_TARGETS, LOGITS[..., 1:]),
    ),
    "SigmoidFocalClassificationLoss(alpha=None)": (
        lambda: SigmoidFocalClassificationLoss(gamma=2.0, alpha=None),
        _loss_numbers(CLASS_TARGETS, LOGITS[..., 1:]),
    ),
    "HardNegativeMining": (
        lambda: HardNegativeMining(
            SigmoidFocalClassificationLoss(gamma=1.0, class_weights=[1.0, 2.0, 0.5]), negative_ratio=2.5,
            min_negatives=4, reduction="none", name="mined",
        ),
        _loss_numbers(CLASS_TARGETS, LOGITS[..., 1:]),
    ),
    "HardExampleMiner": (
        lambda: HardExampleMiner(
            WeightedSigmoidClassificationLoss(class_weights=[1.0, 2.0, 0.5]), num_hard_examples=7,
            max_negatives_per_positive=2.5, min_negatives_per_image=2, iou_threshold=0.6, loss_type="both",
            reduction="none", name="tf_miner",
        ),
        _loss_numbers(
            CLASS_TARGETS, {"logits": LOGITS[..., 1:], "boxes": BOXES, "localization": SAMPLE_WEIGHT}
        ),
    ),
    "SmoothL1LocalizationLoss": (
        lambda: SmoothL1LocalizationLoss(delta=0.5, reduction="none", name="huber"),
        _loss_numbers(DELTAS, DELTAS[::-1]),
    ),
    "IoULocalizationLoss": (
        lambda: IoULocalizationLoss(mode="iou", reduction="none", name="iou"),
        _loss_numbers(BOXES, BOXES[::-1]),
    ),
    "SSDHead": (
        lambda: SSDHead([2, 3], num_logits=4, prior_probability=0.05, background_logit=True, name="head"),
        _head_numbers,
    ),
    "DetectionDecoder": (
        lambda: DetectionDecoder(
            AnchorGenerator(**TINY_ANCHORS), background_logit=True, variances=(0.1, 0.1, 0.3, 0.3),
            confidence_threshold=0.2, iou_threshold=0.4, max_detections=7, max_detections_per_class=3,
            name="decoder",
        ),
        _decoder_numbers,
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_config_has_every_argument_and_the_revived_object_gives_the_same_numbers(name):
    make, numbers = CASES[name]
    original = make()
    config = original.get_config()
    for argument, parameter in inspect.signature(type(original).__init__).parameters.items():
        if argument != "self" and parameter.kind not in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL):
            assert argument in config, argument
    serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(original)))
    revived = keras.saving.deserialize_keras_object(serialized)
    assert type(revived) is type(original)
    assert revived.get_config() == config
    expected = numbers(original)
    if isinstance(original, keras.layers.Layer) and original.weights:
        # A revived layer has fresh weights; the config must rebuild the same layer.
        numbers(revived)
        revived.set_weights(original.get_weights())
    for got, want in zip(numbers(revived), expected):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
