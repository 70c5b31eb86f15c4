"""Reads a COCO JSON annotation file (object detection) into examples.

Categories are remapped to labels `0 .. C-1` in increasing category id (COCO's
ids 1..90 with gaps become 0..79). Boxes are COCO's absolute
`[x, y, width, height]` in pixels, normalised to `[y / H, x / W, (y + h) / H,
(x + w) / W]` with the image size of the JSON. `iscrowd` boxes are kept, with
the `iscrowd` flag set. Each image's `file_name` is resolved inside `image_dir`
only; an absolute or `..` name is reduced to its base name, with a warning.
"""

import json
import os

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

_READER = "load_coco_json"


def _load_json(annotation_file):
    try:
        with open(annotation_file, encoding="utf-8") as file:
            data = json.load(file)
    except FileNotFoundError:
        raise ValueError(f"{_READER}: {annotation_file} does not exist.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{_READER}: {annotation_file} is not valid JSON ({error}).") from None
    except RecursionError:
        raise ValueError(f"{_READER}: {annotation_file} nests JSON too deeply to read.") from None
    if not isinstance(data, dict):
        raise ValueError(
            f"{_READER}: {annotation_file} holds a {type(data).__name__}; expected a COCO "
            f"object with 'images', 'annotations' and 'categories'."
        )
    missing = [key for key in ("images", "annotations", "categories") if key not in data]
    if missing:
        hint = (
            " (an image-info file of a test split has no annotations)"
            if missing == ["annotations"]
            else ""
        )
        raise ValueError(f"{_READER}: {annotation_file} has no {', '.join(map(repr, missing))}{hint}.")
    return data


def _categories(data, annotation_file):
    ids, names = [], []
    for index, category in enumerate(data["categories"]):
        if not isinstance(category, dict) or "id" not in category or "name" not in category:
            raise ValueError(
                f"{_READER}: {annotation_file}: categories[{index}] needs an 'id' and a "
                f"'name', got {category!r}."
            )
        if isinstance(category["id"], bool) or not isinstance(category["id"], int):
            raise ValueError(
                f"{_READER}: {annotation_file}: categories[{index}] has id "
                f"{category['id']!r}; category ids are integers."
            )
        ids.append(category["id"])
        names.append(str(category["name"]))
    if not ids:
        raise ValueError(f"{_READER}: {annotation_file} has no categories.")
    repeated = sorted({value for value in ids if ids.count(value) > 1})
    if repeated:
        raise ValueError(f"{_READER}: {annotation_file}: category ids {repeated} are repeated.")
    order = sorted(range(len(ids)), key=lambda index: ids[index])
    label_of = {ids[index]: label for label, index in enumerate(order)}
    return label_of, [names[index] for index in order]


def _box_problem(box, width, height):
    x, y, w, h = box
    if not np.isfinite(box).all():
        return "has a NaN or infinite value"
    if w <= 0 or h <= 0:
        return "has zero or negative area (width or height <= 0)"
    slack_x, slack_y = TOLERANCE * width, TOLERANCE * height
    if x < -slack_x or y < -slack_y or x + w > width + slack_x or y + h > height + slack_y:
        return f"is outside the {width:g}x{height:g} image"
    return None


def _image_record(image, annotations, label_of, class_names, image_dir, check_images, source):
    name = image.get("file_name")
    if not isinstance(name, str):
        raise UnusableImage("malformed images", f"{source}: has no 'file_name'.")
    try:
        path, neutralised = resolve_image_path(image_dir, name)
    except ValueError as error:
        raise UnusableImage("malformed images", f"{source}: {error}") from None
    width, height = float(image.get("width") or 0), float(image.get("height") or 0)
    if check_images or width <= 0 or height <= 0:
        try:
            image_width, image_height = check_image_file(path)
        except FileNotFoundError:
            raise UnusableImage(
                "missing images",
                f"{source}: image {path} does not exist (file_name {name!r}; images are read from "
                f"{image_dir}: give image_dir, --image-dir on the command line, if they are elsewhere).",
            ) from None
        except ValueError as error:
            raise UnusableImage("corrupt images", f"{source}: image {path} {error}.") from None
        if width > 0 and height > 0 and (image_width, image_height) != (width, height):
            raise UnusableImage(
                "corrupt images",
                f"{source}: the JSON says {width:g}x{height:g} but image {path} is "
                f"{image_width}x{image_height} (is it the wrong image?)."
                + rotated_size_hint(path, width, height, image_width, image_height),
            )
        width, height = float(image_width), float(image_height)

    boxes, labels, iscrowd = [], [], []
    for annotation in annotations:
        what = f"{source}: annotation id {annotation.get('id')}"
        category = annotation.get("category_id")
        if not isinstance(category, int) or category not in label_of:
            raise UnusableImage(
                "unknown categories",
                f"{what} has category_id {category!r}, which is not in 'categories' "
                f"(ids {sorted(label_of)[:10]}{'...' if len(label_of) > 10 else ''}).",
            )
        try:
            box = np.asarray(annotation["bbox"], np.float64)
        except (KeyError, TypeError, ValueError):
            box = np.zeros(0)
        if box.shape != (4,):
            raise UnusableImage(
                "invalid boxes",
                f"{what} has bbox {annotation.get('bbox')!r}; expected [x, y, width, height].",
            )
        problem = _box_problem(box, width, height)
        if problem:
            raise UnusableImage(
                "invalid boxes",
                f"{what}: box {len(boxes)} [x={box[0]:g}, y={box[1]:g}, w={box[2]:g}, "
                f"h={box[3]:g}] (label {class_names[label_of[category]]!r}) {problem}.",
            )
        boxes.append(box)
        labels.append(label_of[category])
        iscrowd.append(bool(annotation.get("iscrowd", 0)))
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    x, y, w, h = boxes.T
    normalised = np.stack([y / height, x / width, (y + h) / height, (x + w) / width], axis=1)
    return {
        "path": path,
        "filename": os.path.relpath(path, image_dir),
        "bbox": np.clip(normalised, 0.0, 1.0).astype(np.float32),
        "label": np.asarray(labels, np.int64),
        "difficult": np.zeros(len(labels), bool),
        "iscrowd": np.asarray(iscrowd, bool),
        "neutralised": name if neutralised else None,
    }


@names_the_file(_READER)
def load_coco_json(
    annotation_file, image_dir, skip_invalid=False, check_images=True, load_images=True
):
    """Loads a COCO object-detection JSON file as a dataset of examples.

    The JSON is parsed now, in Python; images are read and decoded lazily, when
    the dataset is iterated. Images keep the order of the JSON's `"images"`; an
    image without annotations is kept as an all-background image.

    Args:
        annotation_file: str. The COCO JSON file (`instances_train2017.json`).
        image_dir: str. Folder of the images; every `file_name` is resolved
            inside it.
        skip_invalid: bool. What to do with an unusable image (missing,
            unreadable or truncated file, an unknown `category_id`, a box outside
            the image or of zero area) or an annotation of an unknown `image_id`:
            `False` raises a `ValueError`; `True` drops the image (the
            annotation) and issues one `UserWarning` with counts per reason.
            Defaults to `False`.
        check_images: bool. Whether to open each image's header now (PIL, no
            decoding): it must exist, be JPEG/PNG/BMP/GIF, not be truncated and
            have the JSON's size. `False` reads no image now. Defaults to `True`.
        load_images: bool. Whether examples hold the decoded `"image"`; `False`
            gives annotation-only examples that read no pixels (for statistics).
            Defaults to `True`.

    Returns:
        A tuple `(dataset, class_names)`: a `tf.data.Dataset` of examples in the
        format of docs/conventions.md ("Examples from readers"), with
        `"image/filename"` the path relative to `image_dir`; and the category
        names, indexed by label (categories sorted by id).

    Raises:
        ValueError: if the file is not COCO JSON, categories or image ids are
            repeated, or (with `skip_invalid=False`) naming the image and the
            annotation of the first problem.

    Example:

    ```python
    dataset, class_names = load_coco_json(
        "annotations/instances_val2017.json", "val2017")
    ```
    """
    data = _load_json(annotation_file)
    label_of, class_names = _categories(data, annotation_file)
    images = data["images"]
    if not isinstance(images, list) or not isinstance(data["annotations"], list):
        raise ValueError(
            f"{_READER}: {annotation_file}: 'images' and 'annotations' must be lists."
        )
    image_ids = [image.get("id") if isinstance(image, dict) else None for image in images]
    # Ids must be hashable and comparable: integers (or strings), never lists.
    image_ids = [
        None if isinstance(value, bool) or not isinstance(value, (int, str)) else value
        for value in image_ids
    ]
    if None in image_ids:
        index = image_ids.index(None)
        raise ValueError(
            f"{_READER}: {annotation_file}: images[{index}] needs an 'id', got "
            f"{images[index]!r}."
        )
    if len(set(image_ids)) != len(image_ids):
        repeated = sorted({value for value in image_ids if image_ids.count(value) > 1})[:10]
        raise ValueError(f"{_READER}: {annotation_file}: image ids {repeated} are repeated.")

    skips = SkipReport(_READER, "images")
    by_image = {image_id: [] for image_id in image_ids}
    for index, annotation in enumerate(data["annotations"]):
        image_id = annotation.get("image_id") if isinstance(annotation, dict) else None
        if not isinstance(image_id, (int, str)) or image_id not in by_image:
            message = (
                f"{annotation_file}: annotations[{index}] (id "
                f"{annotation.get('id') if isinstance(annotation, dict) else None}) has "
                f"image_id {image_id!r}, which is not in 'images'."
            )
            if not skip_invalid:
                raise ValueError(f"{message} Pass skip_invalid=True to skip it.")
            skips.add("annotations of unknown images (dropped)", message)
            continue
        by_image[image_id].append(annotation)

    def build(image):
        source = f"{os.path.basename(annotation_file)}: image id {image['id']}"
        return _image_record(
            image, by_image[image["id"]], label_of, class_names, image_dir, check_images, source
        )

    records = collect_usable(
        images, build, skips, skip_invalid, _READER, images_checked=check_images
    )
    if not records:
        raise ValueError(f"{_READER}: {annotation_file} has no usable image.")
    return examples_from_records(records, load_images=load_images), class_names
