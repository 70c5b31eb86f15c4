"""TF Object Detection API TFRecords: the keys, and reading them (`tfrecord_writer.py` writes them).

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

Inside keras_ssd labels are 0-based; `keras_ssd.data.label_map` maps a record's
ids to labels (for ids `1..C` without a label map, `id - 1`). Per-box weights are
added to existing records by `keras_ssd.data.tfrecord_weights`.
"""

import os

import numpy as np
import tensorflow as tf

from keras_ssd.data.decode_failures import decode_naming_failures
from keras_ssd.data.image_files import SkipReport
from keras_ssd.data.label_map import RecordClasses
from keras_ssd.data.reader_errors import names_the_file
from keras_ssd.data.validation import validate_boxes

BOX_KEYS = ("ymin", "xmin", "ymax", "xmax")


def box_key(coordinate):
    """The feature key of one box coordinate, e.g. `image/object/bbox/ymin`."""
    return f"image/object/bbox/{coordinate}"


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
    for coordinate in BOX_KEYS:
        features[box_key(coordinate)] = tf.io.VarLenFeature(tf.float32)
    if with_image:
        features["image/encoded"] = tf.io.FixedLenFeature((), tf.string, default_value="")
    return features


def _parse(record, with_image):
    parsed = tf.io.parse_single_example(record, _features(with_image))
    return {
        key: tf.sparse.to_dense(value) if isinstance(value, tf.SparseTensor) else value
        for key, value in parsed.items()
    }


def _check_record(parsed, classes, source, with_image):
    """Checks one parsed record (numpy); returns its 0-based labels, ids and texts."""
    boxes = [parsed[box_key(coordinate)] for coordinate in BOX_KEYS]
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


def _scan(files, classes, with_image, skip_invalid, skips):
    """Reads every record once: checks it, finds truncation, collects class texts.

    Returns `(kept, names_by_id, num_records, sources)`: `kept[file]` is
    `(num_readable, bad_indices)`; `sources` names each kept record in reading order
    ("<file>: record <i> (<filename>)"); what was skipped is added to `skips`.
    """

    def light(record):
        parsed = _parse(record, with_image)
        if with_image:
            parsed["image/has_encoded"] = tf.strings.length(parsed.pop("image/encoded")) > 0
        return parsed

    kept, names_by_id, num_records, sources = {}, {}, 0, []
    for file in files:
        bad, count, file_sources = [], 0, []
        records = tf.data.TFRecordDataset(file).map(light, num_parallel_calls=tf.data.AUTOTUNE)
        try:
            for index, parsed in enumerate(records.as_numpy_iterator()):
                count = index + 1
                name = parsed["image/filename"] or parsed["image/source_id"]
                name = name.decode("utf-8", "replace")
                source = f"{file}: record {index}" + (f" ({name})" if name else "")
                file_sources.append(source)
                try:
                    _, ids, texts = _check_record(parsed, classes, source, with_image)
                except ValueError as error:
                    if not skip_invalid:
                        raise
                    bad.append(index)
                    skips.add("invalid records", str(error))
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
            skips.add("truncated or corrupt files (their readable records kept)", message + ".")
            count = num_readable
            file_sources = file_sources[:num_readable]
            file_sources += [f"{file}: record {i}" for i in range(len(file_sources), num_readable)]
        num_records += count
        kept[file] = (num_readable, bad)
        skipped = set(bad)
        sources += [source for i, source in enumerate(file_sources) if i not in skipped]
    return kept, names_by_id, num_records, sources


def _decode_encoded(example):
    return tf.io.decode_image(
        example["image/encoded"], channels=3, dtype=tf.uint8, expand_animations=False
    )


def _with_decoded_image(example):
    return {**example, "image": tf.ensure_shape(_decode_encoded(example), (None, None, 3))}


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
    classes = RecordClasses(label_map_path)
    kept = None
    if verify:
        skips = SkipReport("read_tfrecord", "readable records")
        kept, names_by_id, num_records, sources = _scan(files, classes, load_images, skip_invalid, skips)
        skips.warn(num_records)
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
        boxes = tf.stack([parsed[box_key(coordinate)] for coordinate in BOX_KEYS], axis=1)
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
            example["image/encoded"] = parsed["image/encoded"]
        return example

    dataset = _raw_records(files, kept).map(
        to_example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    if load_images:
        if kept is None:  # unscanned: the records have no names to give
            dataset = dataset.map(
                _with_decoded_image, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
            )
        else:
            dataset = decode_naming_failures(dataset, sources, _decode_encoded)
        dataset = dataset.map(  # sequential: the order is kept
            lambda example: {key: value for key, value in example.items() if key != "image/encoded"}
        )
    if kept is not None:
        # The scan counted the records: a known size lets fit show progress and
        # split_by_fraction split without a pass over the images.
        num_kept = num_records - sum(len(bad) for _, bad in kept.values())
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(num_kept))
    return dataset, class_names
