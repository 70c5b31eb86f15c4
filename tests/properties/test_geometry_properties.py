"""Property-based tests (hypothesis, derandomized, few examples) of the geometry and the losses.

Each property holds for every input the strategies can draw: encode/decode are inverse,
IoU is symmetric and in [0, 1], matching gives every box an anchor, NMS output is sorted
and suppressed, augmentation keeps boxes valid and aligned, losses stay finite.
"""

import gc

import keras
import numpy as np
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keras_ssd.anchors.anchor_generator import AnchorGenerator
from keras_ssd.anchors.box_coder import BoxCoder
from keras_ssd.anchors.matching import match_anchors
from keras_ssd.augment.ssd_augmentation import SSDAugmentation
from keras_ssd.losses import (
    HardNegativeMining,
    IoULocalizationLoss,
    SigmoidFocalClassificationLoss,
    SmoothL1LocalizationLoss,
    WeightedSigmoidClassificationLoss,
    WeightedSoftmaxClassificationLoss,
)
from keras_ssd.postprocess.detection_decoder import DetectionDecoder

FAST = settings(
    derandomize=True,
    database=None,
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
ANCHORS = AnchorGenerator([[4, 4], [2, 2]], aspect_ratios=[[2.0], [2.0]])


@st.composite
def boxes(draw, min_count=1, max_count=6, min_side=0.02):
    """`[n, 4]` valid normalised yxyx boxes, drawn as centre and size."""
    count = draw(st.integers(min_count, max_count))
    rows = []
    for _ in range(count):
        height = draw(st.floats(min_side, 1.0))
        width = draw(st.floats(min_side, 1.0))
        ymin = draw(st.floats(0.0, 1.0 - height))
        xmin = draw(st.floats(0.0, 1.0 - width))
        rows.append([ymin, xmin, min(ymin + height, 1.0), min(xmin + width, 1.0)])
    return np.asarray(rows, np.float32)


def _iou(a, b):
    return np.asarray(keras.utils.bounding_boxes.compute_iou(a, b, "yxyx"))


@FAST
@given(boxes(min_count=1, max_count=8), st.sampled_from([(0.1, 0.1, 0.2, 0.2), (1.0, 1.0, 1.0, 1.0)]))
def test_decode_inverts_encode(ground_truth, variances):
    anchors = np.asarray(ANCHORS())[: len(ground_truth)]
    coder = BoxCoder(variances)
    decoded = np.asarray(coder.decode(coder.encode(ground_truth, anchors), anchors))
    np.testing.assert_allclose(decoded, ground_truth, atol=2e-5)


@FAST
@given(boxes(max_count=5), boxes(max_count=5))
def test_iou_is_symmetric_bounded_and_one_on_itself(first, second):
    forward, backward = _iou(first, second), _iou(second, first)
    np.testing.assert_allclose(forward, backward.T, atol=1e-6)
    assert np.all(forward >= 0.0) and np.all(forward <= 1.0 + 1e-6)
    # Keras adds an epsilon to the union: 1 up to eps / area (areas here >= 4e-4).
    np.testing.assert_allclose(np.diag(_iou(first, first)), 1.0, atol=1e-3)


@FAST
@given(boxes(max_count=6), st.integers(0, 3), st.floats(0.3, 0.7))
def test_matching_gives_every_box_an_anchor(ground_truth, num_padding, threshold):
    anchors = np.asarray(ANCHORS())
    iou = _iou(ground_truth, anchors)
    # Padding rows are -1, as TargetAssigner writes them.
    iou = np.concatenate([iou, -np.ones((num_padding, len(anchors)), np.float32)])[None]
    matches = np.asarray(match_anchors(iou, positive_threshold=threshold))[0]
    for box in range(len(ground_truth)):
        assert np.any(matches == box), f"box {box} got no anchor"
    assert not np.any(matches >= len(ground_truth)), "a padding row was matched"


@FAST
@given(st.integers(0, 2**31 - 1), st.floats(0.2, 0.8), st.booleans())
def test_nms_output_sorted_and_suppressed(seed, iou_threshold, background_logit):
    rng = np.random.default_rng(seed)
    num_anchors = len(ANCHORS())
    num_classes = 2
    deltas = rng.normal(0.0, 0.5, (2, num_anchors, 4)).astype("float32")
    logits = rng.normal(0.0, 2.0, (2, num_anchors, num_classes + background_logit)).astype("float32")
    decoder = DetectionDecoder(
        ANCHORS, background_logit=background_logit, iou_threshold=iou_threshold,
        confidence_threshold=0.05, max_detections=20,
    )
    detections = {key: np.asarray(value) for key, value in decoder(deltas, logits).items()}
    for image in range(2):
        count = int(detections["num_detections"][image])
        scores = detections["confidence"][image, :count]
        assert np.all(np.diff(scores) <= 1e-7), "scores not sorted"
        assert np.all(scores >= 0.05)
        assert np.all(detections["classes"][image, count:] == -1)
        found = detections["boxes"][image, :count]
        classes = detections["classes"][image, :count]
        for label in np.unique(classes):
            same = found[classes == label]
            overlap = _iou(same, same) - np.eye(len(same))
            assert np.all(overlap <= iou_threshold + 1e-5)


@FAST
@given(boxes(min_count=0, max_count=5, min_side=0.0), st.integers(0, 2**31 - 1), st.booleans())
def test_augmentation_keeps_boxes_valid_inside_and_aligned(ground_truth, seed, expand):
    count = len(ground_truth)
    example = {
        "image": tf.fill((24, 32, 3), tf.constant(90, tf.uint8)),
        "objects": {
            "bbox": tf.constant(ground_truth.reshape(-1, 4)),
            "label": tf.range(count, dtype=tf.int64),
            "weight": tf.range(count, dtype=tf.float32) / 10.0,
        },
    }
    augment = SSDAugmentation(expand_probability=float(expand), crop_trials=5)
    result = augment(example, seed=tf.constant([seed, 7], tf.int64))
    out = np.asarray(result["objects"]["bbox"])
    labels = np.asarray(result["objects"]["label"])
    weights = np.asarray(result["objects"]["weight"])
    assert len(out) == len(labels) == len(weights)
    assert np.all(out >= 0.0) and np.all(out <= 1.0)
    assert np.all(out[:, 2] > out[:, 0]) and np.all(out[:, 3] > out[:, 1])
    # Survivors keep their order and their own label and weight.
    assert np.all(np.diff(labels) > 0)
    np.testing.assert_allclose(weights, labels / 10.0, rtol=1e-6)
    assert np.isfinite(np.asarray(result["image"])).all()


CLASSIFICATION_LOSSES = {
    "softmax_mining": (lambda: HardNegativeMining(WeightedSoftmaxClassificationLoss()), 1),
    "sigmoid": (WeightedSigmoidClassificationLoss, 0),
    "focal": (SigmoidFocalClassificationLoss, 0),
}


@FAST
@given(
    st.sampled_from(sorted(CLASSIFICATION_LOSSES)),
    st.sampled_from(["float32", "float16"]),
    st.integers(0, 2**31 - 1),
    st.floats(1.0, 1e4),
)
def test_classification_losses_finite_for_huge_logits(name, dtype, seed, magnitude):
    build, background = CLASSIFICATION_LOSSES[name]
    rng = np.random.default_rng(seed)
    num_classes = 3
    targets = rng.integers(-1, num_classes + 1, (2, 16)).astype("int32")
    # Logits of +-magnitude (in float16 under mixed precision: 1e4 < 65504).
    signs = rng.choice([-1.0, 1.0], (2, 16, num_classes + background))
    logits = tf.Variable((signs * magnitude).astype(dtype))
    loss = build()
    with tf.GradientTape() as tape:
        value = loss(targets, logits)
    gradient = tape.gradient(value, logits)
    assert np.isfinite(float(value))
    assert np.isfinite(np.asarray(tf.cast(gradient, tf.float32))).all()


@FAST
@given(st.sampled_from(["smooth_l1", "iou", "giou"]), st.sampled_from(["float32", "float16"]),
       st.integers(0, 2**31 - 1))
def test_localization_losses_finite_for_huge_outputs(name, dtype, seed):
    rng = np.random.default_rng(seed)
    loss = {"smooth_l1": SmoothL1LocalizationLoss, "iou": lambda: IoULocalizationLoss("iou"),
            "giou": lambda: IoULocalizationLoss("giou")}[name]()
    target = np.sort(rng.uniform(0, 1, (2, 8, 2, 2)), axis=-2).transpose(0, 1, 3, 2).reshape(2, 8, 4)
    prediction = tf.Variable(rng.choice([-1e4, 1e4, 0.0], (2, 8, 4)).astype(dtype))
    with tf.GradientTape() as tape:
        value = loss(target.astype("float32"), prediction)
    gradient = tape.gradient(value, prediction)
    assert np.isfinite(float(value))
    assert np.isfinite(np.asarray(tf.cast(gradient, tf.float32))).all()


def test_a_hypothesis_test_runs_no_full_garbage_collection(monkeypatch):
    # tests/conftest.py starts hypothesis first in each worker: registering its PRNG runs
    # gc.collect(), which took 35-67 s late in a worker.
    collections = []
    monkeypatch.setattr(gc, "collect", lambda *arguments: collections.append(arguments) or 0)

    @FAST
    @given(st.none())
    def trivial(_):
        pass

    trivial()
    assert collections == []
