"""Tests of SSDAugmentation: boxes follow the pixels, seeds, tf.data, config."""

import numpy as np
import pytest
import tensorflow as tf

from keras_ssd.augment.ssd_augmentation import SSDAugmentation
from keras_ssd.data.pipeline import to_detection_inputs

BACKGROUND = (40, 160, 40)
# Unique colours, one per labelled rectangle, and how to find them after bilinear resizing
# (a pixel counts when it is at least about half this colour).
COLOURS = {0: (255, 0, 255), 1: (0, 255, 255)}
MASKS = {
    0: lambda im: (im[..., 0] > 150) & (im[..., 1] < 100) & (im[..., 2] > 150),
    1: lambda im: (im[..., 0] < 100) & (im[..., 1] > 150) & (im[..., 2] > 150),
}
RECTANGLES = {0: (10, 12, 34, 40), 1: (30, 50, 52, 74)}  # pixel rows/cols [y0, x0, y1, x1)


def _example(height=60, width=80, rectangles=RECTANGLES):
    image = np.empty((height, width, 3), np.uint8)
    image[:] = BACKGROUND
    boxes, labels = [], []
    for label, (y0, x0, y1, x1) in rectangles.items():
        image[y0:y1, x0:x1] = COLOURS[label]
        boxes.append([y0 / height, x0 / width, y1 / height, x1 / width])
        labels.append(label)
    return {
        "image": tf.constant(image),
        "image/filename": tf.constant("synthetic.png"),
        "objects": {
            "bbox": tf.constant(np.reshape(boxes, (-1, 4)), tf.float32),
            "label": tf.constant(labels, tf.int64),
            "weight": tf.constant([0.5 + label for label in labels], tf.float32),
        },
    }


def _repeated(example, count):
    return tf.data.Dataset.from_tensors(example).repeat(count)


def _check_boxes_match_pixels(example, tolerance):
    image = np.asarray(example["image"])
    height, width = image.shape[:2]
    objects = {key: np.asarray(value) for key, value in example["objects"].items()}
    for box, label, weight in zip(objects["bbox"], objects["label"], objects["weight"]):
        assert weight == 0.5 + label  # per-box entries stay together
        rows, cols = np.nonzero(MASKS[int(label)](image))
        assert rows.size, f"box {box} of label {label} but no pixel of its colour"
        extent = np.array([rows.min(), cols.min(), rows.max() + 1, cols.max() + 1], float)
        expected = box * np.array([height, width, height, width])
        np.testing.assert_allclose(extent, expected, atol=tolerance)


def test_boxes_surround_their_pixels_after_resize():
    augment = SSDAugmentation(64, photometric=False, seed=1)
    kept = 0
    for example in augment.augment_dataset(_repeated(_example(), 40)).as_numpy_iterator():
        assert example["image"].shape == (64, 64, 3)
        _check_boxes_match_pixels(example, tolerance=1.5)
        kept += len(example["objects"]["label"])
    assert 30 < kept < 80  # some crops drop boxes, most keep them


def test_boxes_are_exact_without_resize():
    # Patches are whole pixels, so at their own size the image is copied, not resampled.
    augment = SSDAugmentation(None, photometric=False, seed=2)
    sizes = set()
    for example in augment.augment_dataset(_repeated(_example(), 30)).as_numpy_iterator():
        sizes.add(example["image"].shape)
        _check_boxes_match_pixels(example, tolerance=1e-3)
    assert len(sizes) > 10


def test_zoom_out_fills_with_the_mean_pixel():
    augment = SSDAugmentation(
        None, photometric=False, expand_probability=1.0, min_ious=(None,), flip=False,
        mean_pixel=(1.0, 2.0, 3.0),
    )  # fmt: skip
    example = augment(_example(), tf.constant([0, 3]))
    image = example["image"].numpy()
    assert image.shape[0] >= 60 and image.shape[1] >= 80
    fill = np.all(image == [1.0, 2.0, 3.0], axis=-1)
    assert fill.sum() == image.shape[0] * image.shape[1] - 60 * 80
    _check_boxes_match_pixels(example, tolerance=1e-3)


def test_flip_mirrors_boxes_closed_form():
    augment = SSDAugmentation(None, photometric=False, expand_probability=0.0, min_ious=(None,))
    flips = 0
    for seed in range(8):
        example = augment(_example(), tf.constant([seed, 0]))
        boxes = example["objects"]["bbox"].numpy()
        original = _example()["objects"]["bbox"].numpy()
        if np.allclose(boxes, original):
            continue
        flips += 1
        np.testing.assert_allclose(boxes[:, [1, 3]], 1 - original[:, [3, 1]], atol=1e-6)
        _check_boxes_match_pixels(example, tolerance=1e-3)
    assert 0 < flips < 8


def test_no_degenerate_boxes_and_entries_stay_aligned():
    rng = np.random.default_rng(0)
    start = rng.uniform(0, 0.97, (30, 2))
    boxes = np.concatenate([start, np.minimum(start + rng.uniform(0.002, 0.3, (30, 2)), 1)], 1)
    example = {
        "image": tf.zeros((50, 70, 3), tf.uint8),
        "objects": {
            "bbox": tf.constant(boxes, tf.float32),
            "label": tf.range(30, dtype=tf.int64),
            "weight": tf.range(30, dtype=tf.float32),
        },
    }
    augment = SSDAugmentation(32, seed=3)
    for output in augment.augment_dataset(_repeated(example, 80)).as_numpy_iterator():
        out_boxes = output["objects"]["bbox"]
        assert out_boxes.shape[0] == output["objects"]["label"].shape[0]
        np.testing.assert_array_equal(output["objects"]["weight"], output["objects"]["label"])
        assert np.all(out_boxes[:, 2] > out_boxes[:, 0]) and np.all(out_boxes[:, 3] > out_boxes[:, 1])
        assert np.all(out_boxes >= 0) and np.all(out_boxes <= 1)
        assert np.all(np.isfinite(output["image"]))
        assert output["image"].min() >= 0 and output["image"].max() <= 255


def test_images_without_boxes_survive():
    example = _example(rectangles={})
    augment = SSDAugmentation(32, seed=4)
    outputs = list(augment.augment_dataset(_repeated(example, 20)).as_numpy_iterator())
    for output in outputs:
        assert output["image"].shape == (32, 32, 3)
        assert output["objects"]["bbox"].shape == (0, 4) and output["objects"]["label"].shape == (0,)


def _flat(dataset):
    return [
        np.concatenate([e["image"].ravel(), e["objects"]["bbox"].ravel()])
        for e in dataset.as_numpy_iterator()
    ]


def test_same_seed_same_output_different_seed_or_epoch_differs():
    def run(seed):
        return SSDAugmentation(32, seed=seed).augment_dataset(_repeated(_example(), 6))

    first, again, other = _flat(run(5)), _flat(run(5)), _flat(run(6))
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not any(np.array_equal(a, b) for a, b in zip(first, other))
    dataset = run(5)
    assert not any(np.array_equal(a, b) for a, b in zip(_flat(dataset), _flat(dataset)))
    # The per-example seed alone decides: an eager call with it gives the same numbers.
    seeds = list(tf.data.Dataset.random(seed=5, rerandomize_each_iteration=True).batch(2).take(6))
    eager = SSDAugmentation(32)(_example(), seeds[3])
    np.testing.assert_array_equal(first[3][: 32 * 32 * 3], eager["image"].numpy().ravel())


def test_inside_to_detection_inputs_with_parallel_map():
    with_boxes, without = _example(), _example(rectangles={})
    # One dataset of 6 examples, every third without boxes.
    examples = tf.data.Dataset.from_tensors(without).concatenate(
        tf.data.Dataset.from_tensors(with_boxes).repeat(2)
    ).repeat(2)
    augment = SSDAugmentation(48, seed=7)
    run = lambda: list(to_detection_inputs(  # noqa: E731
        examples, 48, max_boxes=4, batch_size=4, shuffle=True, seed=1, augment=augment
    ).as_numpy_iterator())
    first, again = run(), run()
    assert [images.shape for images, _ in first] == [(4, 48, 48, 3), (2, 48, 48, 3)]
    for (images_a, targets_a), (images_b, targets_b) in zip(first, again):
        np.testing.assert_array_equal(images_a, images_b)
        np.testing.assert_array_equal(targets_a["boxes"], targets_b["boxes"])
        classes = targets_a["classes"]
        assert np.all((classes == -1) == (targets_a["weights"] == 0))
    # A plain function is mapped as it is.
    halve = lambda example: example | {"image": tf.cast(example["image"], tf.float32) / 2}  # noqa: E731
    images, _ = next(iter(to_detection_inputs(examples, 60, batch_size=1, augment=halve)))
    assert float(tf.reduce_max(images)) == max(BACKGROUND) / 2  # the first has no boxes
    with pytest.raises(ValueError, match="augment must be callable"):
        to_detection_inputs(examples, 48, augment="ssd")


def test_grey_images_keep_one_channel():
    example = _example()
    example["image"] = example["image"][..., :1]
    output = SSDAugmentation(16)(example, tf.constant([1, 1]))
    assert output["image"].shape == (16, 16, 1)
    images, _ = next(iter(to_detection_inputs(
        tf.data.Dataset.from_tensors(example), 16, augment=SSDAugmentation(16, seed=0)
    )))  # fmt: skip
    assert images.shape == (1, 16, 16, 3)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"image_size": 0}, "image_size"),
        ({"expand_max_ratio": 0.5}, "expand_max_ratio"),
        ({"expand_probability": 2}, "expand_probability"),
        ({"min_ious": ()}, "min_ious"),
        ({"min_ious": (1.5,)}, "min_ious"),
        ({"crop_trials": 0}, "crop_trials"),
        ({"scale_range": (0.9, 0.3)}, "scale_range"),
        ({"aspect_ratio_range": (0, 2)}, "aspect_ratio_range"),
        ({"mean_pixel": (1, 2)}, "mean_pixel"),
        ({"seed": 1.5}, "seed"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SSDAugmentation(**kwargs)
