"""Tests of evaluation on reader examples: flags and original sizes survive batching."""

import numpy as np
import pytest
import tensorflow as tf

from keras_ssd.metrics.example_evaluation import evaluate_examples
from keras_ssd.metrics.example_evaluation import predict_examples

BOXES = np.array([[0.1, 0.1, 0.4, 0.4], [0.5, 0.5, 0.9, 0.9], [0.1, 0.6, 0.3, 0.9]], "float32")


class _FixedDetector:
    """Finds boxes 0 and 1 (classes 0, 1) in every image, never box 2."""

    image_size = 32

    def __init__(self):
        self.batch_shapes = []

    def predict_on_batch(self, images):
        self.batch_shapes.append(tuple(images.shape))
        batch = images.shape[0]
        return {
            "boxes": np.tile(BOXES[None, :2], (batch, 1, 1)),
            "classes": np.tile([[0, 1]], (batch, 1)),
            "confidence": np.tile([[0.9, 0.8]], (batch, 1)),
            "num_detections": np.full(batch, 2),
        }


def _examples(flag):
    """Five grey images of different sizes; box 2 (class 0) carries `flag`."""

    def generate():
        for index in range(5):
            objects = {
                "bbox": BOXES, "label": np.array([0, 1, 0], np.int64),
                "difficult": np.array([False, False, flag == "difficult"]),
                "iscrowd": np.array([False, False, flag == "iscrowd"]),
            }  # fmt: skip
            yield {"image": np.full((40 + 10 * index, 50, 1), 9, np.uint8), "objects": objects}

    return tf.data.Dataset.from_generator(generate, output_signature={
        "image": tf.TensorSpec((None, None, 1), tf.uint8),
        "objects": {
            "bbox": tf.TensorSpec((None, 4), tf.float32), "label": tf.TensorSpec((None,), tf.int64),
            "difficult": tf.TensorSpec((None,), tf.bool), "iscrowd": tf.TensorSpec((None,), tf.bool),
        },
    })  # fmt: skip


def test_flags_and_original_sizes_reach_the_evaluations():
    model = _FixedDetector()
    truth, detections, sizes = predict_examples(model, _examples("difficult"), batch_size=2, progress=False)
    assert model.batch_shapes == [(2, 32, 32, 3), (2, 32, 32, 3), (1, 32, 32, 3)]
    assert sizes == [(40 + 10 * i, 50) for i in range(5)]
    assert len(detections) == 5 and truth[0]["difficult"].tolist() == [False, False, True]

    # The missed box 2 is difficult: VOC ignores it, COCO counts it as missed.
    coco, voc = evaluate_examples(model, _examples("difficult"), ["a", "b"], batch_size=2, voc=True, progress=False)
    assert voc.per_class[0]["num_boxes"] == 5 and voc.per_class[0]["AP_all_point"] == 1.0
    assert coco.per_class[0]["AP50"] == pytest.approx(0.5, abs=0.01)

    # The missed box 2 is a crowd: COCO ignores it.
    coco, voc = evaluate_examples(model, _examples("iscrowd"), ["a", "b"], batch_size=2, progress=False)
    assert voc is None
    assert coco.per_class[0]["num_boxes"] == 5 and coco.per_class[0]["AP50"] == 1.0


def test_bad_input():
    with pytest.raises(ValueError, match="batch_size"):
        predict_examples(_FixedDetector(), _examples(None), batch_size=0)
    without_images = _examples(None).map(lambda example: {"objects": example["objects"]})
    with pytest.raises(ValueError, match="load_images=True"):
        predict_examples(_FixedDetector(), without_images)
