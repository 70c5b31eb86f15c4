"""Tests of TF OD API TFRecords: write, read back, label maps, adding weights."""

import numpy as np
import pytest
import tensorflow as tf

from keras_ssd.data.label_map import read_label_map
from keras_ssd.data.label_map import write_label_map
from keras_ssd.data.pipeline import to_detection_inputs
from keras_ssd.data.tfrecord import read_tfrecord
from keras_ssd.data.tfrecord_writer import write_tfrecord
from keras_ssd.data.tfrecord_weights import add_weights_to_tfrecord

CLASS_NAMES = ["cat", "dog", "it's"]


def _example(seed, boxes, labels, weights=None, difficult=None, iscrowd=None, size=(24, 32)):
    rng = np.random.default_rng(seed)
    objects = {
        "bbox": np.asarray(boxes, np.float32).reshape(-1, 4),
        "label": np.asarray(labels, np.int64),
    }
    for key, values in (("weight", weights), ("difficult", difficult), ("iscrowd", iscrowd)):
        if values is not None:
            objects[key] = np.asarray(values)
    return {
        "image": rng.integers(0, 256, size + (3,), dtype=np.uint8),
        "image/filename": f"image_{seed}.png",
        "objects": objects,
    }


EXAMPLES = [
    _example(
        0, [[0.1, 0.2, 0.5, 0.6], [0.3, 0.0, 1.0, 0.4]], [2, 0],
        weights=np.asarray([0.25, 3.0], np.float32), difficult=[True, False], iscrowd=[False, True],
    ),
    _example(1, [], [], size=(16, 8)),  # no boxes
    _example(2, [[0.0, 0.0, 1.0, 1.0]], [1]),
]


@pytest.fixture
def record_file(tmp_path):
    path = str(tmp_path / "train.tfrecord")
    assert write_tfrecord(path, EXAMPLES, CLASS_NAMES) == 3
    return path


def _raw(path):
    return [tf.train.Example.FromString(raw) for raw in tf.data.TFRecordDataset(path).as_numpy_iterator()]


def test_write_read_round_trip_is_bit_exact(record_file, tmp_path):
    label_map = str(tmp_path / "label_map.pbtxt")
    write_label_map(label_map, CLASS_NAMES)
    dataset, class_names = read_tfrecord(record_file, label_map)
    assert class_names == CLASS_NAMES
    examples = list(dataset.as_numpy_iterator())
    assert len(examples) == 3
    for written, read in zip(EXAMPLES, examples):
        np.testing.assert_array_equal(read["image"], written["image"])  # PNG: lossless
        assert read["image/filename"].decode() == written["image/filename"]
        objects = written["objects"]
        num_boxes = len(objects["label"])
        np.testing.assert_array_equal(read["objects"]["bbox"], objects["bbox"])
        np.testing.assert_array_equal(read["objects"]["label"], objects["label"])
        np.testing.assert_array_equal(read["objects"]["weight"], objects.get("weight", np.ones(num_boxes, np.float32)))
        np.testing.assert_array_equal(read["objects"]["difficult"], objects.get("difficult", np.zeros(num_boxes, bool)))
        np.testing.assert_array_equal(read["objects"]["iscrowd"], objects.get("iscrowd", np.zeros(num_boxes, bool)))
    assert examples[0]["objects"]["weight"].dtype == np.float32
    assert examples[0]["objects"]["label"].dtype == np.int64


def test_records_use_the_standard_keys_with_1_based_labels(record_file):
    feature = _raw(record_file)[0].features.feature
    assert list(feature["image/object/class/label"].int64_list.value) == [3, 1]
    assert list(feature["image/object/class/text"].bytes_list.value) == [b"it's", b"cat"]
    np.testing.assert_array_equal(feature["image/object/bbox/xmin"].float_list.value, np.float32([0.2, 0.0]))
    np.testing.assert_array_equal(feature["image/object/bbox/ymax"].float_list.value, np.float32([0.5, 1.0]))
    assert list(feature["image/object/weight"].float_list.value) == [0.25, 3.0]
    assert list(feature["image/object/difficult"].int64_list.value) == [1, 0]
    assert list(feature["image/object/is_crowd"].int64_list.value) == [0, 1]
    assert feature["image/format"].bytes_list.value[0] == b"png"
    assert feature["image/height"].int64_list.value[0] == 24
    assert feature["image/width"].int64_list.value[0] == 32


def test_without_label_map_names_come_from_class_text(record_file):
    dataset, class_names = read_tfrecord(record_file)
    assert class_names == CLASS_NAMES
    images, targets = next(iter(to_detection_inputs(dataset, 16, max_boxes=2, batch_size=3)))
    assert images.shape == (3, 16, 16, 3)
    assert targets["classes"].numpy().tolist() == [[2, 0], [-1, -1], [1, -1]]
    # The second box is a crowd box: the pipeline makes it an ignore region (weight 0).
    np.testing.assert_array_equal(targets["weights"].numpy()[0], [0.25, 0.0])


def test_label_map_round_trip_and_parser(tmp_path):
    path = str(tmp_path / "map.pbtxt")
    write_label_map(path, CLASS_NAMES)
    assert read_label_map(path) == {1: "cat", 2: "dog", 3: "it's"}
    # The TF OD API's own style: double quotes, comments, display_name, nesting, gaps.
    (tmp_path / "coco.pbtxt").write_text(
        '# a comment\nitem {\n  name: "/m/01g317"\n  id: 1\n  display_name: "person"\n}\n'
        "item: { id: 90 name: 'toothbrush' keypoints { id: 0 label: 'x' } }\n"
        "item { id: 18 name: 'dog' }  # trailing\n"
    )
    assert read_label_map(str(tmp_path / "coco.pbtxt")) == {1: "person", 18: "dog", 90: "toothbrush"}


@pytest.mark.parametrize(
    "text, match",
    [
        ("item { id: 0 name: 'bg' }", r":1: id 0 is not allowed: TF OD API ids start at 1"),
        ("item { id: 1 name: 'a' }\nitem { id: 1 name: 'b' }", r"repeats ids \[1\]"),
        ("item { id: 1 }", r":1: every item needs an id and a name"),
        ("item { id: 1 name: 'a }", r"cannot read the label map here"),
        ("", r"has no `item"),
        ("thing { id: 1 }", r"expected 'item', found 'thing'"),
    ],
    ids=["id_zero", "repeated", "no_name", "open_quote", "empty", "not_item"],
)
def test_bad_label_maps_raise(tmp_path, text, match):
    path = tmp_path / "bad.pbtxt"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        read_label_map(str(path))


def test_label_map_with_gaps_orders_ids_into_labels(tmp_path):
    path = str(tmp_path / "gaps.tfrecord")
    write_tfrecord(path, EXAMPLES, ["x", "y", "w"])  # ids 1, 2, 3 with the map's names
    label_map = tmp_path / "gaps.pbtxt"
    # Ids 1, 2, 3 in the records; the map adds an id 9 first.
    label_map.write_text("item { id: 9 name: 'z' }\nitem { id: 1 name: 'x' }\nitem { id: 2 name: 'y' }\nitem { id: 3 name: 'w' }")
    dataset, class_names = read_tfrecord(path, str(label_map))
    assert class_names == ["x", "y", "w", "z"]
    assert next(dataset.as_numpy_iterator())["objects"]["label"].tolist() == [2, 0]


def test_a_label_map_whose_ids_contradict_the_records_texts_is_refused(tmp_path):
    path = str(tmp_path / "swapped.tfrecord")
    write_tfrecord(path, EXAMPLES, CLASS_NAMES)  # id 1 cat, 2 dog, 3 it's
    label_map = tmp_path / "swapped.pbtxt"
    label_map.write_text("item { id: 1 name: 'dog' }\nitem { id: 2 name: 'cat' }\nitem { id: 3 name: \"it's\" }")
    with pytest.raises(ValueError) as raised:
        read_tfrecord(path, str(label_map))
    message = str(raised.value)
    # The first record's box 1 is a cat (label 0, id 1); the map calls id 1 'dog'.
    assert "swapped.tfrecord: record 0 (image_0.png)" in message
    assert "box 1 has class/label 1 and class/text 'cat'" in message
    assert "names id 1 'dog'; the map gives 'cat' the id 2" in message
    assert "(1 of 2 boxes of this record disagree)" in message
    # Ids and texts that agree, and records with texts only or ids only, still read.
    label_map.write_text("item { id: 1 name: 'cat' }\nitem { id: 2 name: 'dog' }\nitem { id: 3 name: \"it's\" }")
    dataset, _ = read_tfrecord(path, str(label_map))
    assert next(dataset.as_numpy_iterator())["objects"]["label"].tolist() == [2, 0]


def test_truncated_file_raises_or_keeps_the_readable_records(record_file, tmp_path):
    data = open(record_file, "rb").read()
    truncated = tmp_path / "truncated.tfrecord"
    truncated.write_bytes(data[:-50])
    with pytest.raises(ValueError, match=r"truncated.tfrecord is truncated or corrupt after 2 readable records"):
        read_tfrecord(str(truncated))
    with pytest.warns(UserWarning, match=r"1 truncated or corrupt files"):
        dataset, _ = read_tfrecord(str(truncated), skip_invalid=True)
    assert len(list(dataset.as_numpy_iterator())) == 2
    with pytest.raises(ValueError, match=r"truncated.tfrecord is truncated or corrupt.*was not written"):
        add_weights_to_tfrecord(str(truncated), str(tmp_path / "out.tfrecord"), [1.0, 1.0, 1.0])
    assert not (tmp_path / "out.tfrecord").exists()
    assert not (tmp_path / "out.tfrecord.incomplete").exists()


def test_invalid_records_raise_naming_file_record_and_box(tmp_path):
    path = str(tmp_path / "bad.tfrecord")
    write_tfrecord(path, EXAMPLES, CLASS_NAMES)
    examples = _raw(path)
    feature = examples[2].features.feature
    feature["image/object/bbox/xmax"].float_list.value[:] = [0.0]  # xmax <= xmin
    feature = examples[0].features.feature
    feature["image/object/class/label"].int64_list.value[:] = [3, 0]  # 0-based by mistake
    with tf.io.TFRecordWriter(path) as writer:
        for example in examples:
            writer.write(example.SerializeToString())
    with pytest.raises(ValueError, match=r"bad.tfrecord: record 0 \(image_0.png\): class/label 0 < 1; .* written 0-based"):
        read_tfrecord(path)
    label_map = str(tmp_path / "label_map.pbtxt")
    write_label_map(label_map, CLASS_NAMES)
    with pytest.warns(UserWarning, match=r"2 invalid records") as record:
        dataset, _ = read_tfrecord(path, label_map, skip_invalid=True)
    assert "record 2 (image_2.png): box 0 [0, 0, 1, 0] (label 'dog') has xmax <= xmin" in str(record[0].message)
    assert [e["image/filename"] for e in dataset.as_numpy_iterator()] == [b"image_1.png"]


def test_add_weights_from_class_weights_keeps_everything_else(record_file, tmp_path):
    out = str(tmp_path / "weighted.tfrecord")
    assert add_weights_to_tfrecord(record_file, out, [0.5, 2.0, 4.0]) == 3
    before, after = _raw(record_file), _raw(out)
    for old, new in zip(before, after):
        old_feature, new_feature = old.features.feature, new.features.feature
        assert set(old_feature) == set(new_feature)
        for key in old_feature:
            if key != "image/object/weight":
                assert old_feature[key] == new_feature[key], key
    dataset, _ = read_tfrecord(out)
    weights = [e["objects"]["weight"].tolist() for e in dataset.as_numpy_iterator()]
    assert weights == [[4.0, 0.5], [], [2.0]]


def test_add_weights_by_name_and_by_function_in_place(record_file):
    add_weights_to_tfrecord(record_file, record_file, {"cat": 1.5, "dog": 0.5, "it's": 3.0})
    dataset, _ = read_tfrecord(record_file)
    assert [e["objects"]["weight"].tolist() for e in dataset.as_numpy_iterator()] == [[3.0, 1.5], [], [0.5]]

    def small_boxes_count_double(record):
        box = record["objects"]["bbox"]
        area = (box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1])
        return np.where(area < 0.2, 2.0, 1.0) * record["objects"]["weight"]

    add_weights_to_tfrecord(record_file, record_file, small_boxes_count_double)
    dataset, _ = read_tfrecord(record_file)
    assert [e["objects"]["weight"].tolist() for e in dataset.as_numpy_iterator()] == [[6.0, 1.5], [], [0.5]]


def test_add_weights_rejects_bad_weights(record_file, tmp_path):
    out = str(tmp_path / "out.tfrecord")
    with pytest.raises(ValueError, match=r"record 0 \(image_0.png\): class \"it's\" has no weight"):
        add_weights_to_tfrecord(record_file, out, {"cat": 1.0})
    with pytest.raises(ValueError, match=r"record 0 .*: label 2 has no weight in weight_fn \(2 per-class"):
        add_weights_to_tfrecord(record_file, out, [1.0, 1.0])
    with pytest.raises(ValueError, match=r"must give 2 finite weights >= 0, got \[-1.0, -1.0\]"):
        add_weights_to_tfrecord(record_file, out, lambda record: -np.ones(len(record["objects"]["label"])))
    assert not (tmp_path / "out.tfrecord").exists()


def test_writer_rejects_bad_examples(tmp_path):
    bad = _example(0, [[0.5, 0.2, 0.1, 0.6]], [0])
    with pytest.raises(ValueError, match=r"example 0: box 0 .* has ymax <= ymin"):
        write_tfrecord(str(tmp_path / "x.tfrecord"), [bad], CLASS_NAMES)
    with pytest.raises(ValueError, match=r"has a class >= num_classes=3"):
        write_tfrecord(str(tmp_path / "x.tfrecord"), [_example(0, [[0, 0, 1, 1]], [3])], CLASS_NAMES)
    with pytest.raises(ValueError, match="image_format"):
        write_tfrecord(str(tmp_path / "x.tfrecord"), EXAMPLES, CLASS_NAMES, image_format="gif")
    assert not (tmp_path / "x.tfrecord").exists()
    with pytest.raises(ValueError, match="no TFRecord file"):
        read_tfrecord(str(tmp_path / "missing-*.tfrecord"))


def test_jpeg_records_from_a_dataset_and_annotation_only_reading(tmp_path):
    path = str(tmp_path / "jpeg.tfrecord")
    smooth = dict(EXAMPLES[2])
    smooth["image"] = np.broadcast_to(np.arange(32, dtype=np.uint8)[None, :, None] * 8, (24, 32, 3)).copy()
    dataset = tf.data.Dataset.from_generator(
        lambda: iter([smooth]),
        output_signature={
            "image": tf.TensorSpec((None, None, 3), tf.uint8),
            "image/filename": tf.TensorSpec((), tf.string),
            "objects": {"bbox": tf.TensorSpec((None, 4), tf.float32), "label": tf.TensorSpec((None,), tf.int64)},
        },
    )
    write_tfrecord(path, dataset, CLASS_NAMES, image_format="jpeg")
    read, _ = read_tfrecord(path, load_images=False)
    (example,) = read.as_numpy_iterator()
    assert "image" not in example and example["objects"]["label"].tolist() == [1]
    read, _ = read_tfrecord(path)
    image = next(read.as_numpy_iterator())["image"]
    assert image.shape == (24, 32, 3)
    assert np.abs(image.astype(int) - smooth["image"]).max() <= 8  # lossy


def test_verify_false_reads_nothing_now_and_needs_a_label_map(record_file, tmp_path):
    with pytest.raises(ValueError, match="with verify=False the classes cannot be collected; pass label_map_path"):
        read_tfrecord(record_file, verify=False)
    label_map = str(tmp_path / "label_map.pbtxt")
    write_label_map(label_map, CLASS_NAMES)
    fast, _ = read_tfrecord(record_file, label_map, verify=False)
    checked, _ = read_tfrecord(record_file, label_map)
    for a, b in zip(fast.as_numpy_iterator(), checked.as_numpy_iterator()):
        np.testing.assert_array_equal(a["image"], b["image"])
        np.testing.assert_array_equal(a["objects"]["label"], b["objects"]["label"])
    truncated = tmp_path / "truncated.tfrecord"
    truncated.write_bytes(open(record_file, "rb").read()[:-50])
    unchecked, _ = read_tfrecord(str(truncated), label_map, verify=False)  # documented: fails late
    with pytest.raises(tf.errors.DataLossError):
        list(unchecked.as_numpy_iterator())


def test_an_image_that_fails_to_decode_names_its_record(tmp_path):
    from tests.data.test_image_integrity import _baseline, _undefined_quantization_table

    path = str(tmp_path / "train.tfrecord")
    examples = [
        {"image": tf.io.decode_jpeg(_baseline()).numpy(), "image/filename": f"{index}.jpg",
         "objects": {"bbox": np.array([[0.1, 0.1, 0.5, 0.5]], np.float32), "label": np.array([0])}}
        for index in range(3)
    ]  # fmt: skip
    write_tfrecord(path, examples, ["cat"])
    # Record 1's JPEG replaced by one that passes the header checks but does not decode.
    records = [record.numpy() for record in tf.data.TFRecordDataset(path)]
    example = tf.train.Example.FromString(records[1])
    example.features.feature["image/encoded"].bytes_list.value[0] = _undefined_quantization_table()
    records[1] = example.SerializeToString()
    with tf.io.TFRecordWriter(path) as writer:
        for record in records:
            writer.write(record)
    dataset, _ = read_tfrecord(path)
    assert int(dataset.cardinality()) == 3
    iterator = iter(dataset)
    assert next(iterator)["image"].shape == (48, 64, 3) and "image/encoded" not in next(iter(dataset))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"train.tfrecord: record 1 \(1.jpg\) could not be read or decoded"):
        next(iterator)
