"""TFLite export, checked with `tf.lite.Interpreter` against the Keras model.

Tolerances: float32 matches the Keras detections within 1e-4 (same boxes, scores and
classes); dynamic-range quantisation (int8 weights) keeps the raw scores and boxes within
0.02 of the float model.
"""

import os
import warnings

import numpy as np
import pytest
import tensorflow as tf

from keras_ssd.export.tflite import export_tflite, labels_path_for, per_class_non_max_suppression
from keras_ssd.models.ssd import SSD
from tests.conftest import DETECTING_CLASS_NAMES as CLASS_NAMES
from tests.conftest import make_detecting_model, random_images

FLOAT_TOLERANCE = 1e-4
DYNAMIC_RANGE_TOLERANCE = 0.02


def _runner(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
        return tf.lite.Interpreter(model_path=path).get_signature_runner("serving_default")


def _raw(model, image):
    """Decoded boxes and per-class scores of the Keras model, before NMS."""
    outputs = model(image.astype("float32"), training=False)
    boxes = np.clip(model.decoder.box_coder.decode(outputs["boxes"], model.decoder.anchors), 0, 1)
    return np.asarray(boxes), np.asarray(model.decoder.scores(outputs["classes"]))


def _assert_matching_detections(lite, predicted, atol):
    """Every Keras detection has a TFLite twin (class, box and score within atol), and back.

    Compared as sets: two candidates of nearly equal score may come out in either order.
    """
    count = int(predicted["num_detections"][0])
    assert int(lite["num_detections"][0]) == count
    keras_rows = np.concatenate(
        [predicted["classes"][0, :count, None] + 1.0, predicted["confidence"][0, :count, None],
         predicted["boxes"][0, :count]], axis=1,
    )
    lite_rows = np.concatenate(
        [lite["detection_classes"][0, :count, None], lite["detection_scores"][0, :count, None],
         lite["detection_boxes"][0, :count]], axis=1,
    )
    for first, second in ((keras_rows, lite_rows), (lite_rows, keras_rows)):
        for row in first:
            assert np.any(np.all(np.abs(second - row) <= atol, axis=1)), row
    assert not np.any(lite["detection_scores"][0, count:])


def test_per_class_nms_closed_form_and_equal_to_combined_nms():
    boxes = tf.constant(
        [[0.0, 0.0, 0.5, 0.5], [0.05, 0.0, 0.55, 0.5], [0.6, 0.6, 1.0, 1.0]], tf.float32
    )
    scores = tf.constant([[0.9, 0.2], [0.8, 0.3], [0.1, 0.7]], tf.float32)
    found = per_class_non_max_suppression(
        boxes, scores, num_classes=2, max_detections=4, max_detections_per_class=4,
        iou_threshold=0.5, score_threshold=0.15,
    )
    # Class 0 keeps box 0 (box 1 overlaps it, box 2 is under the threshold);
    # class 1 keeps box 2 and box 1 (which suppresses box 0).
    np.testing.assert_allclose(found["detection_scores"], [0.9, 0.7, 0.3, 0.0])
    np.testing.assert_array_equal(found["detection_classes"], [1.0, 2.0, 2.0, 0.0])
    np.testing.assert_allclose(found["detection_boxes"][:3], tf.gather(boxes, [0, 2, 1]))
    np.testing.assert_allclose(found["detection_boxes"][3], [0.0, 0.0, 0.0, 0.0])
    assert float(found["num_detections"]) == 3.0
    combined = tf.image.combined_non_max_suppression(
        boxes[None, :, None, :], scores[None], 4, 4, iou_threshold=0.5, score_threshold=0.15
    )
    np.testing.assert_allclose(found["detection_scores"], combined.nmsed_scores[0])
    np.testing.assert_allclose(found["detection_boxes"], combined.nmsed_boxes[0])


def test_float32_tflite_matches_keras(tmp_path):
    model = make_detecting_model(confidence_threshold=0.7)
    path = export_tflite(model, str(tmp_path / "ssd.tflite"))
    with open(labels_path_for(path), encoding="utf-8") as handle:
        assert handle.read().splitlines() == CLASS_NAMES
    runner = _runner(path)
    assert runner.get_input_details()["images"]["shape"].tolist() == [1, 64, 64, 3]
    assert runner.get_input_details()["images"]["dtype"] == np.uint8
    num_anchors = model.anchors.shape[0]
    expected_shapes = {
        "detection_boxes": (1, 100, 4), "detection_scores": (1, 100), "detection_classes": (1, 100),
        "num_detections": (1,), "raw_detection_boxes": (1, num_anchors, 4),
        "raw_detection_scores": (1, num_anchors, 3),
    }
    for seed in (0, 1):
        image = random_images(1, seed=seed)
        lite = runner(images=image)
        assert {name: value.shape for name, value in lite.items()} == expected_shapes
        assert all(value.dtype == np.float32 for value in lite.values())
        predicted = model.predict(image.astype("float32"), verbose=0)
        assert 0 < predicted["num_detections"][0] < 100
        _assert_matching_detections(lite, predicted, FLOAT_TOLERANCE)
        boxes, scores = _raw(model, image)
        np.testing.assert_allclose(lite["raw_detection_boxes"], boxes, atol=FLOAT_TOLERANCE)
        np.testing.assert_allclose(lite["raw_detection_scores"], scores, atol=FLOAT_TOLERANCE)


def test_dynamic_range_tflite_is_smaller_and_close(tmp_path):
    model = make_detecting_model(confidence_threshold=0.7)
    float_path = model.export(str(tmp_path / "float.tflite"), format="tflite")
    quantized_path = model.export(str(tmp_path / "int8.tflite"), format="tflite", quantize="dynamic_range")
    assert os.path.getsize(quantized_path) < 0.6 * os.path.getsize(float_path)
    image = random_images(1, seed=6)
    lite = _runner(quantized_path)(images=image)
    boxes, scores = _raw(model, image)
    np.testing.assert_allclose(lite["raw_detection_boxes"], boxes, atol=DYNAMIC_RANGE_TOLERANCE)
    np.testing.assert_allclose(lite["raw_detection_scores"], scores, atol=DYNAMIC_RANGE_TOLERANCE)
    count = int(lite["num_detections"][0])
    assert count > 0
    assert np.all(np.diff(lite["detection_scores"][0, :count]) <= 0)
    assert np.all(lite["detection_scores"][0, :count] >= 0.7)


def test_mobilenet_v2_ssd_converts_with_dynamic_range(tmp_path):
    model = SSD(num_classes=2, width_multiplier=0.35, image_size=96, extra_filters=[32, 32])
    path = model.export(str(tmp_path / "mobilenet.tflite"), format="tflite", quantize="dynamic_range")
    float_bytes = 4 * model.count_params()
    assert os.path.getsize(path) < 0.4 * float_bytes  # int8 weights
    image = random_images(1, height=96, width=96, seed=7)
    lite = _runner(path)(images=image)
    boxes, scores = _raw(model, image)
    np.testing.assert_allclose(lite["raw_detection_boxes"], boxes, atol=DYNAMIC_RANGE_TOLERANCE)
    np.testing.assert_allclose(lite["raw_detection_scores"], scores, atol=DYNAMIC_RANGE_TOLERANCE)


def test_bad_tflite_arguments_are_rejected(tmp_path):
    model = make_detecting_model()
    with pytest.raises(ValueError, match="quantize must be one of"):
        export_tflite(model, str(tmp_path / "a.tflite"), quantize="int8")
    with pytest.raises(ValueError, match="it is a directory"):
        export_tflite(model, str(tmp_path))
    with pytest.raises(TypeError, match="Expected a keras_ssd.SSD"):
        export_tflite(object(), str(tmp_path / "b.tflite"))
    assert not (tmp_path / "a.tflite").exists()
