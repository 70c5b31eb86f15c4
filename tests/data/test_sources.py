"""Tests of `load_examples`, which picks the reader from the data argument."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from keras_ssd.data.sources import load_examples
from keras_ssd.data.tfrecord_writer import write_tfrecord

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
    # --classes orders a VOC folder's labels; elsewhere it would be ignored without a word.
    for data, message in [
        (str(tmp_path / "voc" / "JPEGImages" / "coco.json"), "is a COCO JSON file, whose classes are named"),
        (str(tmp_path / "train.record-*"), "is TFRecords, whose classes are named and ordered by --label-map"),
        ("synthetic_shapes/tiny", "is the embedded dataset, whose classes are its own five shapes"),
    ]:
        with pytest.raises(ValueError, match=message):
            load_examples(data, class_names=["dog"], data_dir=str(tmp_path))


def test_tfds_names_and_unknown_data(tmp_path):
    with tfds.testing.mock_data(num_examples=1):
        dataset, class_names = load_examples("voc/2012", data_dir=str(tmp_path))
        assert len(class_names) == 20
        assert dataset.element_spec["image"] == tf.TensorSpec((None, None, 3), tf.uint8)
    with pytest.raises(ValueError, match="cannot tell what 'data.csv' is"):
        load_examples("data.csv")


def _voc_folder(folder, names, flat=False):
    annotations = folder if flat else folder / "Annotations"
    images = folder if flat else folder / "JPEGImages"
    os.makedirs(annotations, exist_ok=True)
    os.makedirs(images, exist_ok=True)
    for name in names:
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(images / f"{name}.png")
        (annotations / f"{name}.xml").write_text(
            f"<annotation><filename>{name}.png</filename><object><name>cat</name><bndbox>"
            "<xmin>1</xmin><ymin>2</ymin><xmax>4</xmax><ymax>8</ymax></bndbox></object></annotation>"
        )


def _filenames(dataset):
    return [name.decode() for name in dataset.map(lambda e: e["image/filename"]).as_numpy_iterator()]


def test_voc_image_sets_are_the_splits_and_a_missing_split_is_an_error(tmp_path):
    _voc_folder(tmp_path / "voc", ["a", "b", "c"])
    with pytest.raises(ValueError, match=r"has no split 'test': it has no ImageSets/Main/<split>.txt"):
        load_examples(str(tmp_path / "voc"), split="test")
    sets = tmp_path / "voc" / "ImageSets" / "Main"
    os.makedirs(sets)
    (sets / "train.txt").write_text("c\na\n")
    (sets / "val.txt").write_text("b\n")
    (sets / "cat_train.txt").write_text("c  1\na -1\n")  # a per-class list is not a split
    assert _filenames(load_examples(str(tmp_path / "voc"), split="train")[0]) == ["c.png", "a.png"]
    assert _filenames(load_examples(str(tmp_path / "voc"), split="val")[0]) == ["b.png"]
    assert _filenames(load_examples(str(tmp_path / "voc"))[0]) == ["a.png", "b.png", "c.png"]
    with pytest.raises(ValueError, match=r"has no split 'test': it has train, val\."):
        load_examples(str(tmp_path / "voc"), split="test")
    (sets / "test.txt").write_text("d\n")
    with pytest.raises(ValueError, match=r"split 'test' lists 1 images, and 1 of them have no annotation"):
        load_examples(str(tmp_path / "voc"), split="test")


def test_flat_folders_and_sources_without_splits(tmp_path):
    _voc_folder(tmp_path / "flat", ["x", "y"], flat=True)
    dataset, class_names = load_examples(str(tmp_path / "flat"))
    assert class_names == ["cat"] and _filenames(dataset) == ["x.png", "y.png"]
    _voc_folder(tmp_path / "labelimg", ["z"])
    os.rename(tmp_path / "labelimg" / "Annotations", tmp_path / "labelimg" / "labels")
    os.rename(tmp_path / "labelimg" / "JPEGImages", tmp_path / "labelimg" / "pictures")
    dataset, _ = load_examples(str(tmp_path / "labelimg"), annotations_subdir="labels", images_subdir="pictures")
    assert _filenames(dataset) == ["z.png"]
    examples, _ = load_examples(str(tmp_path / "flat"))
    write_tfrecord(str(tmp_path / "all.tfrecord"), examples, ["cat"])
    records, _ = load_examples(str(tmp_path / "all.tfrecord"))
    assert int(records.cardinality()) == 2  # counted by the reader's scan
    with pytest.raises(ValueError, match=r"is TFRecords, which has no splits, but split 'val'"):
        load_examples(str(tmp_path / "all.tfrecord"), split="val")
    (tmp_path / "c.json").write_text(json.dumps({"images": [], "annotations": [], "categories": []}))
    with pytest.raises(ValueError, match=r"is a COCO JSON file, which has no splits, but split 'train'"):
        load_examples(str(tmp_path / "c.json"), split="train")


def test_folders_inside_or_above_a_voc_folder_get_a_hint(tmp_path):
    devkit = tmp_path / "VOCdevkit"
    _voc_folder(devkit / "VOC2007", ["cat"])
    with pytest.raises(ValueError, match=r"JPEGImages is a folder inside the VOC folder .*VOC2007 \(it has no annotations\); give --data"):
        load_examples(str(devkit / "VOC2007" / "JPEGImages"))
    with pytest.raises(ValueError, match=r"holds VOC folders \(VOC2007\), not annotations itself \(a VOCdevkit root\?\); give one of them"):
        load_examples(str(devkit))
    dataset, class_names = load_examples(str(devkit / "VOC2007"))
    assert class_names == ["cat"]
