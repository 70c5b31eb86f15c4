"""Matches the classes of a dataset to those of a model by name, not by position.

A model trained on `["cat", "dog"]` and a dataset read as `["dog", "cat"]` (a COCO JSON
with other category ids, a VOC folder without `--classes`, a TFRecord label map in
another order) share their classes but not their ids. Comparing ids would file every AP
under the wrong name; `class_id_mapping` gives the model id of each data id, and
`remap_examples` rewrites the labels of reader examples (docs/conventions.md) with it.

Example:

>>> class_id_mapping(["dog", "cat"], ["cat", "dog"]).tolist()
[1, 0]
"""

import numpy as np


def _default_names(num_classes):
    return [f"class_{index}" for index in range(num_classes)]


def class_id_mapping(data_class_names, model_class_names):
    """The model's class id of each of the data's class ids, matched by name.

    Args:
        data_class_names: sequence of str. The data's names, indexed by its labels.
        model_class_names: sequence of str, or None. The model's names, indexed by its
            class ids. None, or the placeholder names `class_0`, `class_1`, ... that a
            model without names exports, means the model has no names: the classes are
            then matched by position, and only their number must agree.

    Returns:
        int64 NumPy array `[num_data_classes]`: entry `k` is the model id of data class `k`
        (the identity when both orders agree).

    Raises:
        ValueError: if a list is empty or names a class twice, or the two lists do not
            name the same classes (the message lists the names missing on each side).
    """
    data_class_names = [str(name) for name in data_class_names]
    if not data_class_names:
        raise ValueError("class_id_mapping: the data has no class names.")
    if model_class_names is not None:
        model_class_names = [str(name) for name in model_class_names]
        if model_class_names == _default_names(len(model_class_names)):
            model_class_names = None
    if model_class_names is None:
        return np.arange(len(data_class_names), dtype=np.int64)
    for names, whose in ((data_class_names, "data"), (model_class_names, "model")):
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"class_id_mapping: the {whose} names class(es) {repeated} more than once.")
    missing = [name for name in model_class_names if name not in data_class_names]
    extra = [name for name in data_class_names if name not in model_class_names]
    if missing or extra:
        problems = []
        if extra:
            problems.append(f"the data has {extra}, which the model does not know")
        if missing:
            problems.append(f"the model has {missing}, which the data lacks")
        raise ValueError(
            "The model's and the data's classes differ by name: " + "; ".join(problems) + ". "
            f"Model classes: {model_class_names}; data classes: {data_class_names}. Evaluate "
            "on data with the classes the model was trained on (for a VOC folder, --classes "
            "fixes the list; for TFRecords, the label map)."
        )
    return np.asarray([model_class_names.index(name) for name in data_class_names], np.int64)


def check_class_count(data_class_names, num_model_classes):
    """Raises unless the data has `num_model_classes` classes (matching by position).

    Raises:
        ValueError: naming both counts and the data's classes.
    """
    if len(data_class_names) != num_model_classes:
        raise ValueError(
            f"The model has num_classes={num_model_classes} (and no class names to match "
            f"by) but the data has {len(data_class_names)} classes "
            f"({', '.join(map(str, data_class_names))})."
        )


def match_classes(data_class_names, model_class_names, num_model_classes):
    """`class_id_mapping` plus the count check of a model without names.

    Args:
        data_class_names: sequence of str.
        model_class_names: sequence of str, or None (see `class_id_mapping`).
        num_model_classes: int. The model's number of classes.

    Returns:
        A tuple `(mapping, class_names)`: the int64 mapping of `class_id_mapping` and the
        names to report, in the model's id order (the data's names when the model has none).

    Raises:
        ValueError: as `class_id_mapping`, or a class count that differs from the model's.
    """
    mapping = class_id_mapping(data_class_names, model_class_names)
    named = model_class_names is not None and list(map(str, model_class_names)) != _default_names(
        len(model_class_names)
    )
    if not named:
        check_class_count(data_class_names, num_model_classes)
        return mapping, [str(name) for name in data_class_names]
    if len(model_class_names) != num_model_classes:
        raise ValueError(
            f"The model lists {len(model_class_names)} class names for num_classes="
            f"{num_model_classes}; it is damaged, save or export it again."
        )
    return mapping, [str(name) for name in model_class_names]


def remap_examples(examples, mapping):
    """Rewrites the `objects/label` of reader examples with a class id mapping.

    Args:
        examples: a `tf.data.Dataset` of reader examples (docs/conventions.md).
        mapping: int sequence from `class_id_mapping`; entry `k` is the new id of label `k`.

    Returns:
        The dataset with labels in the model's ids (the same dataset for the identity).
    """
    import tensorflow as tf

    mapping = np.asarray(mapping, np.int64)
    if np.array_equal(mapping, np.arange(mapping.size)):
        return examples
    table = tf.constant(mapping, tf.int64)

    def remap(example):
        objects = dict(example["objects"])
        objects["label"] = tf.gather(table, tf.cast(objects["label"], tf.int64))
        return {**example, "objects": objects}

    return examples.map(remap, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
