"""Learning that really happens, and the same step on one device and on two replicas."""

import json
import subprocess
import sys
import textwrap

import keras
import numpy as np

from keras_ssd.data.synthetic_shapes import render_example
from keras_ssd.metrics.coco_evaluation import unbatch_detections
from keras_ssd.models.ssd import SSD


def _embedded_images(num_images, image_size, max_boxes=6):
    images = np.zeros((num_images, image_size, image_size, 3), "float32")
    boxes = np.zeros((num_images, max_boxes, 4), "float32")
    classes = -np.ones((num_images, max_boxes), "int32")
    for index in range(num_images):
        image, image_boxes, labels = render_example(index, image_size=image_size)
        images[index] = image
        boxes[index, : len(labels)] = image_boxes
        classes[index, : len(labels)] = labels
    return images, {"boxes": boxes, "classes": classes}


def _found(ground_truth_box, ground_truth_class, detections, min_confidence=0.3):
    same = (detections["classes"] == ground_truth_class) & (detections["confidence"] >= min_confidence)
    if not same.any():
        return False
    iou = keras.utils.bounding_boxes.compute_iou(ground_truth_box[None], detections["boxes"][same], "yxyx")
    return bool((np.asarray(iou) >= 0.5).any())


def test_mobilenet_ssd_overfits_embedded_images_and_detects_them():
    # Inference mode uses the BatchNorm moving statistics: with keras.applications'
    # momentum 0.999 this model would detect nothing after this short training.
    images, targets = _embedded_images(8, 64)
    model = SSD(num_classes=5, image_size=64, width_multiplier=0.35, extra_filters=[64])
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = model.fit(images, targets, batch_size=8, epochs=80, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0]
    detections = unbatch_detections(model.predict(images, verbose=0))
    found = [
        _found(box, label, detections[index])
        for index in range(8)
        for box, label in zip(targets["boxes"][index], targets["classes"][index])
        if label >= 0
    ]
    assert np.mean(found) >= 0.9, f"found {sum(found)} of {len(found)} boxes"


_DISTRIBUTED_STEP = textwrap.dedent(
    """
    import json, sys
    import numpy as np, tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    sys.path.insert(0, ".")
    from keras_ssd.models.ssd import SSD
    from tests.conftest import tiny_backbone
    from tests.models.test_ssd import _batch

    images, targets = _batch(num_images=4)
    targets["classes"][2:, 0] = [0, 2]
    targets["boxes"][2:, 0] = [[0.1, 0.5, 0.6, 0.9], [0.3, 0.1, 0.9, 0.5]]

    def one_step(strategy, initial_weights=None):
        with strategy.scope():
            # No BatchNorm: per-replica batch statistics would differ by design.
            model = SSD(num_classes=3, backbone=tiny_backbone(down_to_1x1=True), image_size=64)
            model.compile(optimizer=keras.optimizers.SGD(0.1))
        if initial_weights is not None:
            model.set_weights(initial_weights)
        start = model.get_weights()
        data = tf.data.Dataset.from_tensor_slices((images, targets)).batch(4)
        history = model.fit(data, epochs=1, verbose=0, shuffle=False)
        return start, model.get_weights(), history.history

    start, single_weights, single_history = one_step(tf.distribute.get_strategy())
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    _, mirrored_weights, mirrored_history = one_step(mirrored, start)
    print(json.dumps({
        "replicas": mirrored.num_replicas_in_sync,
        "max_weight_difference": max(float(np.abs(a - b).max()) for a, b in zip(single_weights, mirrored_weights)),
        "max_weight_change": max(float(np.abs(a - b).max()) for a, b in zip(single_weights, start)),
        "single": single_history, "mirrored": mirrored_history,
    }))
    """
)


def test_mirrored_strategy_step_equals_single_device_step():
    result = subprocess.run(
        [sys.executable, "-c", _DISTRIBUTED_STEP], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["replicas"] == 2
    assert report["max_weight_change"] > 1e-3  # the step did move the weights
    assert report["max_weight_difference"] < 1e-5
    for key in ("loss", "classification_loss", "localization_loss"):
        np.testing.assert_allclose(report["mirrored"][key], report["single"][key], rtol=1e-5)
