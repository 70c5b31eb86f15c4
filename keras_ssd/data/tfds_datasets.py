"""Reads the tensorflow-datasets detection builders into examples.

Each builder's features are mapped to the one example format of
docs/conventions.md ("Examples from readers"):

| builder | boxes from | `difficult` | `iscrowd` |
| --- | --- | --- | --- |
| `voc/2007`, `voc/2012` | `objects` | `objects/is_difficult` | all `False` |
| `coco/2014`, `coco/2017` | `objects` | all `False` | `objects/is_crowd` |
| `open_images_v4[/config]` | `bobjects` (601 box classes) | all `False` | `bobjects/is_group_of > 0` |
| `open_images_challenge2019_detection[/config]` | `bobjects` (500 classes) | all `False` | `bobjects/is_group_of` |

Open Images "group of" boxes cover several objects of a class; the challenge
evaluation treats them like COCO's crowd boxes, hence `iscrowd`. Its class names
are the ones of the builder's `ClassLabel` (machine ids such as `/m/011k07`).
Every box gets weight 1.
"""

import tensorflow as tf
import tensorflow_datasets as tfds

_READER = "load_tfds"

# builder family: (configs accepted, None = any; features key of the boxes;
# difficult key; crowd key; the image name key).
_BUILDERS = {
    "voc": (("2007", "2012"), "objects", "is_difficult", None, "image/filename"),
    "coco": (("2014", "2017"), "objects", None, "is_crowd", "image/filename"),
    "open_images_v4": (None, "bobjects", None, "is_group_of", "image/filename"),
    "open_images_challenge2019_detection": (None, "bobjects", None, "is_group_of", "id"),
}
SUPPORTED_NAMES = (
    "voc/2007", "voc/2012", "coco/2014", "coco/2017", "open_images_v4",
    "open_images_challenge2019_detection",
)


def _parse_name(name):
    if not isinstance(name, str):
        raise ValueError(f"{_READER}: name must be a str such as 'voc/2007', got {name!r}.")
    family, _, config = name.partition("/")
    spec = _BUILDERS.get(family)
    if spec is None or (spec[0] is not None and config not in spec[0]):
        raise ValueError(
            f"{_READER}: unsupported dataset {name!r}; expected one of "
            f"{', '.join(SUPPORTED_NAMES)} (Open Images accept a config, e.g. "
            f"'open_images_v4/300k')."
        )
    return spec


def _flag(objects, key, like):
    if key is None:
        return tf.zeros_like(like, dtype=tf.bool)
    value = objects[key]
    if value.dtype == tf.bool:
        return value
    # Open Images v4 stores its flags as int8, with -1 for "unknown".
    return value > tf.zeros((), value.dtype)


def _mapper(spec, load_images):
    _, objects_key, difficult_key, crowd_key, filename_key = spec

    def to_example(example):
        source = example[objects_key]
        label = tf.cast(source["label"], tf.int64)
        objects = {
            "bbox": tf.reshape(tf.cast(source["bbox"], tf.float32), (-1, 4)),
            "label": label,
            "weight": tf.ones_like(label, dtype=tf.float32),
            "difficult": _flag(source, difficult_key, label),
            "iscrowd": _flag(source, crowd_key, label),
        }
        result = {"image/filename": example[filename_key], "objects": objects}
        if load_images:
            result["image"] = example["image"]
        return result

    return to_example


def load_tfds(name, split, data_dir=None, download=False, load_images=True):
    """Loads a tensorflow-datasets detection dataset as examples.

    Args:
        name: str. One of `"voc/2007"`, `"voc/2012"`, `"coco/2014"`,
            `"coco/2017"`, `"open_images_v4"` and
            `"open_images_challenge2019_detection"` (the last two with an
            optional config, `"open_images_v4/300k"`).
        split: str. A tfds split, e.g. `"train"`, `"validation[:10%]"`.
        data_dir: optional str. Root folder of the tfds data. Defaults to
            `None` (tfds' default, `~/tensorflow_datasets`).
        download: bool. Whether `tfds.load` may download and prepare the data
            (several to hundreds of GB). Defaults to `False`: the data must be
            prepared already.
        load_images: bool. Whether examples hold the decoded `"image"`; `False`
            skips image decoding (for statistics). Defaults to `True`.

    Returns:
        A tuple `(dataset, class_names)`: a `tf.data.Dataset` of examples in the
        format of docs/conventions.md ("Examples from readers"); and the
        builder's class names, indexed by label.

    Raises:
        ValueError: if `name` is not supported, or the data is not in
            `data_dir` and `download=False`.

    Example:

    ```python
    dataset, class_names = load_tfds("voc/2007", "train", download=True)
    inputs = to_detection_inputs(dataset, image_size=300, max_boxes=50)
    ```
    """
    spec = _parse_name(name)
    decoders = None if load_images else {"image": tfds.decode.SkipDecoding()}
    try:
        dataset, info = tfds.load(
            name,
            split=split,
            data_dir=data_dir,
            download=download,
            with_info=True,
            shuffle_files=False,
            decoders=decoders,
        )
    except AssertionError as error:
        # tfds asserts that prepared data exists when download=False.
        raise ValueError(
            f"{_READER}: {name!r} is not prepared in data_dir={data_dir!r} ({error}). "
            f"Pass the data_dir that holds it, or download=True to download it."
        ) from None
    class_names = list(info.features[spec[1]]["label"].names)
    dataset = dataset.map(
        _mapper(spec, load_images), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    return dataset, class_names
