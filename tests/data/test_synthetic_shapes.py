"""Tests of the embedded synthetic shapes dataset and its tfds builder."""

import colorsys
import socket
import zlib

import numpy as np
import pytest
import tensorflow_datasets as tfds

from keras_ssd.data import synthetic_shapes
from keras_ssd.data.synthetic_shapes import CLASS_HUES
from keras_ssd.data.synthetic_shapes import CLASS_NAMES
from keras_ssd.data.synthetic_shapes import HUE_JITTER
from keras_ssd.data.synthetic_shapes import SyntheticShapes
from keras_ssd.data.synthetic_shapes import SyntheticShapesConfig
from keras_ssd.data.synthetic_shapes import example_seed
from keras_ssd.data.synthetic_shapes import render_example

OFFLINE = tfds.download.DownloadConfig(try_download_gcs=False)


@pytest.fixture
def no_network(monkeypatch):
    """Records, and refuses, every Python socket connection."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access attempted in an offline test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield attempts
    assert attempts == [], f"tried to reach the network: {attempts}"


def _examples_by_filename(builder, split):
    return {
        example["image/filename"].decode(): example
        for example in tfds.as_numpy(builder.as_dataset(split=split))
    }


def test_render_boxes_are_tight_around_the_shape_pixels():
    for seed in range(40):
        image, boxes, labels, masks = render_example(seed, return_masks=True)
        assert image.shape == (128, 128, 3) and image.dtype == np.uint8
        assert boxes.dtype == np.float32 and labels.dtype == np.int32
        assert 1 <= len(labels) <= synthetic_shapes.MAX_OBJECTS
        assert masks.shape == (len(labels), 128, 128)
        # Shapes never share pixels, so every box is around visible pixels.
        assert masks.sum(axis=0).max() == 1
        for box, label, mask in zip(boxes, labels, masks):
            pixels = np.round(box * 128).astype(int)
            np.testing.assert_allclose(box * 128, pixels, atol=1e-4)
            ymin, xmin, ymax, xmax = pixels
            inside = np.zeros_like(mask)
            inside[ymin:ymax, xmin:xmax] = True
            # No shape pixel outside the box ...
            assert not (mask & ~inside).any()
            # ... and each edge row and column of the box holds shape pixels.
            assert mask[ymin, xmin:xmax].any() and mask[ymax - 1, xmin:xmax].any()
            assert mask[ymin:ymax, xmin].any() and mask[ymin:ymax, xmax - 1].any()
            # The pixels drawn there have the class's hue.
            mean_rgb = image[mask].mean(axis=0) / 255.0
            hue = colorsys.rgb_to_hsv(*mean_rgb)[0]
            hue_error = abs((hue - CLASS_HUES[label] + 0.5) % 1.0 - 0.5)
            assert hue_error <= HUE_JITTER + 0.02, (seed, CLASS_NAMES[label], hue)


def test_render_sizes_and_overlap_limits():
    sides, ious = [], []
    for seed in range(200):
        _, boxes, _ = render_example(seed)
        sides.extend(((boxes[:, 2:] - boxes[:, :2]) * 128).max(axis=1))
        for i in range(len(boxes)):
            for j in range(i):
                top, left = np.maximum(boxes[i, :2], boxes[j, :2])
                bottom, right = np.minimum(boxes[i, 2:], boxes[j, 2:])
                overlap = max(bottom - top, 0) * max(right - left, 0)
                areas = np.prod(boxes[[i, j], 2:] - boxes[[i, j], :2], axis=1)
                ious.append(overlap / (areas.sum() - overlap))
    assert min(sides) == 10 and max(sides) == 60
    assert max(ious) <= synthetic_shapes.MAX_IOU
    assert max(ious) > 0.0  # boxes may overlap a little


def test_render_is_deterministic_and_seeded_per_split():
    assert example_seed("train", 7) == [zlib.crc32(b"train"), 7]
    first = render_example(example_seed("train", 3))
    again = render_example(np.random.default_rng(example_seed("train", 3)))
    for a, b in zip(first, again):
        assert a.tobytes() == b.tobytes()
    other_split = render_example(example_seed("test", 3))
    assert first[0].tobytes() != other_split[0].tobytes()
    # Pinned numbers: a change of the renderer must be a new dataset VERSION.
    _, boxes, labels = render_example(0)
    np.testing.assert_array_equal(labels, [4, 3, 1, 2, 1, 1])
    np.testing.assert_array_equal(boxes[0] * 128, [6, 36, 47, 77])


def test_render_other_image_size_scales_objects():
    image, boxes, _ = render_example(5, image_size=64)
    assert image.shape == (64, 64, 3)
    assert ((boxes >= 0) & (boxes <= 1)).all()


@pytest.mark.parametrize("image_size", [16, 100.5])
def test_render_rejects_bad_image_size(image_size):
    with pytest.raises(ValueError, match="image_size must be an integer >= 32"):
        render_example(0, image_size=image_size)


def test_real_configuration_is_strongly_imbalanced():
    # The same seeds as the default train split (2000 images).
    counts = np.zeros(len(CLASS_NAMES), dtype=np.int64)
    for index in range(synthetic_shapes.TRAIN_SIZE):
        _, _, labels = render_example(example_seed("train", index))
        counts += np.bincount(labels, minlength=len(CLASS_NAMES))
    np.testing.assert_array_equal(counts, [3153, 2176, 1086, 464, 209])
    assert counts.max() / counts.min() >= 10.0
    assert list(np.argsort(-counts)) == [0, 1, 2, 3, 4]


def test_builder_generates_offline_into_tmp_path(tmp_path, no_network):
    builder = SyntheticShapes(data_dir=str(tmp_path), config="tiny")
    builder.download_and_prepare(download_config=OFFLINE)

    sizes = {name: split.num_examples for name, split in builder.info.splits.items()}
    assert sizes == {"train": 20, "validation": 8, "test": 8}
    assert builder.info.features["objects"]["label"].names == list(CLASS_NAMES)
    train = _examples_by_filename(builder, "train")
    assert sorted(train) == [f"train_{i:05d}.png" for i in range(20)]
    # Stored examples are the rendered ones, bit for bit.
    image, boxes, labels, masks = render_example(
        example_seed("train", 4), return_masks=True
    )
    stored = train["train_00004.png"]
    np.testing.assert_array_equal(stored["image"], image)
    np.testing.assert_array_equal(stored["objects"]["bbox"], boxes)
    np.testing.assert_array_equal(stored["objects"]["label"], labels)
    np.testing.assert_array_equal(stored["objects"]["weight"], np.ones(len(labels)))
    np.testing.assert_array_equal(stored["objects"]["area"], masks.sum(axis=(1, 2)))
    # Splits are seeded differently.
    validation = _examples_by_filename(builder, "validation")
    assert not np.array_equal(
        validation["validation_00000.png"]["image"], train["train_00000.png"]["image"]
    )


def test_builder_writes_the_same_bytes_every_run(tmp_path, no_network):
    files = []
    for run in ("a", "b"):
        builder = SyntheticShapes(
            data_dir=str(tmp_path / run),
            config=SyntheticShapesConfig(
                name="three", train_size=3, validation_size=2, test_size=2
            ),
        )
        builder.download_and_prepare(download_config=OFFLINE)
        files.append(
            {
                path.name: path.read_bytes()
                for path in sorted(builder.data_path.glob("*.tfrecord*"))
            }
        )
    assert len(files[0]) == 3
    assert files[0] == files[1]


def test_tfds_load_by_name_offline(tmp_path, no_network):
    dataset = tfds.load(
        "synthetic_shapes/tiny",
        split="test",
        data_dir=str(tmp_path),
        download_and_prepare_kwargs={"download_config": OFFLINE},
    )
    assert len(list(dataset)) == 8


def test_render_batch_pads_the_examples_of_render_example():
    from keras_ssd.data.synthetic_shapes import render_batch

    images, targets = render_batch(3, image_size=64, max_boxes=6)
    assert images.shape == (3, 64, 64, 3) and images.dtype == np.float32
    assert targets["boxes"].shape == (3, 6, 4) and targets["classes"].dtype == np.int32
    for index in range(3):
        image, boxes, labels = render_example(index, image_size=64)
        count = len(labels)
        np.testing.assert_array_equal(images[index], image.astype(np.float32))
        np.testing.assert_array_equal(targets["boxes"][index, :count], boxes)
        np.testing.assert_array_equal(targets["classes"][index, :count], labels)
        assert np.all(targets["classes"][index, count:] == -1) and np.all(targets["boxes"][index, count:] == 0)
    _, first_only = render_batch(3, image_size=64, max_boxes=1)  # the rest dropped
    np.testing.assert_array_equal(first_only["classes"][:, 0], targets["classes"][:, 0])
