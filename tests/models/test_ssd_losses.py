"""SSD with losses that need more than logits: IoU on decoded boxes, the TF OD API miner."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssd.losses import IoULocalizationLoss
from keras_ssd.models.ssd import SSD

from tests.conftest import tiny_ssd


def _iou_ssd(**overrides):
    return tiny_ssd(**{"localization_loss": IoULocalizationLoss(), **overrides})


def _batch():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    boxes = np.zeros((2, 3, 4), "float32")
    classes = -np.ones((2, 3), "int32")
    boxes[0, :2] = [[0.1, 0.1, 0.5, 0.4], [0.5, 0.4, 0.95, 0.9]]
    classes[0, :2] = [0, 2]
    boxes[1, 0] = [0.2, 0.3, 0.7, 0.6]
    classes[1, 0] = 1
    weights = np.array([[1.0, 2.5, 1.0], [0.5, 1.0, 1.0]], "float32")
    return images, {"boxes": boxes, "classes": classes, "weights": weights}


def _decode(deltas, anchors, variances=(0.1, 0.1, 0.2, 0.2)):
    """Centre-size decoding in float64: deltas [y, x, h, w] against yxyx anchors."""
    deltas = np.asarray(deltas, np.float64)
    anchors = np.asarray(anchors, np.float64)
    height, width = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    centre_y = anchors[:, 0] + height / 2 + deltas[..., 0] * variances[0] * height
    centre_x = anchors[:, 1] + width / 2 + deltas[..., 1] * variances[1] * width
    box_height = height * np.exp(deltas[..., 2] * variances[2])
    box_width = width * np.exp(deltas[..., 3] * variances[3])
    return np.stack(
        [
            centre_y - box_height / 2,
            centre_x - box_width / 2,
            centre_y + box_height / 2,
            centre_x + box_width / 2,
        ],
        axis=-1,
    )


def _one_minus_giou(target, predicted, mode):
    """1 - IoU or 1 - GIoU of matching rows, in float64."""
    t, p = target, predicted
    area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
    low, high = np.maximum(t[..., :2], p[..., :2]), np.minimum(t[..., 2:], p[..., 2:])
    overlap = np.prod(np.clip(high - low, 0, None), axis=-1)
    union = area(t) + area(p) - overlap
    iou = overlap / union
    if mode == "iou":
        return 1.0 - iou
    outer_low, outer_high = np.minimum(t[..., :2], p[..., :2]), np.maximum(t[..., 2:], p[..., 2:])
    enclosing = np.prod(outer_high - outer_low, axis=-1)
    return 1.0 - iou + (enclosing - union) / enclosing


@pytest.mark.parametrize("mode", ["giou", "iou"])
def test_iou_loss_in_ssd_equals_closed_form(mode):
    images, targets = _batch()
    model = _iou_ssd(localization_loss=IoULocalizationLoss(mode=mode), localization_weight=2.0)
    outputs = model(images)
    loss = float(model.compute_loss(images, targets, outputs))

    assigned = model.target_assigner(targets["boxes"], targets["classes"], targets["weights"])
    positive = np.asarray(assigned["positive_mask"])
    num_positives = max(positive.sum(), 1)
    target_boxes = _decode(assigned["box_targets"], model.anchors)
    predicted_boxes = _decode(outputs["boxes"], model.anchors)
    per_anchor = _one_minus_giou(target_boxes, predicted_boxes, mode)
    weights = positive * np.asarray(assigned["anchor_weights"])
    localization = (per_anchor * weights).sum() / num_positives
    # The classification part is the (separately tested) mined softmax loss.
    classification = float(
        np.sum(
            model._classification_loss(
                assigned["class_targets"], outputs["classes"], assigned["anchor_weights"]
            )
        )
        / num_positives
    )
    assert 0 < localization < 2 * weights.sum()
    tracked = float(model.localization_loss_tracker.result())
    np.testing.assert_allclose(tracked, localization, rtol=1e-5)
    np.testing.assert_allclose(loss, classification + 2.0 * localization, rtol=1e-5)


def test_iou_loss_ssd_trains_and_survives_keras_save_load(tmp_path):
    images, targets = _batch()
    model = _iou_ssd(localization_loss=IoULocalizationLoss(mode="iou", name="box_iou"))
    model.compile(optimizer="adam")
    history = model.fit(images, targets, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    path = str(tmp_path / "iou_ssd.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, SSD)
    assert type(loaded.localization_loss) is IoULocalizationLoss
    assert loaded.localization_loss.get_config() == model.localization_loss.get_config()
    assert loaded.localization_loss.mode == "iou" and loaded.localization_loss.name == "box_iou"
    raw, raw_loaded = model(images), loaded(images)
    np.testing.assert_array_equal(raw["classes"], raw_loaded["classes"])
    np.testing.assert_array_equal(raw["boxes"], raw_loaded["boxes"])
    np.testing.assert_allclose(
        float(loaded.compute_loss(images, targets, raw_loaded)),
        float(model.compute_loss(images, targets, raw)),
        rtol=1e-6,
    )


def test_tf_object_detection_miner_gets_decoded_boxes_and_localization_losses(tmp_path):
    from keras_ssd.losses import HardExampleMiner, SmoothL1LocalizationLoss, WeightedSoftmaxClassificationLoss

    miner = HardExampleMiner(
        WeightedSoftmaxClassificationLoss(),
        num_hard_examples=60,
        iou_threshold=0.7,
        max_negatives_per_positive=3.0,
        min_negatives_per_image=3,
        loss_type="both",
    )
    model = _iou_ssd(classification_loss=miner, localization_loss=SmoothL1LocalizationLoss())
    images, targets = _batch()
    outputs = model(images)
    loss = float(model.compute_loss(images, targets, outputs))

    assigned = model.target_assigner(targets["boxes"], targets["classes"], targets["weights"])
    positive = np.asarray(assigned["positive_mask"])
    error = np.abs(np.asarray(outputs["boxes"], np.float64) - np.asarray(assigned["box_targets"]))
    localization = np.where(error < 1.0, 0.5 * error**2, error - 0.5).sum(-1) * positive * np.asarray(assigned["anchor_weights"])
    mined = miner.call(
        assigned["class_targets"],
        {
            "logits": outputs["classes"],
            "boxes": _decode(outputs["boxes"], model.anchors).astype("float32"),
            "localization": localization.astype("float32"),
        },
    )
    classification = (np.asarray(mined) * np.asarray(assigned["anchor_weights"])).sum()
    expected = (classification + localization.sum()) / positive.sum()
    np.testing.assert_allclose(loss, expected, rtol=1e-4)
    # Fewer anchors are kept than the SSD-paper rule would keep with no cap.
    assert (np.asarray(mined) > 0).sum() <= 2 * 60

    model.compile(optimizer="adam")
    model.fit(images, targets, epochs=1, verbose=0)
    path = str(tmp_path / "miner.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.classification_loss.get_config() == miner.get_config()
    np.testing.assert_allclose(
        float(loaded.compute_loss(images, targets, loaded(images))),
        float(model.compute_loss(images, targets, model(images))),
        rtol=1e-6,
    )


def test_default_loss_with_unit_weights_is_torchvision_ssd_compute_loss():
    """torchvision `SSD.compute_loss`, written out in NumPy for the same matches:

    `bbox = smooth_l1(pred, target, beta=1).sum() over positives / N`,
    `cls = (CE of positives + CE of the 3·P_i hardest negatives of each image) / N`,
    `N = max(1, number of positive anchors in the batch)`.
    """
    model = tiny_ssd()
    images, targets = _batch()
    targets = {"boxes": targets["boxes"], "classes": targets["classes"]}
    outputs = model(images)
    loss = float(model.compute_loss(images, targets, outputs))

    assigned = model.target_assigner(targets["boxes"], targets["classes"])
    labels = np.asarray(assigned["class_targets"])
    foreground = labels > 0
    logits = np.asarray(outputs["classes"], np.float64)
    log_softmax = logits - logits.max(-1, keepdims=True)
    log_softmax -= np.log(np.exp(log_softmax).sum(-1, keepdims=True))
    cross_entropy = -np.take_along_axis(log_softmax, labels[..., None], axis=-1)[..., 0]
    hard_negatives = np.zeros_like(foreground)
    for image in range(labels.shape[0]):
        negative_loss = np.where(foreground[image], -np.inf, cross_entropy[image])
        order = np.argsort(-negative_loss, kind="stable")
        hard_negatives[image, order[: 3 * foreground[image].sum()]] = True
    error = np.abs(np.asarray(outputs["boxes"], np.float64) - np.asarray(assigned["box_targets"]))
    smooth_l1 = np.where(error < 1.0, 0.5 * error**2, error - 0.5).sum(-1)
    num_foreground = max(1, foreground.sum())
    expected = (
        smooth_l1[foreground].sum() / num_foreground
        + (cross_entropy[foreground].sum() + cross_entropy[hard_negatives].sum()) / num_foreground
    )
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


@pytest.mark.parametrize("mode", ["giou", "iou"])
def test_one_overflowing_delta_on_a_weight_0_anchor_keeps_the_gradient_finite(mode):
    images, targets = _batch()
    model = _iou_ssd(localization_loss=IoULocalizationLoss(mode=mode))
    outputs = model(images)
    assigned = model.target_assigner(targets["boxes"], targets["classes"], targets["weights"])
    background = int(np.flatnonzero(np.asarray(assigned["positive_mask"])[0] == 0)[0])
    boxes = np.asarray(outputs["boxes"]).copy()
    boxes[0, background, 2:] = 1e4  # exp(0.2 * 1e4) overflows float32 without the clamp
    predicted = {"boxes": tf.constant(boxes), "classes": outputs["classes"]}
    with tf.GradientTape() as tape:
        tape.watch(predicted["boxes"])
        loss = model.compute_loss(images, targets, predicted)
    gradient = np.asarray(tape.gradient(loss, predicted["boxes"]))
    assert np.isfinite(float(loss)) and np.all(np.isfinite(gradient))
    np.testing.assert_array_equal(gradient[0, background], 0.0)
    np.testing.assert_allclose(float(loss), float(model.compute_loss(images, targets, outputs)), rtol=1e-6)
