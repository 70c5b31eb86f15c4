"""Reads a Pascal VOC XML folder (as LabelImg writes it) into examples.

Layout (the names of both sub-folders are arguments):

```
dataset/
  Annotations/2007_000032.xml   <annotation><filename>2007_000032.jpg</filename> ...
  JPEGImages/2007_000032.jpg
```

Boxes: VOC stores pixel corners `xmin, ymin, xmax, ymax`, nominally 1-based. They
are normalised as the TF Object Detection API's `create_pascal_tf_record.py` does,
`xmin / width`, `ymin / height`, `xmax / width`, `ymax / height`, with no −1 shift;
a box must lie inside `[0, width] x [0, height]` and have a positive area.

Image paths: only `<filename>` is used, inside the images folder. `<path>` (the
annotator's absolute path) is ignored; an absolute or `..` `<filename>` is reduced
to its base name, with a warning (see `image_files.resolve_image_path`).
"""

import glob
import os
import xml.etree.ElementTree as ElementTree

import numpy as np

from keras_ssd.data.image_files import SkipReport
from keras_ssd.data.image_files import UnusableImage
from keras_ssd.data.image_files import check_image_file
from keras_ssd.data.image_files import collect_usable
from keras_ssd.data.image_files import rotated_size_hint
from keras_ssd.data.image_files import examples_from_records
from keras_ssd.data.image_files import resolve_image_path
from keras_ssd.data.reader_errors import names_the_file
from keras_ssd.data.validation import TOLERANCE

_READER = "load_voc_xml"
# Tried in order when an annotation has no <filename>.
_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG")
IMAGE_SETS_SUBDIR = os.path.join("ImageSets", "Main")


def _text(element, tag):
    child = element.find(tag)
    if child is None or child.text is None:
        return None
    return child.text.strip()


def _number(element, tag, source, what):
    text = _text(element, tag)
    if text is None:
        raise UnusableImage("malformed annotations", f"{source}: {what} has no <{tag}>.")
    try:
        return float(text)
    except ValueError:
        raise UnusableImage(
            "malformed annotations", f"{source}: {what} <{tag}> is {text!r}, not a number."
        ) from None


def _flag(element, tag):
    text = _text(element, tag)
    return text is not None and text not in ("0", "false", "False", "")


def _parse_objects(root, source):
    """Returns the names, pixel boxes `[n, 4]` (xmin, ymin, xmax, ymax) and flags."""
    names, boxes, difficult = [], [], []
    for index, element in enumerate(root.findall("object")):
        name = _text(element, "name")
        if not name:
            raise UnusableImage("malformed annotations", f"{source}: object {index} has no <name>.")
        bndbox = element.find("bndbox")
        what = f"object {index} ({name!r})"
        if bndbox is None:
            raise UnusableImage("malformed annotations", f"{source}: {what} has no <bndbox>.")
        boxes.append([_number(bndbox, tag, source, what) for tag in ("xmin", "ymin", "xmax", "ymax")])
        names.append(name)
        difficult.append(_flag(element, "difficult"))
    return names, np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(difficult, bool)


def _box_problem(box, width, height):
    xmin, ymin, xmax, ymax = box
    if not np.isfinite(box).all():
        return "has a NaN or infinite coordinate"
    if xmax <= xmin or ymax <= ymin:
        return "has zero or negative area (xmax <= xmin or ymax <= ymin)"
    slack_x, slack_y = TOLERANCE * width, TOLERANCE * height
    if xmin < -slack_x or ymin < -slack_y or xmax > width + slack_x or ymax > height + slack_y:
        return f"is outside the {width:g}x{height:g} image"
    return None


def _check_boxes(boxes, names, width, height, source):
    bad = [index for index, box in enumerate(boxes) if _box_problem(box, width, height)]
    if bad:
        index = bad[0]
        xmin, ymin, xmax, ymax = boxes[index]
        raise UnusableImage(
            "invalid boxes",
            f"{source}: box {index} [xmin={xmin:g}, ymin={ymin:g}, xmax={xmax:g}, "
            f"ymax={ymax:g}] (label {names[index]!r}) "
            f"{_box_problem(boxes[index], width, height)}. {len(bad)} of {len(boxes)} "
            f"boxes have a problem.",
        )


def _image_name(root, xml_path):
    name = _text(root, "filename")
    if name:
        return name
    stem = os.path.splitext(os.path.basename(xml_path))[0]
    return stem + _IMAGE_EXTENSIONS[0]


def _parse_file(xml_path, source, image_dir, check_images):
    """Parses one annotation file; raises `UnusableImage` for anything unusable."""
    try:
        root = ElementTree.parse(xml_path).getroot()
    except ElementTree.ParseError as error:
        raise UnusableImage("malformed annotations", f"{source}: malformed XML ({error}).") from None
    if root.tag != "annotation":
        raise UnusableImage(
            "malformed annotations",
            f"{source}: the root element is <{root.tag}>, expected <annotation> (is "
            f"this a Pascal VOC file?).",
        )
    name = _image_name(root, xml_path)
    try:
        image_path, neutralised = resolve_image_path(image_dir, name)
    except ValueError as error:
        raise UnusableImage("malformed annotations", f"{source}: {error}") from None
    if _text(root, "filename") is None:
        # No <filename>: the image is named after the annotation file.
        stem = os.path.splitext(image_path)[0]
        for extension in _IMAGE_EXTENSIONS:
            if os.path.isfile(stem + extension):
                image_path = stem + extension
                break

    size = root.find("size")
    width = height = 0.0
    if size is not None:
        width = _number(size, "width", source, "<size>")
        height = _number(size, "height", source, "<size>")
        if not (np.isfinite(width) and np.isfinite(height)):
            raise UnusableImage(
                "malformed annotations",
                f"{source}: <size> is {width:g}x{height:g}, not a finite size in pixels.",
            )
    if check_images or width <= 0 or height <= 0:
        try:
            image_width, image_height = check_image_file(image_path)
        except FileNotFoundError:
            raise UnusableImage(
                "missing images",
                f"{source}: image {image_path} does not exist (from <filename> "
                f"{name!r}).",
            ) from None
        except ValueError as error:
            raise UnusableImage("corrupt images", f"{source}: image {image_path} {error}.") from None
        if width > 0 and height > 0 and (image_width, image_height) != (width, height):
            raise UnusableImage(
                "corrupt images",
                f"{source}: <size> says {width:g}x{height:g} but image {image_path} is "
                f"{image_width}x{image_height} (is it the wrong image, or rotated?)."
                + rotated_size_hint(image_path, width, height, image_width, image_height),
            )
        width, height = float(image_width), float(image_height)

    names, boxes, difficult = _parse_objects(root, source)
    _check_boxes(boxes, names, width, height, source)
    normalised = boxes[:, [1, 0, 3, 2]] / np.asarray([height, width, height, width])
    return {
        "path": image_path,
        "filename": os.path.relpath(image_path, image_dir),
        "names": names,
        "bbox": np.clip(normalised, 0.0, 1.0).astype(np.float32),
        "difficult": difficult,
        "iscrowd": np.zeros(len(names), bool),
        "neutralised": name if neutralised else None,
    }


def _check_class_names(class_names):
    if class_names is None:
        return None
    if isinstance(class_names, str) or not all(isinstance(name, str) for name in class_names):
        raise ValueError(
            f"{_READER}: class_names must be a sequence of str, got {class_names!r}."
        )
    class_names = list(class_names)
    duplicates = sorted({name for name in class_names if class_names.count(name) > 1})
    if not class_names or duplicates:
        raise ValueError(
            f"{_READER}: class_names must be non-empty and unique, got {class_names!r}"
            + (f" (repeated: {', '.join(duplicates)})." if duplicates else ".")
        )
    return class_names


def voc_splits(directory, image_sets_subdir=IMAGE_SETS_SUBDIR):
    """The split names of a VOC folder: its `ImageSets/Main/<split>.txt` files.

    Per-class lists (`dog_train.txt`) are not splits and are left out.

    Args:
        directory: str. The dataset folder.
        image_sets_subdir: str. Folder of the split lists inside `directory`.
            Defaults to `"ImageSets/Main"`.

    Returns:
        Sorted list of split names; empty when the folder has none.
    """
    folder = os.path.join(directory, image_sets_subdir)
    if not os.path.isdir(folder):
        return []
    return sorted(
        name[: -len(".txt")] for name in os.listdir(folder)
        if name.endswith(".txt") and "_" not in name
    )


def _split_ids(directory, image_sets_subdir, split):
    splits = voc_splits(directory, image_sets_subdir)
    if split not in splits:
        has = (
            f"it has {', '.join(splits)}" if splits
            else f"it has no {image_sets_subdir}/<split>.txt, so no splits"
        )
        raise ValueError(
            f"{_READER}: {directory} has no split {split!r}: {has}. Give one of those, "
            "or no split to read every annotation (and --val-fraction to hold some out)."
        )
    with open(os.path.join(directory, image_sets_subdir, split + ".txt"), encoding="utf-8") as file:
        # A line is an image id, optionally followed by a flag (per-class lists).
        return [line.split()[0] for line in file if line.strip()]


@names_the_file(_READER)
def load_voc_xml(
    directory,
    class_names=None,
    annotations_subdir="Annotations",
    images_subdir="JPEGImages",
    split=None,
    image_sets_subdir=IMAGE_SETS_SUBDIR,
    skip_invalid=False,
    check_images=True,
    load_images=True,
):
    """Loads a Pascal VOC XML folder as a dataset of examples.

    Annotations are parsed now, in Python; images are read and decoded lazily,
    when the dataset is iterated. Every `*.xml` file of the annotations folder is
    one image, in sorted file-name order; a file without `<object>` is kept as an
    all-background image. `difficult` objects are kept, with their flag set.

    Args:
        directory: str. The dataset folder.
        class_names: optional sequence of str. Class of each label; an object
            whose `<name>` is not in it is an error. Defaults to `None`: the
            sorted names found in the annotations.
        annotations_subdir: str. Folder of the XML files, inside `directory`.
            Defaults to `"Annotations"`.
        images_subdir: str. Folder of the images, inside `directory`; every
            `<filename>` is resolved inside it. Defaults to `"JPEGImages"`.
        skip_invalid: bool. What to do with an unusable annotation file
            (malformed XML, missing, unreadable or truncated image, a box
            outside the image or of zero area, an unknown class name): `False`
            raises a `ValueError`; `True` drops the whole image (so that its
            other objects are not learnt as background) and issues one
            `UserWarning` with counts per reason. Defaults to `False`.
        check_images: bool. Whether to open each image's header now (PIL, no
            decoding): it must exist, be JPEG/PNG/BMP/GIF, not be truncated and
            have the `<size>` of its annotation. `False` reads no image now (a
            bad image then fails when iterated). Defaults to `True`.
        load_images: bool. Whether examples hold the decoded `"image"`; `False`
            gives annotation-only examples that read no pixels (for statistics).
            Defaults to `True`.

    Returns:
        A tuple `(dataset, class_names)`: a `tf.data.Dataset` of examples in the
        format of docs/conventions.md ("Examples from readers"), with
        `"image/filename"` the image path relative to the images folder; and the
        list of class names, indexed by label.

    Raises:
        ValueError: naming the file (and the box) of the first problem when
            `skip_invalid=False`; or if the folder has no annotation files, no
            such `split` (naming the splits it has),
            `class_names` is invalid, or no usable annotation is left.

    Example:

    ```python
    dataset, class_names = load_voc_xml("VOCdevkit/VOC2007")
    inputs = to_detection_inputs(dataset, image_size=300, max_boxes=50)
    ```
    """
    class_names = _check_class_names(class_names)
    annotations_dir = os.path.join(directory, annotations_subdir)
    image_dir = os.path.join(directory, images_subdir)
    if not os.path.isdir(annotations_dir):
        raise ValueError(
            f"{_READER}: {annotations_dir} is not a folder; expected the annotations "
            f"in {directory}/{annotations_subdir}/*.xml (set annotations_subdir)."
        )
    if split is None:
        xml_paths = sorted(glob.glob(os.path.join(glob.escape(annotations_dir), "*.xml")))
        if not xml_paths:
            raise ValueError(f"{_READER}: no *.xml files in {annotations_dir}.")
    else:
        ids = _split_ids(directory, image_sets_subdir, split)
        xml_paths = [os.path.join(annotations_dir, image_id + ".xml") for image_id in ids]
        missing = [path for path in xml_paths if not os.path.isfile(path)]
        if missing or not ids:
            raise ValueError(
                f"{_READER}: split {split!r} lists {len(ids)} images, and {len(missing)} of "
                f"them have no annotation file"
                + (f" (e.g. {missing[0]})." if missing else "; the list is empty.")
            )

    skips = SkipReport(_READER, "annotation files")
    def build(xml_path):
        source = os.path.relpath(xml_path, directory)
        record = _parse_file(xml_path, source, image_dir, check_images)
        if class_names is not None:
            unknown = [name for name in record["names"] if name not in class_names]
            if unknown:
                index = record["names"].index(unknown[0])
                raise UnusableImage(
                    "unknown class names",
                    f"{source}: box {index} has class name {unknown[0]!r}, which "
                    f"is not in class_names {class_names} ({len(unknown)} of "
                    f"{len(record['names'])} boxes have an unknown class; "
                    f"check spelling and case).",
                )
        return record

    parsed = collect_usable(
        xml_paths, build, skips, skip_invalid, _READER, images_checked=check_images
    )
    if not parsed:
        raise ValueError(f"{_READER}: none of the {len(xml_paths)} annotation files is usable.")

    if class_names is None:
        class_names = sorted({name for record in parsed for name in record["names"]})
        if not class_names:
            raise ValueError(
                f"{_READER}: no annotation in {annotations_dir} has an <object>, so "
                f"the classes are unknown; pass class_names."
            )
    index_of = {name: index for index, name in enumerate(class_names)}
    for record in parsed:
        record["label"] = np.asarray([index_of[name] for name in record["names"]], np.int64)
    return examples_from_records(parsed, load_images=load_images), class_names
