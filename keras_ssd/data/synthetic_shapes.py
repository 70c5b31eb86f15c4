"""The embedded default dataset: imbalanced coloured shapes on noisy backgrounds.

`synthetic_shapes` is a tensorflow-datasets builder that renders every image with
numpy from a fixed seed, so it needs no download and gives the same bytes on every
run. Five shape classes, each with its own colour hue family, are drawn with a
strong class imbalance (the commonest class has about 15x the boxes of the rarest),
which is what the class weights, focal loss and hard-negative mining of keras_ssd
are for.

Building offline: the builder has no download step and tensorflow-datasets 4.9 does
not query GCS unless asked (`gcs_utils._is_gcs_disabled`); pass
`tfds.download.DownloadConfig(try_download_gcs=False)` as well so that a changed
default cannot reach the network:

```python
builder = SyntheticShapes(data_dir=data_dir)
builder.download_and_prepare(
    download_config=tfds.download.DownloadConfig(try_download_gcs=False)
)
dataset = builder.as_dataset(split="train")
```

`keras_ssd.data.embedded.load_synthetic_shapes` does exactly this. By name, once
this module is imported (`try_gcs` stays at its default, `False`):

```python
dataset = tfds.load(
    "synthetic_shapes",  # or "synthetic_shapes/tiny"
    split="train",
    data_dir=data_dir,
    download_and_prepare_kwargs={
        "download_config": tfds.download.DownloadConfig(try_download_gcs=False)
    },
)
```
"""

import colorsys
import dataclasses
import zlib

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

CLASS_NAMES = ("circle", "square", "triangle", "cross", "ring")
# Probability of each class per object, in CLASS_NAMES order (ratio 15 between
# the commonest and the rarest class).
CLASS_FREQUENCIES = (0.45, 0.30, 0.15, 0.07, 0.03)
# HSV hue of each class's colour family, jittered by +-HUE_JITTER per object:
# red, green, blue, yellow, magenta.
CLASS_HUES = (0.0, 0.33, 0.62, 0.15, 0.83)
HUE_JITTER = 0.03

IMAGE_SIZE = 128
TRAIN_SIZE = 2000
VALIDATION_SIZE = 300
TEST_SIZE = 300

MAX_OBJECTS = 6
# Object sizes (side of the shape's square patch) as a fraction of the image side:
# 10 px to 60 px at 128 px.
MIN_OBJECT_FRACTION = 10 / 128
MAX_OBJECT_FRACTION = 60 / 128
# A placement is rejected when its box has IoU > MAX_IOU with an earlier box or
# when its pixels touch an earlier shape's pixels (so every box stays tight around
# visible pixels).
MAX_IOU = 0.3
_PLACEMENT_ATTEMPTS = 20


def example_seed(split, index):
    """Returns the seed of one example of the dataset.

    The seed mixes a stable hash of the split name (CRC32, not Python's salted
    `hash`) with the example index, so each split has its own deterministic stream.

    Args:
        split: str. Split name, e.g. `"train"`.
        index: int. Index of the example in the split.

    Returns:
        A list of two ints for `np.random.default_rng`.
    """
    return [zlib.crc32(split.encode("utf-8")), int(index)]


def _hsv_to_rgb(hue, saturation, value):
    return np.array(colorsys.hsv_to_rgb(hue % 1.0, saturation, value)) * 255.0


def _shape_mask(class_id, side):
    """Boolean [side, side] mask of a shape filling its square patch."""
    # Pixel centres in (-1, 1).
    coords = (np.arange(side, dtype=np.float32) + 0.5) / side * 2.0 - 1.0
    u = coords[:, None]  # rows, y
    v = coords[None, :]  # columns, x
    name = CLASS_NAMES[class_id]
    if name == "circle":
        return u**2 + v**2 <= 1.0
    if name == "square":
        return np.ones((side, side), dtype=bool)
    if name == "triangle":
        return np.abs(v) <= (u + 1.0) / 2.0
    if name == "cross":
        arm = 0.34
        return ((np.abs(v) <= arm) & (np.abs(u) <= 1.0)) | (
            (np.abs(u) <= arm) & (np.abs(v) <= 1.0)
        )
    if name == "ring":
        radius = u**2 + v**2
        return (radius <= 1.0) & (radius >= 0.55**2)
    raise ValueError(f"Unknown class id {class_id}.")


def _background(rng, image_size):
    """A smooth colour field plus stripes and thin distractor lines, float32."""
    # Low-frequency tint: a 4x4 random grid, bilinearly upsampled by a separable
    # [image_size, 4] interpolation matrix.
    coarse = rng.uniform(-45.0, 45.0, size=(4, 4, 3)) + rng.uniform(60.0, 190.0)
    positions = np.linspace(0.0, 3.0, image_size)
    weights = np.maximum(1.0 - np.abs(positions[:, None] - np.arange(4)), 0.0)
    rows = (weights @ coarse.reshape(4, 12)).reshape(image_size, 4, 3)
    image = np.matmul(weights[None], rows).astype(np.float32)

    yy = np.arange(image_size, dtype=np.float32)[:, None]
    xx = np.arange(image_size, dtype=np.float32)[None, :]
    angle = rng.uniform(0.0, np.pi)
    frequency = 2.0 * np.pi / rng.uniform(6.0, 24.0)
    stripes = np.sin(
        yy * float(np.cos(angle) * frequency) + xx * float(np.sin(angle) * frequency)
    )
    image += float(rng.uniform(5.0, 20.0)) * stripes[..., None]

    # Distractor lines of any colour, so colour alone does not give the class.
    for _ in range(rng.integers(0, 4)):
        y0, x0, y1, x1 = rng.uniform(0.0, image_size, size=4).tolist()
        dy, dx = y1 - y0, x1 - x0
        length_sq = max(dy * dy + dx * dx, 1e-6)
        t = np.clip(((yy - y0) * dy + (xx - x0) * dx) / length_sq, 0.0, 1.0)
        distance_sq = (yy - y0 - t * dy) ** 2 + (xx - x0 - t * dx) ** 2
        colour = _hsv_to_rgb(
            rng.uniform(), rng.uniform(0.2, 0.9), rng.uniform(0.3, 1.0)
        )
        image[distance_sq <= rng.uniform(0.5, 1.5) ** 2] = colour
    return image


def _box_iou(box, boxes):
    """IoU of one pixel box [4] (yxyx, exclusive max) with boxes [n, 4]."""
    if not boxes:
        return np.zeros((0,))
    boxes = np.asarray(boxes, dtype=np.float64)
    top = np.maximum(box[0], boxes[:, 0])
    left = np.maximum(box[1], boxes[:, 1])
    bottom = np.minimum(box[2], boxes[:, 2])
    right = np.minimum(box[3], boxes[:, 3])
    intersection = np.maximum(bottom - top, 0) * np.maximum(right - left, 0)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return intersection / (area + areas - intersection)


def render_example(rng_or_seed, image_size=IMAGE_SIZE, return_masks=False):
    """Renders one image of the synthetic shapes dataset.

    Draws 1 to `MAX_OBJECTS` shapes with classes drawn from `CLASS_FREQUENCIES`,
    sizes log-uniform between 10 and 60 px (at 128 px; scaled with `image_size`),
    no two boxes with IoU above `MAX_IOU` and no shared pixels, over a noisy
    textured background. Gaussian noise covers the whole image, shapes included.

    Args:
        rng_or_seed: `np.random.Generator`, or a seed for `np.random.default_rng`
            (an int or a list of ints such as `example_seed(split, index)`).
        image_size: int. Height and width of the square image. Defaults to 128.
        return_masks: bool. Whether to also return the pixel masks of the
            shapes. Defaults to `False`.

    Returns:
        A tuple `(image, boxes, labels)`: `image` uint8 `[image_size, image_size, 3]`,
        `boxes` float32 `[n, 4]` normalised `[ymin, xmin, ymax, xmax]` tight around
        the shape's pixels (pixel edges: a shape covering rows 3..9 has
        `ymin = 3 / image_size` and `ymax = 10 / image_size`), `labels` int32 `[n]`
        indices into `CLASS_NAMES`. With `return_masks=True`, a fourth element
        `masks` bool `[n, image_size, image_size]`.

    Raises:
        ValueError: if `image_size` is not an integer >= 32.

    Example:

    >>> image, boxes, labels = render_example(0)
    >>> image.shape, image.dtype, boxes.shape[1], labels.dtype
    ((128, 128, 3), dtype('uint8'), 4, dtype('int32'))
    """
    if int(image_size) != image_size or image_size < 32:
        raise ValueError(
            f"render_example: image_size must be an integer >= 32, got {image_size!r}."
        )
    image_size = int(image_size)
    if isinstance(rng_or_seed, np.random.Generator):
        rng = rng_or_seed
    else:
        rng = np.random.default_rng(rng_or_seed)

    image = _background(rng, image_size)
    occupied = np.zeros((image_size, image_size), dtype=bool)
    min_side = max(6, round(MIN_OBJECT_FRACTION * image_size))
    max_side = round(MAX_OBJECT_FRACTION * image_size)
    pixel_boxes, labels, masks = [], [], []

    num_objects = rng.integers(1, MAX_OBJECTS + 1)
    classes = rng.choice(len(CLASS_NAMES), size=num_objects, p=CLASS_FREQUENCIES)
    for class_id in classes:
        for _ in range(_PLACEMENT_ATTEMPTS):
            side = int(round(np.exp(rng.uniform(np.log(min_side), np.log(max_side)))))
            top, left = rng.integers(0, image_size - side + 1, size=2)
            patch = _shape_mask(class_id, side)
            rows = np.flatnonzero(patch.any(axis=1))
            cols = np.flatnonzero(patch.any(axis=0))
            box = np.array(
                [top + rows[0], left + cols[0], top + rows[-1] + 1, left + cols[-1] + 1]
            )
            if np.any(_box_iou(box, pixel_boxes) > MAX_IOU):
                continue
            region = (slice(top, top + side), slice(left, left + side))
            if np.any(occupied[region] & patch):
                continue
            occupied[region] |= patch
            mask = np.zeros((image_size, image_size), dtype=bool)
            mask[region] = patch

            colour = _hsv_to_rgb(
                CLASS_HUES[class_id] + rng.uniform(-HUE_JITTER, HUE_JITTER),
                rng.uniform(0.55, 0.95),
                rng.uniform(0.55, 0.95),
            )
            # A linear light gradient across the shape.
            gradient = np.linspace(-1.0, 1.0, side) * rng.uniform(-0.15, 0.15)
            shading = 1.0 + gradient[:, None] if rng.uniform() < 0.5 else 1.0 + gradient
            shaded = colour * np.broadcast_to(shading, (side, side))[..., None]
            image[region][patch] = shaded[patch]
            pixel_boxes.append(box)
            labels.append(class_id)
            masks.append(mask)
            break

    noise = rng.standard_normal(size=image.shape, dtype=np.float32)
    image += np.float32(rng.uniform(4.0, 12.0)) * noise
    image = np.clip(np.round(image), 0, 255).astype(np.uint8)
    boxes = np.asarray(pixel_boxes, dtype=np.float32).reshape(-1, 4) / image_size
    labels = np.asarray(labels, dtype=np.int32)
    if return_masks:
        return image, boxes, labels, np.asarray(masks, dtype=bool)
    return image, boxes, labels


def render_batch(num_images, image_size=IMAGE_SIZE, max_boxes=MAX_OBJECTS):
    """Renders images `0 .. num_images - 1` (`render_example(index)`) as one padded batch.

    A ready `fit` input for quick experiments, benchmarks and tests, without tfds.

    Args:
        num_images: int. Images in the batch.
        image_size: int. Height and width of the images. Defaults to 128.
        max_boxes: int. Boxes per image after padding; an image's boxes past it are
            dropped. Defaults to `MAX_OBJECTS`, which drops none.

    Returns:
        A tuple `(images, targets)`: `images` float32 `[num_images, image_size,
        image_size, 3]` in `[0, 255]`; `targets` a dict with `"boxes"` float32
        `[num_images, max_boxes, 4]` (normalised yxyx, padded with 0) and
        `"classes"` int32 `[num_images, max_boxes]` (padded with -1).
    """
    images = np.zeros((num_images, image_size, image_size, 3), "float32")
    boxes = np.zeros((num_images, max_boxes, 4), "float32")
    classes = -np.ones((num_images, max_boxes), "int32")
    for index in range(num_images):
        image, image_boxes, labels = render_example(index, image_size=image_size)
        count = min(len(labels), max_boxes)
        images[index] = image
        boxes[index, :count], classes[index, :count] = image_boxes[:count], labels[:count]
    return images, {"boxes": boxes, "classes": classes}


@dataclasses.dataclass
class SyntheticShapesConfig(tfds.core.BuilderConfig):
    """Builder config of `SyntheticShapes`: the number of images per split.

    Example `i` of a split is the same in every config, so a small config holds
    the first images of the default one.

    Args:
        train_size: int. Images in the train split. Defaults to 2000.
        validation_size: int. Images in the validation split. Defaults to 300.
        test_size: int. Images in the test split. Defaults to 300.
    """

    train_size: int = TRAIN_SIZE
    validation_size: int = VALIDATION_SIZE
    test_size: int = TEST_SIZE


class SyntheticShapes(tfds.core.GeneratorBasedBuilder):
    """Imbalanced coloured shapes on noisy backgrounds, rendered without download.

    Features: `image` uint8 `[128, 128, 3]` (PNG), `image/filename`
    (`"train_00042.png"`) and `objects`, a sequence of `bbox` (normalised yxyx,
    tight around the shape's pixels), `label` (`CLASS_NAMES`), `weight` (1.0) and
    `area` (the shape's pixel count, like COCO's segmentation area).

    Configs: `"default"` (2000 / 300 / 300 images) and `"tiny"` (20 / 8 / 8) for
    tests; a custom `SyntheticShapesConfig` with another name also works.

    Example:

    ```python
    builder = SyntheticShapes(data_dir=data_dir, config="tiny")
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(try_download_gcs=False)
    )
    dataset = builder.as_dataset(split="train")
    ```
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    BUILDER_CONFIGS = [
        SyntheticShapesConfig(
            name="default", description="2000 train, 300 validation, 300 test images."
        ),
        SyntheticShapesConfig(
            name="tiny",
            description="20 train, 8 validation, 8 test images, for tests.",
            train_size=20,
            validation_size=8,
            test_size=8,
        ),
    ]
    DEFAULT_BUILDER_CONFIG_NAME = "default"

    @tfds.core.utils.classproperty
    @classmethod
    def code_path(cls):
        # tfds' own lookup imports the `importlib_resources` backport, which
        # tensorflow-datasets 4.9 does not install; the file path is all it needs
        # (to look for a checksums.tsv that this download-free builder lacks).
        return epath.Path(__file__)

    def _info(self):
        return self.dataset_info_from_configs(
            description=(
                "Synthetic detection dataset: circles, squares, triangles, crosses "
                "and rings on noisy textured backgrounds, class frequencies "
                f"{dict(zip(CLASS_NAMES, CLASS_FREQUENCIES))}."
            ),
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(
                        shape=(IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8
                    ),
                    "image/filename": tfds.features.Text(),
                    "objects": tfds.features.Sequence(
                        {
                            "bbox": tfds.features.BBoxFeature(),
                            "label": tfds.features.ClassLabel(names=list(CLASS_NAMES)),
                            "weight": np.float32,
                            "area": np.int64,
                        }
                    ),
                }
            ),
        )

    def _split_generators(self, dl_manager):
        # Everything is rendered locally: the download manager is never used.
        del dl_manager
        config = self.builder_config
        return {
            "train": self._generate_examples("train", config.train_size),
            "validation": self._generate_examples(
                "validation", config.validation_size
            ),
            "test": self._generate_examples("test", config.test_size),
        }

    def _generate_examples(self, split, size):
        for index in range(size):
            image, boxes, labels, masks = render_example(
                example_seed(split, index), IMAGE_SIZE, return_masks=True
            )
            filename = f"{split}_{index:05d}.png"
            yield filename, {
                "image": image,
                "image/filename": filename,
                "objects": {
                    "bbox": boxes,
                    "label": labels.astype(np.int64),
                    "weight": np.ones(len(labels), dtype=np.float32),
                    "area": masks.sum(axis=(1, 2)).astype(np.int64),
                },
            }
