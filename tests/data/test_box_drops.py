"""`to_detection_inputs` drops degenerate boxes and boxes past `max_boxes` with counted warnings."""

import numpy as np
import pytest
import tensorflow as tf

from keras_ssd.data.pipeline import to_detection_inputs
from keras_ssd.models.input_warnings import describe_input_counts


def _dataset(box_lists, crowd_key=None, crowd=None):
    examples = {
        "image": np.full((len(box_lists), 16, 16, 3), 100, np.uint8),
        "objects": {
            "bbox": tf.ragged.constant(box_lists, ragged_rank=1, inner_shape=(4,), dtype=tf.float32),
            "label": tf.ragged.constant([[index % 2 for index in range(len(b))] for b in box_lists],
                                        dtype=tf.int64),
        },
    }
    if crowd_key:
        examples["objects"][crowd_key] = tf.ragged.constant(crowd, dtype=tf.bool)

    def dense(example):
        objects = {key: value for key, value in example["objects"].items()}
        return {"image": example["image"], "objects": objects}

    return tf.data.Dataset.from_tensor_slices(examples).map(dense)


def _collect(dataset):
    return list(dataset.as_numpy_iterator())


BOX = [0.1, 0.1, 0.5, 0.5]


def test_boxes_past_max_boxes_are_counted_per_image():
    # Image 0: 5 boxes, image 1: 3 boxes, image 2: 1 box; max_boxes=2 drops 3 + 1 boxes.
    dataset = _dataset([[BOX] * 5, [BOX] * 3, [BOX]])
    batches = _collect(to_detection_inputs(dataset, 16, max_boxes=2, batch_size=3))
    targets = batches[0][1]
    np.testing.assert_array_equal((targets["classes"] >= 0).sum(axis=1), [2, 2, 1])
    np.testing.assert_array_equal(targets["num_dropped_boxes"], [[0, 3], [0, 1], [0, 0]])


def test_zero_area_boxes_are_dropped_not_fatal():
    flat = [0.2, 0.2, 0.2, 0.6]  # zero height
    inverted = [0.5, 0.5, 0.4, 0.6]  # ymax < ymin
    dataset = _dataset([[flat, BOX, inverted], [BOX]])
    targets = _collect(to_detection_inputs(dataset, 16, max_boxes=4, batch_size=2))[0][1]
    # Labels are 0, 1, 0 on image 0: only the valid box (label 1) is left.
    np.testing.assert_array_equal(targets["classes"], [[1, -1, -1, -1], [0, -1, -1, -1]])
    np.testing.assert_allclose(targets["boxes"][0, 0], BOX)
    np.testing.assert_array_equal(targets["num_dropped_boxes"], [[2, 0], [0, 0]])


def test_nan_boxes_are_kept_for_the_fit_checks_to_name():
    dataset = _dataset([[[np.nan, 0.1, 0.5, 0.5]]])
    targets = _collect(to_detection_inputs(dataset, 16, max_boxes=2, batch_size=1))[0][1]
    assert np.isnan(targets["boxes"][0, 0, 0])
    np.testing.assert_array_equal(targets["num_dropped_boxes"], [[0, 0]])


@pytest.mark.parametrize("key", ["iscrowd", "is_crowd"])
def test_both_crowd_flag_names_make_ignore_regions(key):
    dataset = _dataset([[BOX, BOX]], crowd_key=key, crowd=[[True, False]])
    targets = _collect(to_detection_inputs(dataset, 16, max_boxes=3, batch_size=1))[0][1]
    np.testing.assert_array_equal(targets["weights"], [[0.0, 1.0, 0.0]])


def test_input_counts_describe_dropped_boxes_with_counts():
    counts = np.array([0, 7, 2, 1, 30, 4])
    messages = describe_input_counts(counts, max_boxes=16)
    assert set(messages) == {"degenerate", "max_boxes"}
    assert messages["degenerate"].startswith(
        "SSD: to_detection_inputs dropped 2 ground-truth boxes on 1 images (in 7 batches"
    )
    assert "dropped 30 ground-truth boxes on 4 images" in messages["max_boxes"]
    assert "max_boxes=16" in messages["max_boxes"]
    assert describe_input_counts(np.array([0, 7, 0, 0, 0, 0])) == {}
