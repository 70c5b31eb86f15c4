"""TF Object Detection API TFRecords: writing examples as records (the keys: `tfrecord.py`)."""

import hashlib

import numpy as np
import tensorflow as tf

from keras_ssd.data.label_map import check_class_names
from keras_ssd.data.tfrecord import BOX_KEYS
from keras_ssd.data.tfrecord import box_key
from keras_ssd.data.validation import validate_boxes

_IMAGE_FORMATS = ("png", "jpeg")


def _bytes_feature(values):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))


def float_feature(values):
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
        "image/object/weight": float_feature(weights.tolist()),
        "image/object/difficult": _int64_feature(difficult.astype(np.int64).tolist()),
        "image/object/is_crowd": _int64_feature(iscrowd.astype(np.int64).tolist()),
    }
    for column, coordinate in enumerate(BOX_KEYS):
        feature[box_key(coordinate)] = float_feature(boxes[:, column].tolist())
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def write_atomically(path, serialized_records):
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
    class_names = check_class_names(class_names, "write_tfrecord")
    if isinstance(examples, tf.data.Dataset):
        examples = examples.as_numpy_iterator()
    serialized = (
        _serialize(example, class_names, image_format, f"{path}: example {index}", index)
        for index, example in enumerate(examples)
    )
    return write_atomically(path, serialized)


# ------------------------------------------------------------------- reading
