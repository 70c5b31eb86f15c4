"""Tests of `load_examples`, which picks the reader from the data argument."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from keras_ssd.data.sources import load_examples
from keras_ssd.data.tfrecord import write_tfrecord

OBJECT_KEYS = {"bbox", "label", "weight", "difficult", "iscrowd"}


def _first(dataset):
    return next(dataset.as_numpy_iterator())


def test_synthetic_shapes_get_the_reader_format(tmp_path):
    dataset, class_names = load_examples("synthetic_shapes/tiny", split="test", data_dir=str(tmp_path))
    example = _first(dataset)
    assert set(example["objects"]) == OBJECT_KEYS and example["image"].shape == (128, 128, 3)
    assert len(class_names) == 5
    annotations, _ = load_examples("synthetic_shapes/tiny", split="test", data_dir=str(tmp_path), load_images=False)
    assert "image" not in _first(annotations)


def test_folders_json_and_sharded_tfrecords(tmp_path):
    os.makedirs(tmp_path / "voc" / "Annotations")
    os.makedirs(tmp_path / "voc" / "JPEGImages")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "voc" / "JPEGImages" / "a.png")
    (tmp_path / "voc" / "Annotations" / "a.xml").write_text(
        "<annotation><filename>a.png</filename><object><name>cat</name><bndbox><xmin>1</xmin>"
        "<ymin>2</ymin><xmax>4</xmax><ymax>8</ymax></bndbox></object></annotation>"
    )
    dataset, class_names = load_examples(str(tmp_path / "voc"))
    example = _first(dataset)
    assert class_names == ["cat"] and set(example["objects"]) == OBJECT_KEYS
    np.testing.assert_allclose(example["objects"]["bbox"], [[0.25, 0.125, 1.0, 0.5]])

    coco = {
        "images": [{"id": 1, "file_name": "a.png", "width": 8, "height": 8}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 3, "bbox": [0, 0, 4, 2]}],
        "categories": [{"id": 3, "name": "dog"}],
    }
    (tmp_path / "voc" / "JPEGImages" / "coco.json").write_text(json.dumps(coco))
    dataset, class_names = load_examples(str(tmp_path / "voc" / "JPEGImages" / "coco.json"))
    assert class_names == ["dog"]  # images default to the JSON's folder
    np.testing.assert_allclose(_first(dataset)["objects"]["bbox"], [[0.0, 0.0, 0.25, 0.5]])

    for shard in range(2):
        write_tfrecord(str(tmp_path / f"train.record-0000{shard}-of-00002"), [example], ["cat"])
    dataset, class_names = load_examples(str(tmp_path / "train.record-*"))
    assert class_names == ["cat"] and len(list(dataset)) == 2


def test_tfds_names_and_unknown_data(tmp_path):
    with tfds.testing.mock_data(num_examples=1):
        dataset, class_names = load_examples("voc/2012", data_dir=str(tmp_path))
        assert len(class_names) == 20
        assert dataset.element_spec["image"] == tf.TensorSpec((None, None, 3), tf.uint8)
    with pytest.raises(ValueError, match="cannot tell what 'data.csv' is"):
        load_examples("data.csv")
