"""What the file-based readers (VOC XML, COCO JSON) share: safe image paths,
cheap image checks, reported skips and the lazily decoding example dataset.

An annotation names its image; that name is untrusted text. `resolve_image_path`
keeps every image inside the reader's image folder: an absolute path, a Windows
drive or a `..` component is replaced by the file's base name in that folder
(LabelImg writes the annotator's absolute `<path>`; a `..` could reach any file).
"""

import os
import re
import warnings

import numpy as np
import tensorflow as tf

from keras_ssd.data.decode_failures import decode_naming_failures
from keras_ssd.data.image_integrity import jpeg_end
from keras_ssd.data.image_integrity import png_end

# Formats that `tf.io.decode_image` decodes (GIF: first frame only).
SUPPORTED_FORMATS = ("JPEG", "PNG", "BMP", "GIF")
# Example file names quoted per skip reason in a warning.
_EXAMPLES_PER_REASON = 3


def resolve_image_path(image_dir, name):
    """Joins an image name from an annotation to `image_dir`, never leaving it.

    Args:
        image_dir: str. Folder that holds the images.
        name: str. The image name written in the annotation.

    Returns:
        A tuple `(path, neutralised)`: the image path inside `image_dir`, and
        whether `name` was absolute or held `..`, so that only its base name was
        kept.

    Raises:
        ValueError: if `name` has no file name at all (empty, `.`, `..`).
    """
    parts = [part for part in re.split(r"[\\/]+", name.strip()) if part not in ("", ".")]
    unsafe = (
        os.path.isabs(name)
        or name.startswith(("/", "\\"))
        or re.match(r"^[A-Za-z]:", name) is not None
        or ".." in parts
    )
    if unsafe:
        parts = parts[-1:]
    if not parts or parts[-1] == "..":
        raise ValueError(f"the image name {name!r} has no file name.")
    return os.path.join(image_dir, *parts), unsafe


def check_image_file(path):
    """Reads an image's header, without decoding it, and checks that it is complete.

    Args:
        path: str. Image file.

    Returns:
        A tuple `(width, height)` from the header.

    Raises:
        FileNotFoundError: if there is no file at `path`.
        ValueError: if the file is not a JPEG, PNG, BMP or GIF image, or a JPEG
            or PNG is cut short (no EOI marker / IEND chunk where its structure ends,
            as `tf.io.decode_image` requires; bytes after the end are allowed).
    """
    # Imported here: only the file readers need PIL.
    from PIL import Image
    from PIL import UnidentifiedImageError

    if not os.path.isfile(path):
        raise FileNotFoundError(path)
    try:
        with Image.open(path) as image:
            image_format, size = image.format, image.size
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ValueError(f"is not a readable image ({error})") from None
    if image_format not in SUPPORTED_FORMATS:
        raise ValueError(
            f"is a {image_format} image; expected one of {', '.join(SUPPORTED_FORMATS)}"
        )
    if image_format in ("JPEG", "PNG"):
        # The end marker is found by walking the file (image_integrity), as the decoder
        # reads it: bytes after the end are allowed, a file cut before it is not.
        with open(path, "rb") as file:
            try:
                end = jpeg_end(file.read()) if image_format == "JPEG" else png_end(file)
            except ValueError as error:
                raise ValueError(f"is not a readable image ({error})") from None
        if end is None:
            raise ValueError(
                f"is a truncated {image_format} (no end marker: was the copy cut "
                f"short?)"
            )
    return size


class SkipReport:
    """Counts what a reader skipped, by reason, and warns once at the end."""

    def __init__(self, reader, unit):
        self.reader = reader
        self.unit = unit
        self.reasons = {}

    def add(self, reason, message):
        self.reasons.setdefault(reason, []).append(message)

    @property
    def num_skipped(self):
        return sum(len(messages) for messages in self.reasons.values())

    def warn(self, num_total):
        """Issues one `UserWarning` with the counts, if anything was skipped."""
        if not self.reasons:
            return
        lines = [f"{self.reader}: skipped (skip_invalid=True), of {num_total} {self.unit}:"]
        for reason, messages in sorted(self.reasons.items()):
            lines.append(f"  {len(messages)} {reason}, e.g.:")
            lines.extend(f"    {message}" for message in messages[:_EXAMPLES_PER_REASON])
        warnings.warn("\n".join(lines), UserWarning, stacklevel=3)


class UnusableImage(Exception):
    """An image or annotation a reader cannot use; `reason` groups the skip counts."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason


# EXIF orientations 5-8 turn the stored picture by 90 degrees (width and height swap).
_QUARTER_TURNS = (5, 6, 7, 8)

EXIF_RULE = (
    "keras_ssd trains and predicts on the stored pixels, as TensorFlow's decoders and the TF "
    "Object Detection API do, so boxes drawn on the photo as a viewer shows it (CVAT, Label "
    "Studio and phone viewers apply the tag) do not fit; rotate the files themselves "
    "(e.g. exiftran -ai *.jpg) before annotating"
)


def exif_orientation(path):
    """The EXIF orientation tag of an image file (1, the stored frame, where there is none)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return int(image.getexif().get(0x0112, 1) or 1)
    except (OSError, ValueError, SyntaxError):
        return 1


def rotated_size_hint(path, width, height, image_width, image_height):
    """Why an annotation's size may be the image's turned by 90 degrees, or ``""``."""
    if (width, height) != (image_height, image_width):
        return ""
    orientation = exif_orientation(path)
    if orientation not in _QUARTER_TURNS:
        return ""
    return (
        f" The image's EXIF orientation {orientation} turns it to {image_height}x{image_width} "
        f"on screen: it was annotated as displayed. {EXIF_RULE}."
    )


def warn_oriented_images(reader, paths, num_total):
    """Warns once that images carry an EXIF orientation that keras_ssd does not apply."""
    tagged = [path for path in paths if exif_orientation(path) != 1]
    if tagged:
        warnings.warn(
            f"{reader}: {len(tagged)} of {num_total} images carry an EXIF orientation tag "
            f"(e.g. {tagged[0]}, orientation {exif_orientation(tagged[0])}). {EXIF_RULE}.",
            UserWarning,
            stacklevel=3,
        )


def collect_usable(items, build, skips, skip_invalid, reader, images_checked=False):
    """Builds one record per item, raising or counting the unusable ones.

    Args:
        items: sequence of what the reader parses (files, image entries).
        build: function of one item returning a record dict with a
            `"neutralised"` entry; raises `UnusableImage` for an unusable item.
        skips: the reader's `SkipReport`.
        skip_invalid: bool. Count and skip unusable items instead of raising.
        reader: str. The reader's name, for the warnings.
        images_checked: bool. The records' images were opened: warn about those
            with an EXIF orientation tag too. Defaults to False.

    Returns:
        The list of records; the skip, path and orientation warnings have been issued.

    Raises:
        ValueError: an unusable item and `skip_invalid=False`.
    """
    records = []
    for item in items:
        try:
            records.append(build(item))
        except UnusableImage as skip:
            if not skip_invalid:
                raise ValueError(
                    f"{skip} Fix the file, or pass skip_invalid=True to skip such images."
                ) from None
            skips.add(skip.reason, str(skip))
    skips.warn(len(items))
    warn_neutralised(
        reader, [record["neutralised"] for record in records if record["neutralised"]], len(items)
    )
    if images_checked:
        warn_oriented_images(reader, [record["path"] for record in records], len(items))
    return records


def warn_neutralised(reader, names, num_total):
    """Warns that absolute or `..` image names were reduced to their base name."""
    if names:
        warnings.warn(
            f"{reader}: {len(names)} of {num_total} annotations name their image by "
            f"an absolute or '..' path; only its base name is used, inside the "
            f"image folder (e.g. {names[0]}).",
            UserWarning,
            stacklevel=3,
        )


def decode_image_file(path):
    """Reads and decodes one image file in-graph to uint8 `[height, width, 3]`."""
    image = tf.io.decode_image(
        tf.io.read_file(path), channels=3, dtype=tf.uint8, expand_animations=False
    )
    return tf.ensure_shape(image, (None, None, 3))


def examples_from_records(records, load_images=True):
    """Builds the example dataset of the readers from parsed annotations.

    Args:
        records: list of dicts with `"path"` (image file), `"filename"`,
            `"bbox"` float32 `[n, 4]` normalised yxyx, `"label"` int64 `[n]`,
            `"difficult"` bool `[n]` and `"iscrowd"` bool `[n]`.
        load_images: bool. Whether each example reads and decodes its image
            (lazily, when iterated). Defaults to `True`.

    Returns:
        A `tf.data.Dataset` of examples in the format of docs/conventions.md
        ("Examples from readers"), in the order of `records`.
    """
    row_lengths = np.asarray([len(record["label"]) for record in records], np.int64)

    def ragged(key, dtype, inner_shape=()):
        values = [np.asarray(record[key], dtype).reshape((-1,) + inner_shape) for record in records]
        flat = np.concatenate(values) if values else np.zeros((0,) + inner_shape, dtype)
        return tf.RaggedTensor.from_row_lengths(flat, row_lengths)

    columns = {
        "path": tf.constant([record["path"] for record in records], tf.string),
        "filename": tf.constant([record["filename"] for record in records], tf.string),
        "bbox": ragged("bbox", np.float32, (4,)),
        "label": ragged("label", np.int64),
        "difficult": ragged("difficult", bool),
        "iscrowd": ragged("iscrowd", bool),
    }

    def to_example(row):
        objects = {
            "bbox": row["bbox"],
            "label": row["label"],
            "weight": tf.ones_like(row["label"], dtype=tf.float32),
            "difficult": row["difficult"],
            "iscrowd": row["iscrowd"],
        }
        return {"image/filename": row["filename"], "path": row["path"], "objects": objects}

    dataset = tf.data.Dataset.from_tensor_slices(columns)
    dataset = dataset.map(to_example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if load_images:
        dataset = decode_naming_failures(
            dataset, columns["path"], lambda example: decode_image_file(example["path"])
        )
    dataset = dataset.map(_without_path)  # sequential: the order is kept
    # The gap check leaves the size unknown to tf.data; it is the number of records.
    return dataset.apply(tf.data.experimental.assert_cardinality(len(records)))


def _without_path(example):
    return {key: value for key, value in example.items() if key != "path"}
