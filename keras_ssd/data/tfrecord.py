"""TF Object Detection API TFRecords: read, write, label maps and per-box weights.

A record is a `tf.train.Example` with the TF OD API's standard keys:

| key | type | meaning |
| --- | --- | --- |
| `image/encoded`, `image/format` | bytes | the encoded image and `b"jpeg"` / `b"png"` |
| `image/height`, `image/width` | int64 | image size in pixels |
| `image/filename`, `image/source_id` | bytes | image name |
| `image/object/bbox/xmin`, `xmax`, `ymin`, `ymax` | float lists | normalised box corners |
| `image/object/class/label` | int64 list | class id, **1-based** (0 is background in the TF OD API) |
| `image/object/class/text` | bytes list | class name |
| `image/object/weight` | float list | per-box weight (missing: 1) |
| `image/object/difficult`, `image/object/is_crowd` | int64 lists | flags (missing: 0) |

Inside keras_ssd labels are 0-based: a record's class id maps to the position of
that id among the label map's ids in increasing order (for ids `1..C` that is
`id - 1`; COCO's label map, ids 1..90 with gaps, gives 0..79). Without a label
map, the label is `id - 1`.

A label map is the TF OD API's `.pbtxt` text, read here by a small tokenizer
(no protobuf dependency):

```
item {
  id: 1
  name: 'cat'
}
```
"""

import ast
import hashlib
import os
import re
import warnings

import numpy as np
import tensorflow as tf

from keras_ssd.data.reader_errors import names_the_file

from keras_ssd.data.validation import validate_boxes

_BOX_KEYS = ("ymin", "xmin", "ymax", "xmax")
_IMAGE_FORMATS = ("png", "jpeg")
_EXAMPLES_PER_REASON = 3

# protobuf text tokens: a comment, a quoted string, punctuation, a bare word.
_TOKEN = re.compile(
    r"""\s*(?:(\#[^\n]*)|("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')|([{}:])|([^\s{}:"'\#]+))"""
)


def _box_key(coordinate):
    return f"image/object/bbox/{coordinate}"


# ---------------------------------------------------------------- label maps


def _tokens(text, path):
    position, tokens = 0, []
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            if text[position:].strip() == "":
                break
            line = text.count("\n", 0, position) + 1
            raise ValueError(
                f"{path}:{line}: cannot read the label map here: "
                f"{text[position:position + 30]!r} (an unclosed quote?)."
            )
        position = match.end()
        if match.group(1) is None and match.lastindex is not None:
            line = text.count("\n", 0, match.start(match.lastindex)) + 1
            tokens.append((match.group(match.lastindex), line))
    return tokens


def _parse_label_map(path):
    """Returns the items of a label map: dicts with `id`, `name`, `display_name`."""
    try:
        with tf.io.gfile.GFile(path, "r") as file:
            text = file.read()
    except tf.errors.NotFoundError:
        raise ValueError(f"label map {path} does not exist.") from None
    except UnicodeDecodeError as error:
        raise ValueError(f"label map {path} is not UTF-8 text ({error}).") from None
    tokens = _tokens(text, path)
    items, index = [], 0

    def expect(value):
        nonlocal index
        if index >= len(tokens) or tokens[index][0] != value:
            found = repr(tokens[index][0]) if index < len(tokens) else "the end of the file"
            line = tokens[min(index, len(tokens) - 1)][1] if tokens else 1
            raise ValueError(f"{path}:{line}: expected {value!r}, found {found}.")
        index += 1

    while index < len(tokens):
        expect("item")
        if index < len(tokens) and tokens[index][0] == ":":
            index += 1
        expect("{")
        line = tokens[index - 1][1]
        fields = {}
        while index < len(tokens) and tokens[index][0] != "}":
            key = tokens[index][0]
            index += 1
            if index < len(tokens) and tokens[index][0] == ":":
                index += 1
            if index < len(tokens) and tokens[index][0] == "{":
                # A nested message (e.g. keypoints): not needed, skipped.
                depth = 0
                while index < len(tokens):
                    depth += {"{": 1, "}": -1}.get(tokens[index][0], 0)
                    index += 1
                    if depth == 0:
                        break
                continue
            if index >= len(tokens):
                break
            fields[key] = tokens[index][0]
            index += 1
        expect("}")
        items.append(_label_map_item(fields, path, line))
    if not items:
        raise ValueError(f"{path}: the label map has no `item {{ id: ... name: ... }}`.")
    ids = [item["id"] for item in items]
    repeated = sorted({value for value in ids if ids.count(value) > 1})
    if repeated:
        raise ValueError(f"{path}: the label map repeats ids {repeated}.")
    return sorted(items, key=lambda item: item["id"])


def _unquote(value):
    if value[:1] in ("'", '"'):
        return ast.literal_eval(value)
    return value


def _label_map_item(fields, path, line):
    if "id" not in fields or "name" not in fields and "display_name" not in fields:
        raise ValueError(f"{path}:{line}: every item needs an id and a name, got {fields}.")
    try:
        item_id = int(fields["id"])
    except ValueError:
        raise ValueError(f"{path}:{line}: id {fields['id']!r} is not an integer.") from None
    if item_id < 1:
        raise ValueError(
            f"{path}:{line}: id {item_id} is not allowed: TF OD API ids start at 1 (0 is "
            f"background)."
        )
    name = _unquote(fields.get("name", fields.get("display_name")))
    display_name = _unquote(fields["display_name"]) if "display_name" in fields else None
    return {"id": item_id, "name": name, "display_name": display_name}


@names_the_file("read_label_map")
def read_label_map(path):
    """Reads a TF OD API label map `.pbtxt`.

    Args:
        path: str. The label map file.

    Returns:
        A dict `{id: class name}` in increasing id order; the class name is the
        item's `display_name` when it has one, else its `name`.

    Raises:
        ValueError: naming the file and line, if the file is missing or is not
            a label map, an item lacks an id or a name, an id is < 1 or repeated.

    Example:

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "label_map.pbtxt")
    >>> write_label_map(path, ["cat", "dog"])
    >>> read_label_map(path)
    {1: 'cat', 2: 'dog'}
    """
    return {
        item["id"]: item["display_name"] or item["name"] for item in _parse_label_map(path)
    }


def write_label_map(path, class_names):
    """Writes a TF OD API label map: class `k` gets id `k + 1`.

    Args:
        path: str. Where to write the `.pbtxt`.
        class_names: sequence of str. Class names, indexed by label.

    Raises:
        ValueError: if `class_names` is empty, repeats a name or holds a
            non-string.
    """
    class_names = _check_class_names(class_names, "write_label_map")
    lines = []
    for index, name in enumerate(class_names):
        escaped = name.replace("\\", "\\\\").replace("'", "\\'")
        lines.append(f"item {{\n  id: {index + 1}\n  name: '{escaped}'\n}}\n")
    with tf.io.gfile.GFile(path, "w") as file:
        file.write("".join(lines))


def _check_class_names(class_names, caller):
    if isinstance(class_names, str) or not all(isinstance(name, str) for name in class_names):
        raise ValueError(f"{caller}: class_names must be a sequence of str, got {class_names!r}.")
    class_names = list(class_names)
    repeated = sorted({name for name in class_names if class_names.count(name) > 1})
    if not class_names or repeated:
        raise ValueError(
            f"{caller}: class_names must be non-empty and unique, got {class_names!r}."
        )
    return class_names


# ------------------------------------------------------------------- writing


def _bytes_feature(values):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))


def _float_feature(values):
    return tf.train.Feature(float_list=tf.train.FloatList(value=values))


def _int64_feature(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))


def _encode_image(image, image_format, source):
    image = np.asarray(image)
    if image.ndim == 0:
        encoded = image.item()
        if encoded[:8] == b"\x89PNG\r\n\x1a\n":
            encoded_format = "png"
        elif encoded[:2] == b"\xff\xd8":
            encoded_format = "jpeg"
        else:
            raise ValueError(f"{source}: the encoded image is neither a PNG nor a JPEG.")
        shape = tf.io.decode_image(encoded, channels=3, expand_animations=False).shape
        return encoded, encoded_format, int(shape[0]), int(shape[1])
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] not in (1, 3):
        raise ValueError(
            f"{source}: image must be uint8 [height, width, 1 or 3] (or encoded bytes), "
            f"got {image.dtype} {list(image.shape)}."
        )
    if image_format == "png":
        encoded = tf.io.encode_png(image).numpy()
    else:
        encoded = tf.io.encode_jpeg(image, quality=95).numpy()
    return encoded, image_format, image.shape[0], image.shape[1]


def _as_text(value, default):
    if value is None:
        return default
    value = np.asarray(value).item() if not isinstance(value, (str, bytes)) else value
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _serialize(example, class_names, image_format, source, index):
    if "image" not in example or "objects" not in example:
        raise ValueError(
            f"{source}: an example needs 'image' and 'objects' (docs/conventions.md, "
            f"'Examples from readers'), got keys {sorted(example)}."
        )
    encoded, encoded_format, height, width = _encode_image(example["image"], image_format, source)
    objects = example["objects"]
    boxes = np.asarray(objects["bbox"], np.float32).reshape(-1, 4)
    labels = np.asarray(objects["label"]).reshape(-1)
    validate_boxes(boxes, labels, len(class_names), source=source, class_names=class_names)
    num_boxes = len(boxes)
    labels = labels.astype(np.int64)
    weights = np.asarray(objects.get("weight", np.ones(num_boxes)), np.float32).reshape(-1)
    difficult = np.asarray(objects.get("difficult", np.zeros(num_boxes)), bool).reshape(-1)
    iscrowd = np.asarray(objects.get("iscrowd", np.zeros(num_boxes)), bool).reshape(-1)
    for name, values in (("weight", weights), ("difficult", difficult), ("iscrowd", iscrowd)):
        if len(values) != num_boxes:
            raise ValueError(f"{source}: {num_boxes} boxes but {len(values)} {name} values.")
    if not (np.isfinite(weights).all() and (weights >= 0).all()):
        raise ValueError(f"{source}: weights must be finite and >= 0, got {weights.tolist()}.")
    filename = _as_text(example.get("image/filename"), f"{index:06d}.{encoded_format}")
    feature = {
        "image/encoded": _bytes_feature([encoded]),
        "image/format": _bytes_feature([encoded_format.encode()]),
        "image/height": _int64_feature([height]),
        "image/width": _int64_feature([width]),
        "image/filename": _bytes_feature([filename.encode("utf-8")]),
        "image/source_id": _bytes_feature([filename.encode("utf-8")]),
        "image/key/sha256": _bytes_feature([hashlib.sha256(encoded).hexdigest().encode()]),
        "image/object/class/label": _int64_feature((labels + 1).tolist()),
        "image/object/class/text": _bytes_feature(
            [class_names[label].encode("utf-8") for label in labels]
        ),
        "image/object/weight": _float_feature(weights.tolist()),
        "image/object/difficult": _int64_feature(difficult.astype(np.int64).tolist()),
        "image/object/is_crowd": _int64_feature(iscrowd.astype(np.int64).tolist()),
    }
    for column, coordinate in enumerate(_BOX_KEYS):
        feature[_box_key(coordinate)] = _float_feature(boxes[:, column].tolist())
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _write_atomically(path, serialized_records):
    """Writes records to `path` through a temporary file, so no half file is left."""
    temporary = f"{path}.incomplete"
    count = 0
    try:
        with tf.io.TFRecordWriter(temporary) as writer:
            for record in serialized_records:
                writer.write(record)
                count += 1
        tf.io.gfile.rename(temporary, path, overwrite=True)
    finally:
        if tf.io.gfile.exists(temporary):
            tf.io.gfile.remove(temporary)
    return count


def write_tfrecord(path, examples, class_names, image_format="png"):
    """Writes examples as a TF OD API TFRecord file.

    Labels are written 1-based (`image/object/class/label = label + 1`) with
    their `class/text`; weights, `difficult` and `iscrowd` are written as
    `image/object/weight`, `image/object/difficult` and `image/object/is_crowd`.
    The file appears only once complete (written to `path + ".incomplete"`
    first).

    Args:
        path: str. The TFRecord file to write.
        examples: iterable of examples (docs/conventions.md, "Examples from
            readers"): dicts of numpy arrays or tensors, or a `tf.data.Dataset`
            of them. `"image"` is uint8 `[height, width, 3]` (or already encoded
            PNG/JPEG bytes, written as they are); `"weight"`, `"difficult"`,
            `"iscrowd"` and `"image/filename"` are optional.
        class_names: sequence of str. Class names, indexed by label.
        image_format: str. `"png"` (lossless: reading back gives the same
            pixels) or `"jpeg"` (quality 95). Defaults to `"png"`.

    Returns:
        The number of records written.

    Raises:
        ValueError: if `image_format` or `class_names` is invalid, or an example
            has invalid boxes or labels (naming the example and the box).

    Example:

    ```python
    dataset, class_names = load_voc_xml("my_voc_folder")
    write_tfrecord("train.tfrecord", dataset, class_names)
    write_label_map("label_map.pbtxt", class_names)
    ```
    """
    if image_format not in _IMAGE_FORMATS:
        raise ValueError(
            f"write_tfrecord: image_format must be one of {_IMAGE_FORMATS}, got {image_format!r}."
        )
    class_names = _check_class_names(class_names, "write_tfrecord")
    if isinstance(examples, tf.data.Dataset):
        examples = examples.as_numpy_iterator()
    serialized = (
        _serialize(example, class_names, image_format, f"{path}: example {index}", index)
        for index, example in enumerate(examples)
    )
    return _write_atomically(path, serialized)


# ------------------------------------------------------------------- reading


def _resolve_paths(paths):
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files = []
    for pattern in paths:
        pattern = os.fspath(pattern)
        matches = sorted(tf.io.gfile.glob(pattern)) if any(c in pattern for c in "*?[") else [pattern]
        if not matches or not all(tf.io.gfile.exists(match) for match in matches):
            raise ValueError(f"read_tfrecord: no TFRecord file at {pattern!r}.")
        files.extend(matches)
    if not files:
        raise ValueError("read_tfrecord: paths is empty.")
    return files


def _features(with_image):
    features = {
        "image/filename": tf.io.FixedLenFeature((), tf.string, default_value=""),
        "image/source_id": tf.io.FixedLenFeature((), tf.string, default_value=""),
        "image/height": tf.io.FixedLenFeature((), tf.int64, default_value=0),
        "image/width": tf.io.FixedLenFeature((), tf.int64, default_value=0),
        "image/object/class/label": tf.io.VarLenFeature(tf.int64),
        "image/object/class/text": tf.io.VarLenFeature(tf.string),
        "image/object/weight": tf.io.VarLenFeature(tf.float32),
        "image/object/difficult": tf.io.VarLenFeature(tf.int64),
        "image/object/is_crowd": tf.io.VarLenFeature(tf.int64),
    }
    for coordinate in _BOX_KEYS:
        features[_box_key(coordinate)] = tf.io.VarLenFeature(tf.float32)
    if with_image:
        features["image/encoded"] = tf.io.FixedLenFeature((), tf.string, default_value="")
    return features


def _parse(record, with_image):
    parsed = tf.io.parse_single_example(record, _features(with_image))
    return {
        key: tf.sparse.to_dense(value) if isinstance(value, tf.SparseTensor) else value
        for key, value in parsed.items()
    }


class _Classes:
    """Maps a record's 1-based ids (or class texts) to 0-based labels."""

    def __init__(self, label_map_path):
        self.label_map_path = label_map_path
        self.items = _parse_label_map(label_map_path) if label_map_path else None
        if self.items:
            self.rank_of_id = {item["id"]: rank for rank, item in enumerate(self.items)}
            self.rank_of_text = {}
            for rank, item in enumerate(self.items):
                for text in (item["name"], item["display_name"]):
                    if text is not None:
                        self.rank_of_text.setdefault(text, rank)
            self.names = [item["display_name"] or item["name"] for item in self.items]

    def labels(self, ids, texts, source):
        """0-based labels of one record, in Python; raises ValueError."""
        if len(ids):
            if self.items is None:
                bad = ids < 1
                if bad.any():
                    raise ValueError(
                        f"{source}: class/label {int(ids[bad][0])} < 1; TF OD API ids "
                        f"start at 1 (0 is background): was it written 0-based? "
                        f"{int(bad.sum())} of {len(ids)} boxes."
                    )
                return ids - 1
            unknown = [int(value) for value in ids if int(value) not in self.rank_of_id]
            if unknown:
                raise ValueError(
                    f"{source}: class/label {unknown[0]} is not an id of the label map "
                    f"{self.label_map_path} ({len(unknown)} of {len(ids)} boxes)."
                )
            return np.asarray([self.rank_of_id[int(value)] for value in ids], np.int64)
        if self.items is None:
            raise ValueError(
                f"{source}: the boxes have no image/object/class/label; pass "
                f"label_map_path to map their class/text to labels."
            )
        unknown = [text for text in texts if text not in self.rank_of_text]
        if unknown:
            raise ValueError(
                f"{source}: class/text {unknown[0]!r} is not a name in the label map "
                f"{self.label_map_path}."
            )
        return np.asarray([self.rank_of_text[text] for text in texts], np.int64)

    def tables(self):
        """In-graph lookups (id table, text table), or None without a label map."""
        if self.items is None:
            return None
        ids = tf.constant([item["id"] for item in self.items], tf.int64)
        ranks = tf.range(len(self.items), dtype=tf.int64)
        id_table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(ids, ranks), -1)
        texts = list(self.rank_of_text)
        text_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(texts, tf.string),
                tf.constant([self.rank_of_text[text] for text in texts], tf.int64),
            ),
            -1,
        )
        return id_table, text_table


def _check_record(parsed, classes, source, with_image):
    """Checks one parsed record (numpy); returns its 0-based labels, ids and texts."""
    boxes = [parsed[_box_key(coordinate)] for coordinate in _BOX_KEYS]
    num_boxes = len(boxes[0])
    if any(len(values) != num_boxes for values in boxes):
        raise ValueError(
            f"{source}: bbox/ymin, xmin, ymax, xmax have different lengths "
            f"{[len(values) for values in boxes]}."
        )
    for key in ("class/label", "weight", "difficult", "is_crowd"):
        count = len(parsed[f"image/object/{key}"])
        if count not in (0, num_boxes):
            raise ValueError(f"{source}: {num_boxes} boxes but {count} image/object/{key} values.")
    ids = parsed["image/object/class/label"]
    texts = [text.decode("utf-8") for text in parsed["image/object/class/text"]]
    if num_boxes and not len(ids) and len(texts) != num_boxes:
        raise ValueError(
            f"{source}: {num_boxes} boxes but {len(ids)} class/label and {len(texts)} "
            f"class/text values."
        )
    labels = classes.labels(ids, texts, source) if num_boxes else np.zeros(0, np.int64)
    names = classes.names if classes.items else None
    num_classes = len(classes.items) if classes.items else int(labels.max(initial=0)) + 1
    validate_boxes(np.stack(boxes, axis=1), labels, num_classes, source=source, class_names=names)
    weights = parsed["image/object/weight"]
    if not (np.isfinite(weights).all() and (weights >= 0).all()):
        raise ValueError(f"{source}: image/object/weight must be finite and >= 0, got {weights.tolist()}.")
    if with_image and not parsed["image/has_encoded"]:
        raise ValueError(f"{source}: the record has no image/encoded.")
    return labels, ids, texts


def _scan(files, classes, with_image, skip_invalid):
    """Reads every record once: checks it, finds truncation, collects class texts.

    Returns `(kept, names_by_id, num_records, problems)`: `kept[file]` is
    `(num_readable, bad_indices)`.
    """

    def light(record):
        parsed = _parse(record, with_image)
        if with_image:
            parsed["image/has_encoded"] = tf.strings.length(parsed.pop("image/encoded")) > 0
        return parsed

    kept, names_by_id, problems, num_records = {}, {}, {}, 0
    for file in files:
        bad, count = [], 0
        records = tf.data.TFRecordDataset(file).map(light, num_parallel_calls=tf.data.AUTOTUNE)
        try:
            for index, parsed in enumerate(records.as_numpy_iterator()):
                count = index + 1
                name = parsed["image/filename"] or parsed["image/source_id"]
                name = name.decode("utf-8", "replace")
                source = f"{file}: record {index}" + (f" ({name})" if name else "")
                try:
                    _, ids, texts = _check_record(parsed, classes, source, with_image)
                except ValueError as error:
                    if not skip_invalid:
                        raise
                    bad.append(index)
                    problems.setdefault("invalid records", []).append(str(error))
                    continue
                for value, text in zip(ids.tolist(), texts or [None] * len(ids)):
                    if names_by_id.get(value) is None:
                        names_by_id[value] = text
            num_readable = None
        except tf.errors.DataLossError as error:
            num_readable = _count_readable(file)
            message = (
                f"{file} is truncated or corrupt after {num_readable} readable records "
                f"({error.message.splitlines()[0]}); was the copy cut short? Re-create it"
            )
            if not skip_invalid:
                raise ValueError(
                    f"read_tfrecord: {message}, or pass skip_invalid=True to keep the "
                    f"readable records."
                ) from None
            problems.setdefault(
                "truncated or corrupt files (their readable records kept)", []
            ).append(message + ".")
            count = num_readable
        num_records += count
        kept[file] = (num_readable, bad)
    return kept, names_by_id, num_records, problems


def _count_readable(file):
    count = 0
    try:
        for _ in tf.data.TFRecordDataset(file):
            count += 1
    except tf.errors.DataLossError:
        pass
    return count


def _raw_records(files, kept):
    if kept is None or all(num is None and not bad for num, bad in kept.values()):
        return tf.data.TFRecordDataset(files)
    datasets = []
    for file in files:
        num_readable, bad = kept[file]
        records = tf.data.TFRecordDataset(file)
        if num_readable is not None:
            records = records.take(num_readable)
        if bad:
            bad_indices = tf.constant(bad, tf.int64)
            records = records.enumerate().filter(
                lambda index, record: tf.reduce_all(tf.not_equal(index, bad_indices))
            ).map(lambda index, record: record)
        datasets.append(records)
    records = datasets[0]
    for more in datasets[1:]:
        records = records.concatenate(more)
    return records


@names_the_file("read_tfrecord")
def read_tfrecord(
    paths, label_map_path=None, verify=True, skip_invalid=False, load_images=True
):
    """Reads TF OD API TFRecords as a dataset of examples.

    With `verify=True` every record is read once now, without decoding images:
    boxes, labels and lengths are checked (naming the file, the record and the
    box), a truncated or corrupt file is found, and without a label map the class
    names are collected from `class/text`. Images are decoded lazily, when the
    dataset is iterated.

    Args:
        paths: str or list of str. TFRecord files or glob patterns
            (`"train-*.tfrecord"`), read in sorted order.
        label_map_path: optional str. A `.pbtxt` label map giving the ids, their
            order (labels) and the class names. Defaults to `None`: label =
            class id − 1, names from `class/text` (`"class_<id>"` where absent).
        verify: bool. Whether to check every record now (above). `False` skips
            the pass: nothing is read now, a corrupt file fails with TF's
            `DataLossError` when iterated, and a label map is required. Defaults
            to `True`.
        skip_invalid: bool. With `verify`, what to do with an invalid record or
            a truncated file: `False` raises a `ValueError`; `True` drops the
            record (keeps a truncated file's readable records) and issues one
            `UserWarning` with counts. Defaults to `False`.
        load_images: bool. Whether examples hold the decoded `"image"`; `False`
            gives annotation-only examples (for statistics). Defaults to `True`.

    Returns:
        A tuple `(dataset, class_names)`: a `tf.data.Dataset` of examples in the
        format of docs/conventions.md ("Examples from readers"); and the class
        names, indexed by label.

    Raises:
        ValueError: if a file is missing, truncated or corrupt, a record is
            invalid (with `skip_invalid=False`), the label map is invalid, or
            `verify=False` without a label map.

    Example:

    ```python
    dataset, class_names = read_tfrecord("train-*.tfrecord", "label_map.pbtxt")
    ```
    """
    files = _resolve_paths(paths)
    classes = _Classes(label_map_path)
    kept = None
    if verify:
        kept, names_by_id, num_records, problems = _scan(files, classes, load_images, skip_invalid)
        if problems:
            lines = [f"read_tfrecord: skipped (skip_invalid=True), of {num_records} readable records:"]
            for reason, messages in sorted(problems.items()):
                lines.append(f"  {len(messages)} {reason}, e.g.:")
                lines.extend(f"    {message}" for message in messages[:_EXAMPLES_PER_REASON])
            warnings.warn("\n".join(lines), UserWarning, stacklevel=2)
        if classes.items:
            class_names = list(classes.names)
        elif names_by_id:
            class_names = [
                names_by_id.get(value) or f"class_{value}"
                for value in range(1, max(names_by_id) + 1)
            ]
        else:
            raise ValueError(
                f"read_tfrecord: {files[0]}{' etc.' if len(files) > 1 else ''} has no "
                f"labelled box, so the classes are unknown; pass label_map_path."
            )
    elif classes.items:
        class_names = list(classes.names)
    else:
        raise ValueError(
            "read_tfrecord: with verify=False the classes cannot be collected; pass "
            "label_map_path."
        )

    tables = classes.tables()

    def to_example(record):
        parsed = _parse(record, load_images)
        boxes = tf.stack([parsed[_box_key(coordinate)] for coordinate in _BOX_KEYS], axis=1)
        num_boxes = tf.shape(boxes)[0]
        ids = parsed["image/object/class/label"]
        if tables is None:
            labels = ids - 1
        else:
            id_table, text_table = tables
            labels = tf.cond(
                tf.size(ids) > 0,
                lambda: id_table.lookup(ids),
                lambda: text_table.lookup(parsed["image/object/class/text"]),
            )

        def or_default(key, default, dtype):
            values = parsed[key]
            return tf.cond(
                tf.size(values) > 0,
                lambda: tf.cast(values, dtype),
                lambda: tf.fill([num_boxes], tf.constant(default, dtype)),
            )

        filename = parsed["image/filename"]
        example = {
            "image/filename": tf.where(filename == "", parsed["image/source_id"], filename),
            "objects": {
                "bbox": boxes,
                "label": labels,
                "weight": or_default("image/object/weight", 1.0, tf.float32),
                "difficult": or_default("image/object/difficult", False, tf.bool),
                "iscrowd": or_default("image/object/is_crowd", False, tf.bool),
            },
        }
        if load_images:
            image = tf.io.decode_image(
                parsed["image/encoded"], channels=3, dtype=tf.uint8, expand_animations=False
            )
            example["image"] = tf.ensure_shape(image, (None, None, 3))
        return example

    dataset = _raw_records(files, kept).map(
        to_example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    if kept is not None:
        # The scan counted the records: a known size lets fit show progress and
        # split_by_fraction split without a pass over the images.
        num_kept = num_records - sum(len(bad) for _, bad in kept.values())
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(num_kept))
    return dataset, class_names


# --------------------------------------------------------------- adding weights


def _values(feature, key, kind):
    if key not in feature:
        return []
    return list(getattr(feature[key], kind).value)


def _weights_from(weight_fn, record, source):
    objects = record["objects"]
    num_boxes = len(objects["label"])
    if callable(weight_fn):
        weights = weight_fn(record)
    elif isinstance(weight_fn, dict):
        missing = [text for text in objects["text"] if text not in weight_fn]
        if missing:
            raise ValueError(
                f"{source}: class {missing[0]!r} has no weight in weight_fn (keys "
                f"{sorted(weight_fn)})."
            )
        weights = [weight_fn[text] for text in objects["text"]]
    else:
        table = np.asarray(weight_fn, np.float64).reshape(-1)
        bad = (objects["label"] < 0) | (objects["label"] >= len(table))
        if bad.any():
            raise ValueError(
                f"{source}: label {int(objects['label'][bad][0])} has no weight in "
                f"weight_fn ({len(table)} per-class weights)."
            )
        weights = table[objects["label"]]
    weights = np.asarray(weights, np.float64).reshape(-1)
    if len(weights) != num_boxes or not (np.isfinite(weights).all() and (weights >= 0).all()):
        raise ValueError(
            f"{source}: weight_fn must give {num_boxes} finite weights >= 0, got "
            f"{weights.tolist()}."
        )
    return weights


def add_weights_to_tfrecord(src, dst, weight_fn, label_map_path=None):
    """Copies a TFRecord file, setting `image/object/weight` of every box.

    Every other feature of each record is copied unchanged (images are not
    re-encoded). `dst` appears only once complete; `dst` may equal `src`.

    Args:
        src: str. TF OD API TFRecord file to read.
        dst: str. TFRecord file to write.
        weight_fn: how to weight each box, one of:
            - a sequence of per-class weights indexed by 0-based label (e.g.
              `compute_class_weights(counts)`);
            - a dict `{class name: weight}` (names from `class/text`, or from
              the label map when a record has no text);
            - a callable `weight_fn(record) -> [num_boxes]` weights, where
              `record` is `{"image/filename": str, "image/height": int,
              "image/width": int, "objects": {"bbox" [n, 4] yxyx, "label" [n]
              0-based, "text" list of str, "weight" [n] (the current ones, 1
              where absent), "difficult" [n] bool, "iscrowd" [n] bool}}`.
        label_map_path: optional str. Label map that orders the ids into labels
            (see `read_tfrecord`). Defaults to `None` (label = id − 1).

    Returns:
        The number of records written.

    Raises:
        ValueError: if `src` is missing, truncated or corrupt (naming it; `dst`
            is then not written), or `weight_fn` gives no valid weight for a
            box (naming the record).

    Example:

    ```python
    dataset, class_names = read_tfrecord("train.tfrecord", load_images=False)
    counts = class_statistics(dataset, class_names).num_boxes
    add_weights_to_tfrecord("train.tfrecord", "train_weighted.tfrecord",
                            compute_class_weights(counts, method="sqrt_inverse"))
    ```
    """
    if not tf.io.gfile.exists(src):
        raise ValueError(f"add_weights_to_tfrecord: {src} does not exist.")
    if not (callable(weight_fn) or isinstance(weight_fn, (dict, list, tuple, np.ndarray))):
        raise ValueError(
            "add_weights_to_tfrecord: weight_fn must be a callable, a dict {class name: "
            "weight} or a sequence of per-class weights, got "
            f"{type(weight_fn).__name__}."
        )
    classes = _Classes(label_map_path)

    def rewritten():
        for index, raw in enumerate(tf.data.TFRecordDataset(src).as_numpy_iterator()):
            example = tf.train.Example.FromString(raw)
            feature = example.features.feature
            filename = b"".join(_values(feature, "image/filename", "bytes_list"))
            filename = filename.decode("utf-8", "replace")
            source = f"{src}: record {index}" + (f" ({filename})" if filename else "")
            boxes = np.asarray(
                [_values(feature, _box_key(coordinate), "float_list") for coordinate in _BOX_KEYS],
                np.float32,
            ).reshape(4, -1).T
            num_boxes = len(boxes)
            ids = np.asarray(_values(feature, "image/object/class/label", "int64_list"), np.int64)
            texts = [
                value.decode("utf-8")
                for value in _values(feature, "image/object/class/text", "bytes_list")
            ]
            labels = classes.labels(ids, texts, source) if num_boxes else np.zeros(0, np.int64)
            if not texts and classes.items:
                texts = [classes.names[label] for label in labels]
            current = _values(feature, "image/object/weight", "float_list") or [1.0] * num_boxes

            def flags(key):
                return np.asarray(_values(feature, key, "int64_list") or [0] * num_boxes) > 0

            record = {
                "image/filename": filename,
                "image/height": (_values(feature, "image/height", "int64_list") or [0])[0],
                "image/width": (_values(feature, "image/width", "int64_list") or [0])[0],
                "objects": {
                    "bbox": boxes,
                    "label": labels,
                    "text": texts,
                    "weight": np.asarray(current, np.float32),
                    "difficult": flags("image/object/difficult"),
                    "iscrowd": flags("image/object/is_crowd"),
                },
            }
            weights = _weights_from(weight_fn, record, source)
            feature["image/object/weight"].CopyFrom(_float_feature(weights.tolist()))
            yield example.SerializeToString()

    try:
        return _write_atomically(dst, rewritten())
    except tf.errors.DataLossError as error:
        raise ValueError(
            f"add_weights_to_tfrecord: {src} is truncated or corrupt "
            f"({error.message.splitlines()[0]}); {dst} was not written."
        ) from None
