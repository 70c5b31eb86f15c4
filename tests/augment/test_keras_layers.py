"""Pins of Keras 3.15 box-aware layers that keras_ssd.augment does not use (or uses around).

When one of these fails, Keras has changed: re-check whether its layer can replace ours.
"""

import keras
import numpy as np
import pytest


def _coordinate_image(height, width):
    """Channel 0 holds each pixel's row, channel 1 its column: a crop tells its offset."""
    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    return np.stack([rows, cols, np.zeros_like(rows)], axis=-1).astype("float32")


def test_keras_random_crop_still_misplaces_boxes():
    # Keras 3.15.1 subtracts the row offset from x and the column offset from y, and
    # never clips to the crop: SSDAugmentation crops with its own code.
    image = _coordinate_image(40, 80)
    box = np.array([[30.0, 5.0, 60.0, 35.0]], "float32")  # xyxy pixels
    layer = keras.layers.RandomCrop(20, 20, bounding_box_format="xyxy", seed=3)
    output = layer({"images": image, "bounding_boxes": {"boxes": box, "labels": np.array([0])}})
    crop = np.asarray(output["images"])
    top, left = int(crop[0, 0, 0]), int(crop[0, 0, 1])
    assert top != left  # the seed gives distinct offsets, so the swap is visible
    keras_box = np.asarray(output["bounding_boxes"]["boxes"])

    correct = np.clip(box - [left, top, left, top], 0, 20)
    swapped = np.maximum(box - [top, left, top, left], 0)
    np.testing.assert_allclose(keras_box, swapped)
    assert not np.allclose(keras_box, correct)


def test_keras_random_flip_works_on_padded_dense_boxes():
    images = np.zeros((2, 8, 8, 3), "float32")
    boxes = np.array(
        [[[0.1, 0.1, 0.5, 0.3], [0, 0, 0, 0]], [[0.2, 0.5, 0.4, 0.9], [0, 0, 0, 0]]], "float32"
    )
    labels = np.array([[1, -1], [2, -1]])
    layer = keras.layers.RandomFlip("horizontal", bounding_box_format="rel_yxyx", seed=1)
    seen_flipped = seen_kept = False
    for _ in range(6):
        output = layer({"images": images, "bounding_boxes": {"boxes": boxes, "labels": labels}})
        out_boxes = np.asarray(output["bounding_boxes"]["boxes"])
        np.testing.assert_array_equal(np.asarray(output["bounding_boxes"]["labels"]), labels)
        for real, padding, given in zip(out_boxes[:, 0], out_boxes[:, 1], boxes[:, 0]):
            mirrored = [given[0], 1 - given[3], given[2], 1 - given[1]]
            if np.allclose(real, given):
                seen_kept = True
                np.testing.assert_allclose(padding, 0.0)
            else:
                seen_flipped = True
                np.testing.assert_allclose(real, mirrored, atol=1e-6)
                # Padding rows move to x = 1 but keep zero area and label -1.
                np.testing.assert_allclose(padding, [0, 1, 0, 1])
    assert seen_flipped and seen_kept


def test_keras_random_flip_still_fails_on_ragged_box_lists():
    # Why ground truth is padded to dense tensors (docs/conventions.md).
    layer = keras.layers.RandomFlip("horizontal", bounding_box_format="rel_yxyx", seed=1)
    ragged = {
        "boxes": [[[0.1, 0.1, 0.5, 0.3]], [[0.2, 0.5, 0.4, 0.9], [0.1, 0.1, 0.2, 0.2]]],
        "labels": [[1], [2, 0]],
    }
    with pytest.raises(TypeError):
        layer({"images": np.zeros((2, 8, 8, 3), "float32"), "bounding_boxes": ragged})
