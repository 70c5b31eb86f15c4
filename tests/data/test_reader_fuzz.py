"""Fuzzed readers: mutated VOC XML, COCO JSON, TFRecord bytes, label maps and image bytes.

Every case must end in a result or a `ValueError` naming the file, within a time bound
(`signal.alarm` turns a hang into a failure), and no annotation may make a reader open a
file outside the dataset folder. Mutations are seeded (`random.Random(seed)`) and few, so
the file runs in seconds.
"""

import builtins
import io
import json
import os
import random
import signal
import time
from contextlib import contextmanager

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_ssd.data.coco_json import load_coco_json
from keras_ssd.data.tfrecord import read_tfrecord
from keras_ssd.data.tfrecord_writer import write_tfrecord
from keras_ssd.data.voc_xml import load_voc_xml

CASES = 16
SECONDS_PER_CASE = 10
HUGE = ["1e400", "-1e400", "nan", "99999999999999999999999999", "-0", "1e-320", "0x10", "[]", "null"]


def _jpeg(width=12, height=8, value=120):
    buffer = io.BytesIO()
    Image.fromarray(np.full((height, width, 3), value, np.uint8)).save(buffer, "JPEG")
    return buffer.getvalue()


@contextmanager
def _time_bound(seconds=SECONDS_PER_CASE):
    def hang(signum, frame):
        raise TimeoutError(f"a reader ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def _no_reads_outside(root):
    """Fails the test if Python's `open` (PIL's and the parsers' reads) leaves `root`.

    TF's own reads (image decoding) are checked by the traversal tests' pixel values.
    """
    root = os.path.realpath(root)
    real_open = builtins.open

    def inside(path):
        path = os.fspath(path)
        if isinstance(path, bytes):
            path = path.decode("utf-8", "replace")
        return os.path.realpath(path).startswith(root + os.sep) or os.path.realpath(path) == root

    def guarded_open(path, *args, **kwargs):
        if isinstance(path, (str, bytes, os.PathLike)) and not inside(path):
            mode = args[0] if args else kwargs.get("mode", "r")
            if "r" in mode and not str(os.fspath(path)).startswith(("/proc", "/sys", "/dev")):
                if "site-packages" not in str(path) and "/lib/python" not in str(path):
                    raise AssertionError(f"read outside the dataset: {path}")
        return real_open(path, *args, **kwargs)

    builtins.open = guarded_open
    try:
        yield
    finally:
        builtins.open = real_open


def _mutate_bytes(data, rng):
    """One of: truncation, bit flips, a huge number, deep nesting, a byte deletion run."""
    kind = rng.choice(["truncate", "flip", "huge", "nest", "delete"])
    data = bytearray(data)
    if kind == "truncate":
        return bytes(data[: rng.randrange(len(data))]), kind
    if kind == "flip":
        for _ in range(rng.randint(1, 8)):
            position = rng.randrange(len(data))
            data[position] ^= 1 << rng.randrange(8)
        return bytes(data), kind
    if kind == "huge":
        text = data.decode("latin-1")
        digits = [i for i, c in enumerate(text) if c.isdigit()]
        if digits:
            start = rng.choice(digits)
            end = start
            while end < len(text) and (text[end].isdigit() or text[end] == "."):
                end += 1
            text = text[:start] + rng.choice(HUGE) + text[end:]
        return text.encode("latin-1"), kind
    if kind == "nest":
        return bytes(data), kind  # the readers' own nesting cases are below
    start = rng.randrange(len(data))
    del data[start : start + rng.randint(1, 40)]
    return bytes(data), kind


def _check_outcome(call, path_hint):
    """Runs a reader: a result (iterated) or a ValueError naming the file.

    `path_hint`: a name, or a tuple of names one of which the message must hold (a
    VOC error about the whole folder names the folder).
    """
    hints = (path_hint,) if isinstance(path_hint, str) else path_hint
    try:
        with _time_bound():
            dataset, class_names = call()
            for _ in dataset.take(4):
                pass
    except ValueError as error:
        assert any(hint in str(error) for hint in hints), f"no {hints} in: {error}"
        return "error"
    except tf.errors.InvalidArgumentError as error:
        # Image bytes that pass the header check but do not decode: named when iterated.
        assert "could not be read or decoded" in str(error), str(error)
        assert any(hint in str(error) for hint in hints), f"no {hints} in: {error}"
        return "decode"
    assert isinstance(class_names, list)
    return "result"


# ----------------------------------------------------------------------------- VOC XML
VOC_NAMES = ("a.xml", "Annotations")
VOC = """<annotation>
  <folder>VOC</folder>
  <filename>{filename}</filename>
  <size><width>12</width><height>8</height><depth>3</depth></size>
  <object><name>cat</name><difficult>0</difficult>
    <bndbox><xmin>1</xmin><ymin>1</ymin><xmax>6</xmax><ymax>5</ymax></bndbox></object>
  <object><name>dog</name>
    <bndbox><xmin>2</xmin><ymin>2</ymin><xmax>12</xmax><ymax>8</ymax></bndbox></object>
</annotation>
"""


def _voc_folder(root, xml_bytes, image_bytes=None):
    os.makedirs(os.path.join(root, "Annotations"), exist_ok=True)
    os.makedirs(os.path.join(root, "JPEGImages"), exist_ok=True)
    with open(os.path.join(root, "Annotations", "a.xml"), "wb") as file:
        file.write(xml_bytes)
    with open(os.path.join(root, "JPEGImages", "a.jpg"), "wb") as file:
        file.write(_jpeg() if image_bytes is None else image_bytes)
    return root


def test_mutated_voc_xml(tmp_path):
    for seed in range(CASES):
        case_path = tmp_path / str(seed)
        case_path.mkdir()
        rng = random.Random(seed)
        data, _ = _mutate_bytes(VOC.format(filename="a.jpg").encode(), rng)
        root = _voc_folder(str(case_path / "voc"), data)
        with _no_reads_outside(root):
            _check_outcome(lambda: load_voc_xml(root), VOC_NAMES)


@pytest.mark.parametrize(
    "text",
    [
        "<annotation>" + "<a>" * 5000 + "</a>" * 5000 + "</annotation>",
        '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;'
        '&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;'
        '&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;'
        '&e;&e;&e;&e;">]><annotation><filename>&f;&f;&f;&f;&f;&f;&f;&f;</filename></annotation>',
        VOC.format(filename="a.jpg").replace("<width>12</width>", "<width>nan</width>"),
        VOC.format(filename="a.jpg").replace("<width>12</width>", "<width>1e400</width>"),
        VOC.format(filename="a.jpg").replace("<xmax>6</xmax>", "<xmax>1e400</xmax>"),
        VOC.format(filename="a.jpg").replace("<name>cat</name>", "<name><b>x</b></name>"),
        VOC.format(filename="a.jpg").replace("<filename>a.jpg", "<filename>\x00a.jpg"),
        "",
    ],
    ids=["deep", "entities", "nan-size", "inf-size", "inf-box", "nested-name", "nul", "empty"],
)
def test_hostile_voc_xml(tmp_path, text):
    root = _voc_folder(str(tmp_path / "voc"), text.encode("utf-8", "replace"))
    with _no_reads_outside(root):
        outcome = _check_outcome(lambda: load_voc_xml(root), VOC_NAMES)
    if "<width>nan" in text or "1e400" in text:
        # A non-finite size or box is refused, never turned into NaN or empty boxes.
        assert outcome == "error"


TRAVERSALS = ["../secret.jpg", "/tmp/secret.jpg", "..\\..\\secret.jpg", "C:/x/secret.jpg",
              "JPEGImages/../../secret.jpg"]


@pytest.mark.parametrize("name", TRAVERSALS)
def test_voc_never_reads_outside_the_dataset(tmp_path, name):
    (tmp_path / "secret.jpg").write_bytes(_jpeg(value=7))
    root = _voc_folder(str(tmp_path / "voc"), VOC.format(filename=name).encode())
    # The base name inside the image folder is used instead, with a warning.
    os.rename(os.path.join(root, "JPEGImages", "a.jpg"), os.path.join(root, "JPEGImages", "secret.jpg"))
    with _no_reads_outside(root), pytest.warns(UserWarning, match="base name"):
        dataset, _ = load_voc_xml(root)
        example = next(iter(dataset))
    assert example["image/filename"].numpy() == b"secret.jpg"
    assert int(example["image"][0, 0, 0]) > 100  # the image inside, not the one outside


# ----------------------------------------------------------------------------- COCO JSON
def _coco(file_name="a.jpg"):
    return {
        "images": [{"id": 1, "file_name": file_name, "width": 12, "height": 8}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 3, "bbox": [1, 1, 5, 4], "iscrowd": 0},
            {"id": 2, "image_id": 1, "category_id": 5, "bbox": [2, 2, 10, 6]},
        ],
        "categories": [{"id": 3, "name": "cat"}, {"id": 5, "name": "dog"}],
    }


WRONG_TYPES = [None, [], {}, "x", -1, 1e400, True, [[1]], {"a": 1}]


def _mutate_structure(value, rng):
    """Replaces one random leaf or container of a JSON value with a wrong type."""
    if isinstance(value, dict) and value and rng.random() < 0.8:
        key = rng.choice(sorted(value))
        return {**value, key: _mutate_structure(value[key], rng)}
    if isinstance(value, list) and value and rng.random() < 0.8:
        index = rng.randrange(len(value))
        return value[:index] + [_mutate_structure(value[index], rng)] + value[index + 1 :]
    return rng.choice(WRONG_TYPES)


def _coco_files(root, json_bytes, image_bytes=None):
    os.makedirs(os.path.join(root, "images"), exist_ok=True)
    with open(os.path.join(root, "images", "a.jpg"), "wb") as file:
        file.write(_jpeg() if image_bytes is None else image_bytes)
    annotation_file = os.path.join(root, "instances.json")
    with open(annotation_file, "wb") as file:
        file.write(json_bytes)
    return annotation_file, os.path.join(root, "images")


def test_mutated_coco_json_bytes(tmp_path):
    for seed in range(CASES):
        case_path = tmp_path / str(seed)
        case_path.mkdir()
        rng = random.Random(seed)
        data, _ = _mutate_bytes(json.dumps(_coco()).encode(), rng)
        annotation_file, image_dir = _coco_files(str(case_path), data)
        with _no_reads_outside(str(case_path)):
            _check_outcome(lambda: load_coco_json(annotation_file, image_dir), "instances.json")


def test_coco_json_with_wrong_types(tmp_path):
    for seed in range(CASES):
        case_path = tmp_path / str(seed)
        case_path.mkdir()
        rng = random.Random(1000 + seed)
        data = json.dumps(_mutate_structure(_coco(), rng)).encode()
        annotation_file, image_dir = _coco_files(str(case_path), data)
        for skip_invalid in (False, True):
            with _no_reads_outside(str(case_path)):
                _check_outcome(
                    lambda: load_coco_json(annotation_file, image_dir, skip_invalid=skip_invalid),
                    "instances.json",
                )


@pytest.mark.parametrize(
    "text",
    ["[" * 100000 + "]" * 100000, '{"images": ' + "[" * 50000 + "]" * 50000 + "}"],
    ids=["deep-list", "deep-images"],
)
def test_deeply_nested_coco_json(tmp_path, text):
    annotation_file, image_dir = _coco_files(str(tmp_path), text.encode())
    assert _check_outcome(lambda: load_coco_json(annotation_file, image_dir), "instances.json") == "error"


@pytest.mark.parametrize("name", TRAVERSALS)
def test_coco_never_reads_outside_the_dataset(tmp_path, name):
    (tmp_path / "secret.jpg").write_bytes(_jpeg(value=7))
    annotation_file, image_dir = _coco_files(str(tmp_path / "set"), json.dumps(_coco(name)).encode())
    os.rename(os.path.join(image_dir, "a.jpg"), os.path.join(image_dir, "secret.jpg"))
    with _no_reads_outside(str(tmp_path / "set")), pytest.warns(UserWarning, match="base name"):
        dataset, _ = load_coco_json(annotation_file, image_dir)
        example = next(iter(dataset))
    assert example["image/filename"].numpy() == b"secret.jpg"
    assert int(example["image"][0, 0, 0]) > 100


# ----------------------------------------------------------------------------- images
def test_mutated_image_bytes(tmp_path):
    for seed in range(CASES):
        case_path = tmp_path / str(seed)
        case_path.mkdir()
        rng = random.Random(2000 + seed)
        data, _ = _mutate_bytes(_jpeg(), rng)
        root = _voc_folder(str(case_path / "voc"), VOC.format(filename="a.jpg").encode(), data)
        with _no_reads_outside(root):
            outcome = _check_outcome(lambda: load_voc_xml(root), "a.jpg")
        assert outcome in ("result", "error", "decode")


# ----------------------------------------------------------------------------- TFRecord
def _record_file(root):
    example = {
        "image": np.full((8, 12, 3), 100, np.uint8),
        "objects": {"bbox": np.array([[0.1, 0.1, 0.5, 0.5]], np.float32),
                    "label": np.array([1], np.int64)},
    }
    path = os.path.join(root, "data.tfrecord")
    write_tfrecord(path, [example], ["cat", "dog"])
    return path


def test_mutated_tfrecord_bytes(tmp_path):
    for seed in range(CASES):
        case_path = tmp_path / str(seed)
        case_path.mkdir()
        path = _record_file(str(case_path))
        with open(path, "rb") as file:
            data = file.read()
        mutated, _ = _mutate_bytes(data, random.Random(3000 + seed))
        with open(path, "wb") as file:
            file.write(mutated)
        with _no_reads_outside(str(case_path)):
            _check_outcome(lambda: read_tfrecord(path), "data.tfrecord")


LABEL_MAP = "item {\n  id: 1\n  name: 'cat'\n}\nitem {\n  id: 2\n  name: 'dog'\n}\n"


def test_mutated_label_map(tmp_path):
    for seed in range(CASES):
        case_path = tmp_path / str(seed)
        case_path.mkdir()
        path = _record_file(str(case_path))
        label_map = str(case_path / "label_map.pbtxt")
        mutated, _ = _mutate_bytes(LABEL_MAP.encode(), random.Random(4000 + seed))
        with open(label_map, "wb") as file:
            file.write(mutated)
        _check_outcome(lambda: read_tfrecord(path, label_map_path=label_map), "label_map.pbtxt")


@pytest.mark.parametrize(
    "text",
    ["item {" * 20000 + "}" * 20000, "item { id: 99999999999999999999999 name: 'x' }",
     "item { id: 1e400 name: 'x' }", "item { id: 'one' name: 1 }", "item { id: [1] name: {} }",
     "\x00\xff" * 100],
    ids=["deep", "huge-id", "inf-id", "string-id", "list-id", "binary"],
)
def test_hostile_label_maps(tmp_path, text):
    path = _record_file(str(tmp_path))
    label_map = str(tmp_path / "label_map.pbtxt")
    with open(label_map, "w", encoding="latin-1") as file:
        file.write(text)
    assert _check_outcome(lambda: read_tfrecord(path, label_map_path=label_map), "label_map.pbtxt") == "error"


def test_fuzz_is_quick(tmp_path):
    start = time.perf_counter()
    for seed in range(5):
        data, _ = _mutate_bytes(VOC.format(filename="a.jpg").encode(), random.Random(seed))
        root = _voc_folder(str(tmp_path / f"v{seed}"), data)
        _check_outcome(lambda: load_voc_xml(root, load_images=False), VOC_NAMES)
    assert time.perf_counter() - start < 20
