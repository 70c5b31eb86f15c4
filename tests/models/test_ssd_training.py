"""Learning that really happens (distributed steps: `test_ssd_distributed.py`)."""

import keras
import numpy as np
import pytest

from keras_ssd.data.synthetic_shapes import render_batch
from keras_ssd.metrics.coco_evaluation import unbatch_detections
from keras_ssd.models.ssd import SSD


def _found(ground_truth_box, ground_truth_class, detections, min_confidence=0.3):
    same = (detections["classes"] == ground_truth_class) & (detections["confidence"] >= min_confidence)
    if not same.any():
        return False
    iou = keras.utils.bounding_boxes.compute_iou(ground_truth_box[None], detections["boxes"][same], "yxyx")
    return bool((np.asarray(iou) >= 0.5).any())


@pytest.mark.long_running(seconds=35)
def test_mobilenet_ssd_overfits_embedded_images_and_detects_them():
    # Inference mode uses the BatchNorm moving statistics: with keras.applications'
    # momentum 0.999 this model would detect nothing after this short training.
    images, targets = render_batch(8, 64)
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
