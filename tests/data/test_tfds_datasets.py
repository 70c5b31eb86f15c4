"""Tests of the tfds readers with `tfds.testing.mock_data` (no files, no network)."""

import socket

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_ssd.data.pipeline import to_detection_inputs
from keras_ssd.data.tfds_datasets import load_tfds

# name: (boxes key, difficult key, crowd key, image name key)
FEATURES = {
    "voc/2007": ("objects", "is_difficult", None, "image/filename"),
    "voc/2012": ("objects", "is_difficult", None, "image/filename"),
    "coco/2017": ("objects", None, "is_crowd", "image/filename"),
    "open_images_v4/200k": ("bobjects", None, "is_group_of", "image/filename"),
    "open_images_challenge2019_detection/200k": ("bobjects", None, "is_group_of", "id"),
}


@pytest.fixture
def no_network(monkeypatch):
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access attempted in an offline test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield attempts
    assert attempts == [], f"tried to reach the network: {attempts}"


@pytest.mark.parametrize("name", sorted(FEATURES))
def test_builder_features_map_to_the_example_format(name, tmp_path, no_network):
    boxes_key, difficult_key, crowd_key, filename_key = FEATURES[name]
    with tfds.testing.mock_data(num_examples=2):
        dataset, class_names = load_tfds(name, "train", data_dir=str(tmp_path))
        raw, info = tfds.load(name, split="train", data_dir=str(tmp_path), with_info=True)
        ours, theirs = list(dataset.as_numpy_iterator()), list(raw.as_numpy_iterator())
    assert class_names == info.features[boxes_key]["label"].names
    spec = dataset.element_spec
    assert spec["image"] == tf.TensorSpec((None, None, 3), tf.uint8)
    assert spec["objects"] == {
        "bbox": tf.TensorSpec((None, 4), tf.float32),
        "label": tf.TensorSpec((None,), tf.int64),
        "weight": tf.TensorSpec((None,), tf.float32),
        "difficult": tf.TensorSpec((None,), tf.bool),
        "iscrowd": tf.TensorSpec((None,), tf.bool),
    }
    assert len(ours) == len(theirs) == 2
    for example, source in zip(ours, theirs):
        np.testing.assert_array_equal(example["image"], source["image"])
        assert example["image/filename"] == source[filename_key]
        objects, boxes = example["objects"], source[boxes_key]
        np.testing.assert_array_equal(objects["bbox"], boxes["bbox"])
        np.testing.assert_array_equal(objects["label"], boxes["label"])
        # mock_data draws each sequence's length on its own; real data has one n.
        np.testing.assert_array_equal(objects["weight"], np.ones(len(boxes["label"])))
        expected_difficult = boxes[difficult_key] if difficult_key else np.zeros(len(boxes["label"]), bool)
        np.testing.assert_array_equal(objects["difficult"], expected_difficult)
        expected_crowd = boxes[crowd_key] > 0 if crowd_key else np.zeros(len(boxes["label"]), bool)
        np.testing.assert_array_equal(objects["iscrowd"], expected_crowd)


def _fake_as_dataset(examples):
    """An `as_dataset_fn` for mock_data that yields consistent hand-made examples."""

    def as_dataset(self, split, decoders=None, read_config=None, shuffle_files=False):
        del self, split, read_config, shuffle_files
        skip_image = bool(decoders) and "image" in decoders
        rows = []
        for example in examples:
            row = dict(example)
            if skip_image:
                row["image"] = tf.io.encode_png(row["image"]).numpy()
            rows.append(row)
        signature = tf.nest.map_structure(
            lambda value: tf.TensorSpec([None] * np.ndim(value), tf.constant(value).dtype), rows[0]
        )
        return tf.data.Dataset.from_generator(lambda: iter(rows), output_signature=signature)

    return as_dataset


def test_open_images_group_of_boxes_are_crowd_and_feed_the_pipeline(tmp_path):
    image = np.full((10, 20, 3), 7, np.uint8)
    example = {
        "image": image,
        "image/filename": "0001.jpg",
        "bobjects": {
            "bbox": np.float32([[0.1, 0.2, 0.5, 0.6], [0.0, 0.0, 1.0, 1.0], [0.2, 0.2, 0.3, 0.3]]),
            "label": np.int64([4, 600, 0]),
            # Open Images v4: 1 = group of, 0 = not, -1 = unknown.
            "is_group_of": np.int8([0, 1, -1]),
        },
    }
    with tfds.testing.mock_data(as_dataset_fn=_fake_as_dataset([example])):
        dataset, class_names = load_tfds("open_images_v4", "train", data_dir=str(tmp_path))
        annotations, _ = load_tfds("open_images_v4", "train", data_dir=str(tmp_path), load_images=False)
        (read,) = dataset.as_numpy_iterator()
        (annotation,) = annotations.as_numpy_iterator()
        batch = next(iter(to_detection_inputs(dataset, 16, max_boxes=4, batch_size=1)))
    assert len(class_names) == 601 and class_names[0].startswith("/m/")
    assert read["objects"]["iscrowd"].tolist() == [False, True, False]
    assert read["objects"]["difficult"].tolist() == [False] * 3
    assert read["objects"]["label"].tolist() == [4, 600, 0]
    np.testing.assert_array_equal(read["image"], image)
    assert "image" not in annotation
    assert annotation["objects"]["label"].tolist() == [4, 600, 0]
    assert batch[1]["classes"].numpy().tolist() == [[4, 600, 0, -1]]


def test_voc_difficult_flags_without_images(tmp_path):
    example = {
        "image": np.zeros((8, 8, 3), np.uint8),
        "image/filename": "000005.jpg",
        "objects": {
            "bbox": np.float32([[0.1, 0.1, 0.9, 0.9], [0.2, 0.3, 0.4, 0.5]]),
            "label": np.int64([8, 14]),
            "is_difficult": np.bool_([True, False]),
        },
    }
    with tfds.testing.mock_data(as_dataset_fn=_fake_as_dataset([example])):
        dataset, class_names = load_tfds("voc/2007", "test", data_dir=str(tmp_path), load_images=False)
        (read,) = dataset.as_numpy_iterator()
    assert [class_names[label] for label in read["objects"]["label"]] == ["chair", "person"]
    assert read["objects"]["difficult"].tolist() == [True, False]
    assert read["image/filename"] == b"000005.jpg" and "image" not in read


@pytest.mark.parametrize("name", ["voc/2010", "coco/2017_panoptic", "mnist", "voc", 3])
def test_unsupported_names_raise(name):
    with pytest.raises(ValueError, match="unsupported dataset|must be a str"):
        load_tfds(name, "train")


def test_unprepared_data_raises_without_downloading(tmp_path, no_network):
    with pytest.raises(ValueError, match=r"'voc/2007' is not prepared in data_dir=.*download=True"):
        load_tfds("voc/2007", "train", data_dir=str(tmp_path))
