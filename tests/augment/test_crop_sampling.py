"""Tests of SSD's patch sampling."""

import numpy as np
import tensorflow as tf

from keras_ssd.augment.crop_sampling import box_iou
from keras_ssd.augment.crop_sampling import sample_crop


def _iou(crop, boxes):
    ymin = np.maximum(crop[0], boxes[:, 0])
    xmin = np.maximum(crop[1], boxes[:, 1])
    ymax = np.minimum(crop[2], boxes[:, 2])
    xmax = np.minimum(crop[3], boxes[:, 3])
    inter = np.clip(ymax - ymin, 0, None) * np.clip(xmax - xmin, 0, None)
    area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
    return inter / (area(crop) + area(boxes) - inter)


def _random_boxes(rng, count):
    start = rng.uniform(0, 0.8, (count, 2))
    size = rng.uniform(0.05, 0.5, (count, 2))
    return np.concatenate([start, np.minimum(start + size, 1.0)], axis=1).astype("float32")


def test_box_iou_closed_form():
    iou = box_iou(tf.constant([[0.0, 0.0, 0.5, 0.5]]), tf.constant([[0.0, 0.0, 0.5, 1.0], [0.5, 0.5, 1, 1]]))
    np.testing.assert_allclose(iou, [[0.5, 0.0]], atol=1e-6)


def test_scale_one_gives_the_whole_image():
    # s = 1 forces the aspect ratio into [max(0.5, 1), min(2, 1)] = {1}: the whole image.
    crop, found = sample_crop([[0.2, 0.2, 0.4, 0.4]], 0.0, tf.constant([1, 2]), scale_range=(1.0, 1.0))
    assert bool(found)
    np.testing.assert_allclose(crop, [0, 0, 1, 1], atol=1e-6)


_SIGNATURE = [
    tf.TensorSpec((None, 4), tf.float32),
    tf.TensorSpec((), tf.float32),
    tf.TensorSpec((2,), tf.int32),
]


@tf.function(input_signature=_SIGNATURE)
def _sample(boxes, min_iou, seed):
    return sample_crop(boxes, min_iou, seed)


@tf.function(input_signature=[*_SIGNATURE, tf.TensorSpec((2,), tf.int32)])
def _sample_in_pixels(boxes, min_iou, seed, image_shape):
    return sample_crop(boxes, min_iou, seed, image_shape=image_shape)


def test_crops_meet_the_iou_and_centre_constraints():
    rng = np.random.default_rng(0)
    found_any = {}
    for index in range(80):
        boxes = _random_boxes(rng, int(rng.integers(1, 5)))
        mode = float(rng.choice([0.0, 0.1, 0.3, 0.5, 0.7, 0.9]))
        min_iou = np.float32(mode)
        seed = tf.constant([index, 5])
        if index % 2:
            shape = None
            crop, found = _sample(boxes, min_iou, seed)
        else:
            shape = (int(rng.integers(20, 300)), int(rng.integers(20, 300)))
            crop, found = _sample_in_pixels(boxes, min_iou, seed, tf.constant(shape))
        crop = crop.numpy()
        assert np.all(crop >= 0) and np.all(crop <= 1) and np.all(crop[2:] > crop[:2])
        if not found:
            np.testing.assert_array_equal(crop, [0, 0, 1, 1])
            continue
        found_any[mode] = True
        assert _iou(crop, boxes).max() >= min_iou - 1e-5
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2
        assert np.any(np.all((centres > crop[:2]) & (centres < crop[2:]), axis=1))
        if shape is not None:  # whole pixels
            pixels = crop * np.array(shape * 2, "float64")
            np.testing.assert_allclose(pixels, np.round(pixels), atol=1e-3)
    assert {0.0, 0.1, 0.3, 0.5, 0.7} <= set(found_any)


def test_iou_09_is_reached_with_a_large_box():
    boxes = np.array([[0.02, 0.03, 0.97, 0.98]], "float32")
    found_count = 0
    for index in range(10):
        crop, found = _sample(boxes, np.float32(0.9), tf.constant([index, 1]))
        if found:
            found_count += 1
            assert _iou(crop.numpy(), boxes).max() >= 0.9 - 1e-5
    assert found_count >= 5


def test_patch_scale_and_aspect_ratio_ranges():
    # No boxes and min IoU 0: the first trial is kept, so this sees the raw draws.
    for index in range(40):
        crop, found = _sample(tf.zeros((0, 4)), 0.0, tf.constant([index, 9]))
        assert bool(found)
        height, width = (crop[2:] - crop[:2]).numpy()
        assert 0.3**2 - 1e-5 <= height * width <= 1.0 + 1e-6
        assert 0.5 - 1e-4 <= width / height <= 2.0 + 1e-4


def test_whole_image_for_none_mode_and_unreachable_iou():
    tiny = [[0.5, 0.5, 0.51, 0.51]]  # a patch of area >= 0.09 cannot reach IoU 0.9 with it
    crop, found = sample_crop(tiny, 0.9, tf.constant([3, 4]))
    assert not bool(found)
    np.testing.assert_array_equal(crop, [0, 0, 1, 1])
    crop, found = sample_crop(tiny, -1.0, tf.constant([3, 4]))
    assert not bool(found)
    np.testing.assert_array_equal(crop, [0, 0, 1, 1])
    crop, found = sample_crop(tf.zeros((0, 4)), 0.5, tf.constant([3, 4]))  # no box to overlap
    assert not bool(found)


def test_same_seed_same_crop():
    boxes = [[0.1, 0.1, 0.6, 0.7]]
    first, _ = sample_crop(boxes, 0.3, tf.constant([7, 7]))
    second, _ = sample_crop(boxes, 0.3, tf.constant([7, 7]))
    other, _ = sample_crop(boxes, 0.3, tf.constant([7, 8]))
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)


def test_box_iou_equals_keras_compute_iou():
    import keras

    rng = np.random.default_rng(1)
    a, b = _random_boxes(rng, 5), _random_boxes(rng, 7)
    np.testing.assert_allclose(
        box_iou(tf.constant(a), tf.constant(b)),
        keras.utils.bounding_boxes.compute_iou(a, b, "yxyx"),
        atol=1e-6,
    )
    assert box_iou(tf.zeros((3, 4)), tf.zeros((0, 4))).shape == (3, 0)
