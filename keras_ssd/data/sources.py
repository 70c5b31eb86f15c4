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


def default_split(data, named_default):
    """`named_default` for the embedded and tfds datasets (named splits), else None.

    Args:
        data: str. A data argument of `load_examples`.
        named_default: str. The split a command reads from named datasets.

    Returns:
        `named_default`, or None for files and folders (all of their images).
    """
    if data in SYNTHETIC_CONFIGS or (not os.path.exists(data) and _is_tfds_name(data)):
        return named_default
    return None


def _voc_layout(data, annotations_subdir, images_subdir):
    """Sub-folders of a VOC folder: as given, VOC's, or a flat folder of `.xml` files."""
    if annotations_subdir is None:
        voc = os.path.isdir(os.path.join(data, "Annotations"))
        flat = not voc and any(name.lower().endswith(".xml") for name in os.listdir(data))
        annotations_subdir = "." if flat else "Annotations"
        if images_subdir is None and flat:
            images_subdir = "."
    return annotations_subdir, images_subdir if images_subdir is not None else "JPEGImages"


def _check_not_inside_or_above_a_voc_folder(data):
    """A clear error for the folders users point at instead of a VOC folder."""
    if os.path.isdir(os.path.join(data, "Annotations")) or any(
        name.lower().endswith(".xml") for name in os.listdir(data)
    ):
        return
    parent = os.path.dirname(os.path.abspath(data))
    if os.path.isdir(os.path.join(parent, "Annotations")):
        raise ValueError(
            f"{data} is a folder inside the VOC folder {parent} (it has no annotations); "
            f"give --data {parent}."
        )
    below = sorted(
        name for name in os.listdir(data)
        if os.path.isdir(os.path.join(data, name, "Annotations"))
    )
    if below:
        raise ValueError(
            f"{data} holds VOC folders ({', '.join(below)}), not annotations itself (a VOCdevkit "
            f"root?); give one of them, e.g. --data {os.path.join(data, below[0])}."
        )


def _no_splits(data, split, kind):
    if split is not None:
        raise ValueError(
            f"{data} is {kind}, which has no splits, but split {split!r} was asked for. "
            "Give no split to read all of it; hold out validation images with "
            "--val-fraction (split_by_fraction), or give a separate file for them."
        )


def _no_class_names(data, class_names, kind, how):
    if class_names is not None:
        raise ValueError(
            f"{data} is {kind}, whose classes are {how}; class_names (--classes) fixes the "
            "label order of VOC folders only, and would be ignored here."
        )


def load_examples(
    data,
    split=None,
    data_dir=None,
    label_map_path=None,
    image_dir=None,
    class_names=None,
    annotations_subdir=None,
    images_subdir=None,
    skip_invalid=False,
    check_images=True,
    load_images=True,
):
    """Loads examples from a data argument, choosing the reader by its form.

    | `data` | reader |
    | --- | --- |
    | `synthetic_shapes`, `synthetic_shapes/tiny` | `load_synthetic_shapes(split)` |
    | a name of `tfds_datasets.SUPPORTED_NAMES` (`voc/2007`) | `load_tfds(data, split)` |
    | a folder | `load_voc_xml` (Pascal VOC layout, or a flat folder of `.xml` and images) |
    | a `.json` file | `load_coco_json(data, image_dir)` |
    | a `.tfrecord` / `.record` file or glob | `read_tfrecord(data, label_map_path)` |

    Args:
        data: str. What to read (above).
        split: optional str. The embedded and tfds datasets: a split name
            (`None` means `"train"`). A VOC folder: a list of
            `ImageSets/Main/<split>.txt` (`None`: every annotation). A COCO
            JSON or TFRecords have no splits: a split is an error. A split the
            source does not have is an error naming the ones it has. Defaults
            to `None`.
        data_dir: optional str. tfds data folder for those. Defaults to `None`.
        label_map_path: optional str. Label map of TFRecords. Defaults to
            `None`.
        image_dir: optional str. Image folder of a COCO JSON. Defaults to
            `None`: the JSON's folder.
        class_names: optional sequence of str. Class order of a VOC folder
            (other sources name their classes: given for them, it is an error).
            Defaults to `None` (sorted names found).
        annotations_subdir: optional str. Annotation folder of a VOC folder.
            Defaults to `None`: `Annotations`, or the folder itself when it
            holds the `.xml` files (a flat LabelImg folder).
        images_subdir: optional str. Image folder of a VOC folder. Defaults to
            `None`: `JPEGImages`, or the folder itself for a flat folder.
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
        _no_class_names(data, class_names, "the embedded dataset", "its own five shapes")
        return _synthetic(data, split or "train", data_dir, load_images)
    if not os.path.exists(data) and _is_tfds_name(data):
        _no_class_names(data, class_names, "a tensorflow-datasets dataset", "named by the dataset")
        return tfds_datasets.load_tfds(data, split or "train", data_dir=data_dir, load_images=load_images)
    if os.path.isdir(data):
        from keras_ssd.data.voc_xml import load_voc_xml

        if annotations_subdir is None:
            _check_not_inside_or_above_a_voc_folder(data)
        annotations_subdir, images_subdir = _voc_layout(data, annotations_subdir, images_subdir)
        return load_voc_xml(
            data, class_names=class_names, annotations_subdir=annotations_subdir,
            images_subdir=images_subdir, split=split, skip_invalid=skip_invalid,
            check_images=check_images, load_images=load_images,
        )
    if data.lower().endswith(".json"):
        from keras_ssd.data.coco_json import load_coco_json

        _no_splits(data, split, "a COCO JSON file")
        _no_class_names(data, class_names, "a COCO JSON file", "named and ordered by its categories")
        return load_coco_json(
            data, image_dir if image_dir is not None else os.path.dirname(os.path.abspath(data)),
            skip_invalid=skip_invalid, check_images=check_images, load_images=load_images,
        )
    # Sharded names go on after the extension: train.record-00000-of-00010.
    if any(extension in os.path.basename(data).lower() for extension in TFRECORD_EXTENSIONS):
        from keras_ssd.data.tfrecord import read_tfrecord

        _no_splits(data, split, "TFRecords")
        _no_class_names(data, class_names, "TFRecords", "named and ordered by --label-map (label_map_path)")
        return read_tfrecord(
            data, label_map_path=label_map_path, skip_invalid=skip_invalid,
            load_images=load_images,
        )
    raise ValueError(
        f"cannot tell what {data!r} is: expected synthetic_shapes[/tiny], a tfds name "
        f"({', '.join(tfds_datasets.SUPPORTED_NAMES)}), a Pascal VOC folder, a COCO "
        f".json file or a TFRecord file ({', '.join(TFRECORD_EXTENSIONS)}, globs allowed)."
    )
