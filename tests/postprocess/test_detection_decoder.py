"""Tests of DetectionDecoder with closed-form numbers: decoding, scores, thresholds, NMS."""

import numpy as np
import pytest

from keras_ssd.anchors.anchor_generator import AnchorGenerator
from keras_ssd.postprocess.detection_decoder import DetectionDecoder

# One 2x2 map, one 1:1 box of scale 0.5 (plus the extra box of scale sqrt(0.5 * 1.0)).
GENERATOR = AnchorGenerator([2], aspect_ratios=[[]], scales=[0.5, 1.0])


def _decoder(**kwargs):
    return DetectionDecoder(GENERATOR, **{"max_detections": 4, "max_detections_per_class": 4, **kwargs})


def test_anchors_are_the_generator_boxes():
    anchors = np.asarray(_decoder().anchors)
    assert anchors.shape == (8, 4)
    np.testing.assert_allclose(anchors[0], [0.0, 0.0, 0.5, 0.5], atol=1e-6)  # 1:1 box, cell (0, 0)
    np.testing.assert_allclose(anchors[6], [0.5, 0.5, 1.0, 1.0], atol=1e-6)  # 1:1 box, cell (1, 1)


def test_zero_deltas_detect_the_anchor_with_the_softmax_score():
    decoder = _decoder(background_logit=True, confidence_threshold=0.3)
    deltas = np.zeros((1, 8, 4), "float32")
    logits = np.zeros((1, 8, 3), "float32")
    logits[0, 6] = [0.0, 0.0, 2.0]  # class 1, score e^2 / (2 + e^2) = 0.787
    detections = {key: np.asarray(value) for key, value in decoder(deltas, logits).items()}
    # Every other anchor scores 1/3 for each class: above 0.3 too, but overlapping.
    assert detections["boxes"].shape == (1, 4, 4)
    np.testing.assert_allclose(detections["confidence"][0, 0], np.exp(2) / (2 + np.exp(2)), rtol=1e-5)
    assert detections["classes"][0, 0] == 1
    np.testing.assert_allclose(detections["boxes"][0, 0], [0.5, 0.5, 1.0, 1.0], atol=1e-6)
    assert detections["classes"].dtype == np.int32


def test_sigmoid_scores_threshold_and_padding():
    decoder = _decoder(background_logit=False, confidence_threshold=0.5)
    deltas = np.zeros((2, 8, 4), "float32")
    logits = np.full((2, 8, 2), -5.0, "float32")
    logits[0, 0, 0] = 1.0  # sigmoid(1) = 0.731, class 0, box (0, 0, 0.5, 0.5)
    logits[0, 2, 1] = 0.0  # sigmoid(0) = 0.5: not above the threshold
    detections = {key: np.asarray(value) for key, value in decoder(deltas, logits).items()}
    np.testing.assert_array_equal(detections["num_detections"], [1, 0])
    np.testing.assert_allclose(detections["confidence"][0, 0], 1 / (1 + np.exp(-1.0)), rtol=1e-5)
    np.testing.assert_allclose(detections["boxes"][0, 0], [0.0, 0.0, 0.5, 0.5], atol=1e-6)
    assert detections["classes"][0, 0] == 0
    np.testing.assert_array_equal(detections["classes"][0, 1:], -1)
    np.testing.assert_array_equal(detections["classes"][1], -1)


def test_deltas_are_decoded_with_the_variances_and_clipped():
    decoder = _decoder(background_logit=False, confidence_threshold=0.5, variances=(0.1, 0.1, 0.2, 0.2))
    deltas = np.zeros((1, 8, 4), "float32")
    # Anchor 0: centre (0.25, 0.25), size 0.5. A y delta of 1 moves it by 0.1 * 0.5.
    deltas[0, 0] = [1.0, 0.0, 0.0, 0.0]
    # Anchor 6: height doubled, exp(0.2 * 5 * ln 2 / 1) -> exp(ln 2) = 2: it leaves the image.
    deltas[0, 6] = [0.0, 0.0, 5.0 * np.log(2.0), 0.0]
    logits = np.full((1, 8, 1), -5.0, "float32")
    logits[0, 0, 0] = 3.0
    logits[0, 6, 0] = 2.0
    detections = {key: np.asarray(value) for key, value in decoder(deltas, logits).items()}
    np.testing.assert_allclose(detections["boxes"][0, 0], [0.05, 0.0, 0.55, 0.5], atol=1e-5)
    # Centre y 0.75, height 1.0 -> [0.25, 1.25], clipped to [0.25, 1.0].
    np.testing.assert_allclose(detections["boxes"][0, 1], [0.25, 0.5, 1.0, 1.0], atol=1e-5)


def test_nms_keeps_the_better_of_two_overlapping_boxes():
    deltas = np.zeros((1, 8, 4), "float32")
    logits = np.full((1, 8, 1), -5.0, "float32")
    # Anchors 0 (scale 0.5) and 1 (extra box, side sqrt(0.5), clipped to [0, 0.6036]) share
    # cell (0, 0): IoU 0.25 / 0.6036^2 = 0.686.
    logits[0, 0, 0], logits[0, 1, 0] = 2.0, 1.0
    side = 0.25 + np.sqrt(0.5) / 2
    iou = 0.25 / side**2
    np.testing.assert_allclose(iou, 0.6863, atol=1e-4)
    loose = _decoder(background_logit=False, confidence_threshold=0.1, iou_threshold=0.7)
    detections = {key: np.asarray(value) for key, value in loose(deltas, logits).items()}
    assert detections["num_detections"][0] == 2
    np.testing.assert_allclose(detections["boxes"][0, 1], [0.0, 0.0, side, side], atol=1e-5)
    strict = _decoder(background_logit=False, confidence_threshold=0.1, iou_threshold=0.65)
    detections = {key: np.asarray(value) for key, value in strict(deltas, logits).items()}
    assert detections["num_detections"][0] == 1
    np.testing.assert_allclose(detections["confidence"][0, 0], 1 / (1 + np.exp(-2.0)), rtol=1e-5)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"confidence_threshold": 1.5}, "confidence_threshold"), ({"iou_threshold": 0.0}, "iou_threshold")],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _decoder(**kwargs)
