"""Adds per-box weights (`image/object/weight`) to existing TF OD API TFRecords."""

import numpy as np
import tensorflow as tf

from keras_ssd.data.label_map import RecordClasses
from keras_ssd.data.tfrecord import BOX_KEYS
from keras_ssd.data.tfrecord import box_key
from keras_ssd.data.tfrecord_writer import float_feature
from keras_ssd.data.tfrecord_writer import write_atomically


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
    classes = RecordClasses(label_map_path)

    def rewritten():
        for index, raw in enumerate(tf.data.TFRecordDataset(src).as_numpy_iterator()):
            example = tf.train.Example.FromString(raw)
            feature = example.features.feature
            filename = b"".join(_values(feature, "image/filename", "bytes_list"))
            filename = filename.decode("utf-8", "replace")
            source = f"{src}: record {index}" + (f" ({filename})" if filename else "")
            boxes = np.asarray(
                [_values(feature, box_key(coordinate), "float_list") for coordinate in BOX_KEYS],
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
            feature["image/object/weight"].CopyFrom(float_feature(weights.tolist()))
            yield example.SerializeToString()

    try:
        return write_atomically(dst, rewritten())
    except tf.errors.DataLossError as error:
        raise ValueError(
            f"add_weights_to_tfrecord: {src} is truncated or corrupt "
            f"({error.message.splitlines()[0]}); {dst} was not written."
        ) from None
