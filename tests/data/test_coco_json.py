"""Tests of the COCO JSON reader, on files the tests write."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from keras_ssd.data.coco_json import load_coco_json


def _save_image(path, width, height, seed):
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return pixels


def _coco():
    return {
        "images": [
            {"id": 7, "file_name": "a.png", "width": 40, "height": 20},
            {"id": 3, "file_name": "b.jpg", "width": 30, "height": 30},
            {"id": 9, "file_name": "c.jpg", "width": 30, "height": 30},  # no annotations
        ],
        # Ids with gaps and out of order: labels follow increasing id.
        "categories": [
            {"id": 90, "name": "toothbrush"},
            {"id": 1, "name": "person"},
            {"id": 18, "name": "dog"},
        ],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 18, "bbox": [4, 2, 16, 10], "iscrowd": 0},
            {"id": 2, "image_id": 7, "category_id": 1, "bbox": [0, 0, 40, 20], "iscrowd": 1},
            {"id": 3, "image_id": 3, "category_id": 90, "bbox": [3.0, 6.0, 12.0, 15.0], "iscrowd": 0},
        ],
    }


@pytest.fixture
def coco(tmp_path):
    image_dir = tmp_path / "images"
    os.makedirs(image_dir)
    pixels = _save_image(image_dir / "a.png", 40, 20, 1)
    _save_image(image_dir / "b.jpg", 30, 30, 2)
    _save_image(image_dir / "c.jpg", 30, 30, 3)

    def write(data=None):
        path = tmp_path / "instances.json"
        path.write_text(json.dumps(_coco() if data is None else data))
        return str(path), str(image_dir)

    write.pixels = pixels
    return write


def test_reads_remapped_categories_boxes_and_crowd_flags(coco):
    annotation_file, image_dir = coco()
    dataset, class_names = load_coco_json(annotation_file, image_dir)
    assert class_names == ["person", "dog", "toothbrush"]
    a, b, c = dataset.as_numpy_iterator()
    assert a["image/filename"] == b"a.png"
    # xywh [4, 2, 16, 10] in a 40x20 image -> yxyx [2/20, 4/40, 12/20, 20/40].
    np.testing.assert_allclose(a["objects"]["bbox"], [[0.1, 0.1, 0.6, 0.5], [0.0, 0.0, 1.0, 1.0]], rtol=1e-6)
    assert a["objects"]["label"].tolist() == [1, 0]
    assert a["objects"]["iscrowd"].tolist() == [False, True]
    assert a["objects"]["difficult"].tolist() == [False, False]
    assert a["objects"]["weight"].tolist() == [1.0, 1.0]
    np.testing.assert_array_equal(a["image"], coco.pixels)
    np.testing.assert_allclose(b["objects"]["bbox"], [[0.2, 0.1, 0.7, 0.5]], rtol=1e-6)
    assert b["objects"]["label"].tolist() == [2] and b["image"].shape == (30, 30, 3)
    assert c["objects"]["bbox"].shape == (0, 4)  # kept as background


def test_path_safety_of_file_name(coco, tmp_path):
    data = _coco()
    data["images"][0]["file_name"] = "/abs/elsewhere/a.png"
    data["images"][1]["file_name"] = "../../b.jpg"
    with pytest.warns(UserWarning, match="2 of 3 annotations name their image by an absolute or '..' path"):
        dataset, _ = load_coco_json(*coco(data))
    names = [example["image/filename"] for example in dataset.as_numpy_iterator()]
    assert names == [b"a.png", b"b.jpg", b"c.jpg"]
    _save_image(tmp_path / "outside.jpg", 30, 30, 4)
    data["images"][1]["file_name"] = "../outside.jpg"
    with pytest.raises(ValueError, match=r"image id 3: image .*images/outside.jpg does not exist"):
        load_coco_json(*coco(data))


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda d: d["annotations"][0].update(category_id=5), r"annotation id 1 has category_id 5, which is not in 'categories'"),
        (lambda d: d["annotations"][0].update(bbox=[4, 2, 0, 10]), r"image id 7: annotation id 1: box 0 \[x=4, y=2, w=0, h=10\] \(label 'dog'\) has zero"),
        (lambda d: d["annotations"][2].update(bbox=[20, 6, 12, 15]), r"image id 3: annotation id 3: box 0 .* is outside the 30x30 image"),
        (lambda d: d["annotations"][2].update(bbox=[1, 2, 3]), r"has bbox \[1, 2, 3\]; expected \[x, y, width, height\]"),
        (lambda d: d["annotations"][2].update(image_id=42), r"annotations\[2\] \(id 3\) has image_id 42, which is not in 'images'"),
        (lambda d: d["images"][2].update(file_name="missing.jpg"), r"image id 9: image .*missing.jpg does not exist \(file_name 'missing.jpg'; images are read from .*: give image_dir, --image-dir on the command line"),
        (lambda d: d["images"][2].update(width=31), r"the JSON says 31x30 but image .*c.jpg is 30x30"),
        (lambda d: d["categories"].append({"id": 1, "name": "again"}), r"category ids \[1\] are repeated"),
        (lambda d: d.pop("annotations"), r"has no 'annotations' \(an image-info file"),
    ],
    ids=["unknown_category", "zero_area", "outside", "not_xywh", "unknown_image", "missing_image",
         "size_mismatch", "repeated_category", "no_annotations"],
)
def test_bad_input_raises_naming_image_and_annotation(coco, change, match):
    data = _coco()
    change(data)
    with pytest.raises(ValueError, match=match):
        load_coco_json(*coco(data))


def test_corrupt_image_and_malformed_json(coco, tmp_path):
    annotation_file, image_dir = coco()
    with open(os.path.join(image_dir, "b.jpg"), "r+b") as file:
        file.truncate(os.path.getsize(file.name) - 100)  # the header stays readable
    with pytest.raises(ValueError, match=r"image id 3: image .*b.jpg is a truncated JPEG"):
        load_coco_json(annotation_file, image_dir)
    (tmp_path / "broken.json").write_text('{"images": [')
    with pytest.raises(ValueError, match=r"broken.json is not valid JSON"):
        load_coco_json(str(tmp_path / "broken.json"), image_dir)


def test_skip_invalid_reports_counts(coco):
    data = _coco()
    data["annotations"][2]["category_id"] = 5
    data["annotations"].append({"id": 4, "image_id": 42, "category_id": 1, "bbox": [0, 0, 1, 1]})
    with pytest.warns(UserWarning) as record:
        dataset, _ = load_coco_json(*coco(data), skip_invalid=True)
    message = str(record[0].message)
    assert "1 unknown categories" in message and "1 annotations of unknown images" in message
    assert [e["image/filename"] for e in dataset.as_numpy_iterator()] == [b"a.png", b"c.jpg"]


def test_annotations_only_without_images(coco):
    annotation_file, image_dir = coco()
    for name in os.listdir(image_dir):
        os.remove(os.path.join(image_dir, name))
    dataset, _ = load_coco_json(annotation_file, image_dir, check_images=False, load_images=False)
    examples = list(dataset.as_numpy_iterator())
    assert [len(e["objects"]["label"]) for e in examples] == [2, 1, 0]
    assert "image" not in examples[0]
