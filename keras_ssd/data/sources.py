"""One entry point that picks the reader for a data argument (as the CLI gets it)."""

import os

import tensorflow as tf

from keras_ssd.data import tfds_datasets

SYNTHETIC_CONFIGS = {"synthetic_shapes": "default", "synthetic_shapes/tiny": "tiny"}
TFRECORD_EXTENSIONS = (".tfrecord", ".tfrecords", ".record", ".records")


def _synthetic(name, split, data_dir, load_images):
    from keras_ssd.data.embedded import load_synthetic_shapes

    dataset, class_names = load_synthetic_shapes(split, data_dir=data_dir, config=SYNTHETIC_CONFIGS[name])

    def to_example(example):
        label = example["objects"]["label"]
        no = tf.zeros_like(label, dtype=tf.bool)
        result = {
            "image/filename": example["image/filename"],
            "objects": {
                "bbox": example["objects"]["bbox"],
                "label": label,
                "weight": example["objects"]["weight"],
                "difficult": no,
                "iscrowd": no,
            },
        }
        if load_images:
            result["image"] = example["image"]
        return result

    return dataset.map(to_example, num_parallel_calls=tf.data.AUTOTUNE), class_names


def _is_tfds_name(data):
    try:
        tfds_datasets._parse_name(data)
    except ValueError:
        return False
    return True


def load_examples(
    data,
    split="train",
    data_dir=None,
    label_map_path=None,
    image_dir=None,
    class_names=None,
    skip_invalid=False,
    check_images=True,
    load_images=True,
):
    """Loads examples from a data argument, choosing the reader by its form.

    | `data` | reader |
    | --- | --- |
    | `synthetic_shapes`, `synthetic_shapes/tiny` | `load_synthetic_shapes(split)` |
    | a name of `tfds_datasets.SUPPORTED_NAMES` (`voc/2007`) | `load_tfds(data, split)` |
    | a folder | `load_voc_xml` (Pascal VOC layout) |
    | a `.json` file | `load_coco_json(data, image_dir)` |
    | a `.tfrecord` / `.record` file or glob | `read_tfrecord(data, label_map_path)` |

    Args:
        data: str. What to read (above).
        split: str. Split of the embedded and tfds datasets. Defaults to
            `"train"`.
        data_dir: optional str. tfds data folder for those. Defaults to `None`.
        label_map_path: optional str. Label map of TFRecords. Defaults to
            `None`.
        image_dir: optional str. Image folder of a COCO JSON. Defaults to
            `None`: the JSON's folder.
        class_names: optional sequence of str. Class order of a VOC folder.
            Defaults to `None` (sorted names found).
        skip_invalid: bool. Passed to the VOC, COCO and TFRecord readers.
            Defaults to `False`.
        check_images: bool. Passed to the VOC and COCO readers. Defaults to
            `True`.
        load_images: bool. Whether examples hold the decoded `"image"`.
            Defaults to `True`.

    Returns:
        A tuple `(dataset, class_names)` as the chosen reader returns it.

    Raises:
        ValueError: if `data` matches none of the forms, or the reader fails.
    """
    if not isinstance(data, str) or not data:
        raise ValueError(f"load_examples: data must be a non-empty str, got {data!r}.")
    if data in SYNTHETIC_CONFIGS:
        return _synthetic(data, split, data_dir, load_images)
    if not os.path.exists(data) and _is_tfds_name(data):
        return tfds_datasets.load_tfds(data, split, data_dir=data_dir, load_images=load_images)
    if os.path.isdir(data):
        from keras_ssd.data.voc_xml import load_voc_xml

        return load_voc_xml(
            data, class_names=class_names, skip_invalid=skip_invalid,
            check_images=check_images, load_images=load_images,
        )
    if data.lower().endswith(".json"):
        from keras_ssd.data.coco_json import load_coco_json

        return load_coco_json(
            data, image_dir if image_dir is not None else os.path.dirname(os.path.abspath(data)),
            skip_invalid=skip_invalid, check_images=check_images, load_images=load_images,
        )
    # Sharded names go on after the extension: train.record-00000-of-00010.
    if any(extension in os.path.basename(data).lower() for extension in TFRECORD_EXTENSIONS):
        from keras_ssd.data.tfrecord import read_tfrecord

        return read_tfrecord(
            data, label_map_path=label_map_path, skip_invalid=skip_invalid,
            load_images=load_images,
        )
    raise ValueError(
        f"cannot tell what {data!r} is: expected synthetic_shapes[/tiny], a tfds name "
        f"({', '.join(tfds_datasets.SUPPORTED_NAMES)}), a Pascal VOC folder, a COCO "
        f".json file or a TFRecord file ({', '.join(TFRECORD_EXTENSIONS)}, globs allowed)."
    )
