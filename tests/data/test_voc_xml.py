"""Tests of the Pascal VOC XML reader, on folders the tests write."""

import os

import numpy as np
import pytest
from PIL import Image

from keras_ssd.data.pipeline import to_detection_inputs
from keras_ssd.data.voc_xml import load_voc_xml


def _xml(filename, objects, size=(40, 30), path=None):
    """A LabelImg-style annotation; objects are (name, (xmin, ymin, xmax, ymax), difficult)."""
    parts = ["<annotation>", "<folder>JPEGImages</folder>"]
    if filename is not None:
        parts.append(f"<filename>{filename}</filename>")
    if path is not None:
        parts.append(f"<path>{path}</path>")
    if size is not None:
        parts.append(f"<size><width>{size[0]}</width><height>{size[1]}</height><depth>3</depth></size>")
    for name, (xmin, ymin, xmax, ymax), difficult in objects:
        parts.append(
            f"<object><name>{name}</name><pose>Unspecified</pose><truncated>0</truncated>"
            f"<difficult>{int(difficult)}</difficult><bndbox><xmin>{xmin}</xmin>"
            f"<ymin>{ymin}</ymin><xmax>{xmax}</xmax><ymax>{ymax}</ymax></bndbox></object>"
        )
    parts.append("</annotation>")
    return "\n".join(parts)


def _pixels(width, height, seed):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


class VocFolder:
    def __init__(self, root):
        self.root = root
        os.makedirs(root / "Annotations")
        os.makedirs(root / "JPEGImages")

    def image(self, name, width=40, height=30, seed=0):
        pixels = _pixels(width, height, seed)
        Image.fromarray(pixels).save(self.root / "JPEGImages" / name)
        return pixels

    def annotation(self, stem, text):
        (self.root / "Annotations" / f"{stem}.xml").write_text(text)


@pytest.fixture
def voc(tmp_path):
    folder = VocFolder(tmp_path / "voc")
    png = folder.image("a.png", seed=1)
    folder.image("b.jpg", width=50, height=20, seed=2)
    folder.image("c.jpg", seed=3)
    folder.annotation("a", _xml("a.png", [("dog", (4, 3, 20, 15), False), ("cat", (10, 6, 40, 30), True)]))
    folder.annotation("b", _xml("b.jpg", [("cat", (5, 2, 25, 18), False)], size=(50, 20)))
    folder.annotation("c", _xml("c.jpg", []))  # no objects: all background
    folder.png = png
    return folder


def _examples(dataset):
    return list(dataset.as_numpy_iterator())


def test_reads_boxes_labels_flags_and_images(voc):
    dataset, class_names = load_voc_xml(str(voc.root))
    assert class_names == ["cat", "dog"]  # sorted names found
    a, b, c = _examples(dataset)
    # create_pascal_tf_record convention: xmin / width, no -1 shift.
    np.testing.assert_allclose(
        a["objects"]["bbox"], [[3 / 30, 4 / 40, 15 / 30, 20 / 40], [6 / 30, 10 / 40, 1.0, 1.0]], rtol=1e-6
    )
    assert a["objects"]["label"].tolist() == [1, 0]
    assert a["objects"]["difficult"].tolist() == [False, True]
    assert a["objects"]["iscrowd"].tolist() == [False, False]
    assert a["objects"]["weight"].tolist() == [1.0, 1.0]
    assert a["image/filename"] == b"a.png"
    np.testing.assert_array_equal(a["image"], voc.png)  # PNG: lossless
    assert b["image"].shape == (20, 50, 3) and b["image"].dtype == np.uint8  # JPEG
    np.testing.assert_allclose(b["objects"]["bbox"], [[0.1, 0.1, 0.9, 0.5]], rtol=1e-6)
    assert c["objects"]["bbox"].shape == (0, 4) and c["objects"]["label"].shape == (0,)
    assert c["image"].shape == (30, 40, 3)


def test_class_names_fix_the_labels_and_examples_feed_the_pipeline(voc):
    dataset, class_names = load_voc_xml(str(voc.root), class_names=["dog", "cat", "bird"])
    assert class_names == ["dog", "cat", "bird"]
    assert _examples(dataset)[0]["objects"]["label"].tolist() == [0, 1]
    images, targets = next(iter(to_detection_inputs(dataset, 32, max_boxes=3, batch_size=3)))
    assert images.shape == (3, 32, 32, 3)
    assert targets["classes"].numpy().tolist() == [[0, 1, -1], [1, -1, -1], [-1, -1, -1]]


def test_load_images_false_reads_no_pixels(voc):
    for name in ("a.png", "b.jpg", "c.jpg"):
        os.remove(voc.root / "JPEGImages" / name)
    dataset, _ = load_voc_xml(str(voc.root), check_images=False, load_images=False)
    examples = _examples(dataset)
    assert "image" not in examples[0] and len(examples) == 3
    assert examples[1]["objects"]["label"].tolist() == [0]


@pytest.mark.parametrize(
    "written",
    ["/etc/passwd/a.png", "../../a.png", "JPEGImages/../../a.png", "C:\\Users\\me\\a.png"],
)
def test_absolute_or_dotdot_image_names_stay_in_the_image_folder(voc, written):
    voc.annotation("a", _xml(written, [("dog", (4, 3, 20, 15), False)], path="/home/annotator/a.png"))
    # A file of the same name outside the images folder must never be read.
    (voc.root / "a.png").write_bytes(b"outside")
    with pytest.warns(UserWarning, match="absolute or '..' path; only its base name"):
        dataset, _ = load_voc_xml(str(voc.root))
    first = _examples(dataset)[0]
    assert first["image/filename"] == b"a.png"
    np.testing.assert_array_equal(first["image"], voc.png)


def test_dotdot_name_of_a_file_outside_is_not_found(voc):
    outside = voc.root.parent / "secret.png"
    Image.fromarray(_pixels(40, 30, 9)).save(outside)
    voc.annotation("a", _xml("../../secret.png", [("dog", (4, 3, 20, 15), False)]))
    with pytest.raises(ValueError, match=r"Annotations/a.xml: image .*JPEGImages/secret.png does not exist"):
        load_voc_xml(str(voc.root))


def test_missing_filename_uses_the_annotation_name(voc):
    voc.annotation("a", _xml(None, [("dog", (4, 3, 20, 15), False)]))
    first = _examples(load_voc_xml(str(voc.root))[0])[0]
    assert first["image/filename"] == b"a.png"


@pytest.mark.parametrize(
    "text, match",
    [
        ("<annotation><filename>a.png</filename>", r"Annotations/a.xml: malformed XML"),
        (_xml("a.png", [("dog", (4, 3, "x", 15), False)]), r"Annotations/a.xml: object 0 \('dog'\) <xmax> is 'x'"),
        (_xml("a.png", [("dog", (4, 3, 50, 15), False)]),
         r"Annotations/a.xml: box 0 \[xmin=4, ymin=3, xmax=50, ymax=15\] \(label 'dog'\) is outside the 40x30 image"),
        (_xml("a.png", [("cat", (1, 1, 5, 5), False), ("dog", (4, 3, 4, 15), False)]),
         r"box 1 .* \(label 'dog'\) has zero or negative area .* 1 of 2 boxes"),
        (_xml("a.png", [], size=(30, 40)), r"<size> says 30x40 but image .*a.png is 40x30"),
        ("<root/>", r"root element is <root>"),
    ],
    ids=["malformed", "not_a_number", "outside", "zero_area", "size_mismatch", "not_voc"],
)
def test_bad_annotations_raise_naming_the_file_and_box(voc, text, match):
    voc.annotation("a", text)
    with pytest.raises(ValueError, match=match):
        load_voc_xml(str(voc.root))


def test_missing_image_raises(voc):
    os.remove(voc.root / "JPEGImages" / "b.jpg")
    with pytest.raises(ValueError, match=r"Annotations/b.xml: image .*b.jpg does not exist"):
        load_voc_xml(str(voc.root))


def test_corrupt_and_truncated_images_raise(voc):
    (voc.root / "JPEGImages" / "a.png").write_bytes(b"this is not an image")
    with pytest.raises(ValueError, match=r"Annotations/a.xml: image .*a.png is not a readable image"):
        load_voc_xml(str(voc.root))
    voc.image("a.png", seed=1)
    data = (voc.root / "JPEGImages" / "b.jpg").read_bytes()
    (voc.root / "JPEGImages" / "b.jpg").write_bytes(data[:-100])  # header intact
    with pytest.raises(ValueError, match=r"Annotations/b.xml: image .*b.jpg is a truncated JPEG"):
        load_voc_xml(str(voc.root))


def test_unknown_class_name_raises(voc):
    with pytest.raises(ValueError, match=r"Annotations/a.xml: box 1 has class name 'cat', which is not in class_names \['dog'\]"):
        load_voc_xml(str(voc.root), class_names=["dog"])


def test_skip_invalid_drops_images_and_reports_counts(voc):
    voc.annotation("d", "<annotation>")  # malformed
    voc.annotation("e", _xml("e.jpg", []))  # missing image
    voc.annotation("f", _xml("c.jpg", [("dog", (0, 0, 41, 10), False)]))  # outside
    with pytest.warns(UserWarning) as record:
        dataset, class_names = load_voc_xml(str(voc.root), skip_invalid=True)
    message = str(record[0].message)
    assert "skipped (skip_invalid=True), of 6 annotation files" in message
    assert "1 malformed annotations" in message and "1 missing images" in message
    assert "1 invalid boxes" in message and "Annotations/f.xml: box 0" in message
    assert [e["image/filename"] for e in _examples(dataset)] == [b"a.png", b"b.jpg", b"c.jpg"]
    assert class_names == ["cat", "dog"]


def test_bad_arguments(tmp_path, voc):
    with pytest.raises(ValueError, match="is not a folder"):
        load_voc_xml(str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match="unique"):
        load_voc_xml(str(voc.root), class_names=["dog", "dog"])
    os.makedirs(tmp_path / "empty" / "Annotations")
    with pytest.raises(ValueError, match=r"no \*.xml files"):
        load_voc_xml(str(tmp_path / "empty"))
