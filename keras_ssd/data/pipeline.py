"""From tfds-style detection examples to the padded batches that `SSD.fit` takes.

A tfds-style example is a dict with `"image"` (`[height, width, channels]`, any
numeric dtype, values in `[0, 255]`) and `"objects"`: `"bbox"` `[n, 4]` normalised
`[ymin, xmin, ymax, xmax]`, `"label"` `[n]` and optionally `"weight"` `[n]` (the
layout of the tfds detection datasets and of `synthetic_shapes`).

Padding uses tf ops inside `Dataset.map`: Keras 3.15's `densify_bounding_boxes`
ignores `max_boxes` for a batched ragged Python list and fails on an unbatched one
(tests/data/test_pipeline.py pins this).
"""

import numpy as np
import tensorflow as tf

from keras_ssd.data.box_drops import drop_boxes
# The one box counter lives with the class statistics; imported here for its old home.
from keras_ssd.data.class_statistics import count_boxes_per_class  # noqa: F401

DEFAULT_SHUFFLE_BUFFER = 1000


def _check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(
            f"to_detection_inputs: {name} must be a positive int, got {value!r}."
        )


def _image_hw(image_size):
    if isinstance(image_size, (tuple, list)):
        if len(image_size) != 2:
            raise ValueError(
                f"to_detection_inputs: image_size must be an int or (height, width), "
                f"got {image_size!r}."
            )
        for value in image_size:
            _check_positive_int(value, "image_size")
        return int(image_size[0]), int(image_size[1])
    _check_positive_int(image_size, "image_size")
    return int(image_size), int(image_size)


def _check_example_spec(spec):
    if not isinstance(spec, dict) or "image" not in spec or "objects" not in spec:
        raise ValueError(
            "to_detection_inputs: expected examples that are dicts with 'image' and "
            f"'objects' (tfds layout), got element_spec {spec}."
        )
    objects = spec["objects"]
    if not isinstance(objects, dict) or "bbox" not in objects or "label" not in objects:
        raise ValueError(
            "to_detection_inputs: example['objects'] must be a dict with 'bbox' and "
            f"'label' (and optionally 'weight'), got {objects}."
        )
    image_shape = spec["image"].shape
    if image_shape.rank != 3:
        raise ValueError(
            "to_detection_inputs: expected unbatched examples with an image of shape "
            f"[height, width, channels], got image shape {image_shape} (call "
            "`dataset.unbatch()` first if the dataset is batched)."
        )
    if image_shape[-1] not in (None, 1, 3):
        raise ValueError(
            f"to_detection_inputs: images must have 1 or 3 channels, got "
            f"{image_shape[-1]}."
        )


def _pad_to(tensor, max_boxes, value):
    """Keeps the first `max_boxes` rows of `tensor` and pads it up to `max_boxes`."""
    tensor = tensor[:max_boxes]
    paddings = [[0, max_boxes - tf.shape(tensor)[0]]] + [[0, 0]] * (
        tensor.shape.rank - 1
    )
    return tf.pad(tensor, paddings, constant_values=value)


def to_detection_inputs(
    dataset,
    image_size,
    max_boxes=100,
    batch_size=32,
    shuffle=False,
    seed=None,
    drop_remainder=False,
    augment=None,
    epoch=None,
):
    """Maps tfds-style examples to `(images, {"boxes", "classes", "weights"})` batches.

    Each image is resized (bilinear) to `image_size` as float32 with values in
    `[0, 255]`; grey images are repeated to 3 channels. Boxes are normalised, so
    resizing leaves them unchanged. Boxes, classes and weights are padded to
    `max_boxes` rows: boxes with 0, classes with −1, weights with 0 (see
    docs/conventions.md). An image with more than `max_boxes` boxes keeps its first
    `max_boxes` and drops the rest, so choose `max_boxes` at least the largest
    count in the data (`count_boxes_per_class` helps). Degenerate boxes (zero or
    negative height or width) are dropped too. Both are counted per image in
    `"num_dropped_boxes"`, and `SSD.fit` warns with the totals. Missing weights
    default to 1; boxes flagged `iscrowd` (or `is_crowd`, as raw tfds COCO names
    it) get weight 0, which makes them ignore regions.

    Args:
        dataset: `tf.data.Dataset` of unbatched tfds-style examples.
        image_size: int or `(height, width)`. Size of the output images.
        max_boxes: int. Boxes per image after padding. Defaults to 100.
        batch_size: int. Images per batch. Defaults to 32.
        shuffle: bool or int. Whether to shuffle the examples before batching,
            reshuffled each epoch; an int is the shuffle buffer size (`True` means
            1000). Defaults to `False`.
        seed: optional int. Seed of the shuffle. Defaults to `None`.
        drop_remainder: bool. Whether to drop a last, smaller batch. Defaults to
            `False`.
        augment: optional callable applied to each example after the shuffle and
            before resizing and padding, keeping the example layout (channels
            included): a `keras_ssd.augment.SSDAugmentation` (mapped through its
            `augment_dataset`, one stateless seed per example; one without an
            `image_size` gets `image_size` passed down) or any
            `example -> example` function (a parallel `map`). Defaults to `None`.
        epoch: optional int or int64 scalar tensor. Makes the dataset one epoch
            whose shuffle order and `SSDAugmentation` seeds depend on `(seed, epoch)`
            alone, not on how often the dataset was iterated before: a run resumed
            at epoch `k` then sees what an uninterrupted run sees in epoch `k`
            (`training_epochs` builds a whole run this way). Needs an int `seed`.
            Defaults to `None`: reshuffled at every iteration.

    Returns:
        A prefetched `tf.data.Dataset` of `(images, targets)`: `images` float32
        `[batch, height, width, 3]`, `targets` a dict with `"boxes"` float32
        `[batch, max_boxes, 4]`, `"classes"` int32 `[batch, max_boxes]`,
        `"weights"` float32 `[batch, max_boxes]` and `"num_dropped_boxes"` int32
        `[batch, 2]`: the boxes dropped as degenerate and past `max_boxes`.

    Raises:
        ValueError: if an argument is not a positive int, or the examples do not
            have the tfds layout above.

    Example:

    ```python
    dataset, class_names = load_synthetic_shapes("train")
    train = to_detection_inputs(dataset, 128, max_boxes=8, shuffle=True, seed=1)
    model.fit(train, epochs=10)
    ```
    """
    if not isinstance(dataset, tf.data.Dataset):
        raise ValueError(
            f"to_detection_inputs: dataset must be a tf.data.Dataset, got "
            f"{type(dataset).__name__}."
        )
    height, width = _image_hw(image_size)
    _check_positive_int(max_boxes, "max_boxes")
    _check_positive_int(batch_size, "batch_size")
    if isinstance(shuffle, bool):
        buffer_size = DEFAULT_SHUFFLE_BUFFER if shuffle else 0
    elif isinstance(shuffle, (int, np.integer)) and shuffle >= 0:
        buffer_size = int(shuffle)
    else:
        raise ValueError(
            f"to_detection_inputs: shuffle must be a bool or a buffer size >= 0, got "
            f"{shuffle!r}."
        )
    if epoch is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise ValueError(f"to_detection_inputs: epoch needs an int seed, got seed={seed!r}.")
    spec = dataset.element_spec
    _check_example_spec(spec)
    has_weights = "weight" in spec["objects"]
    grey = spec["image"].shape[-1] == 1
    crowd_keys = [key for key in ("iscrowd", "is_crowd") if key in spec["objects"]]

    def to_inputs(example):
        image = tf.cast(example["image"], tf.float32)
        if grey:
            image = tf.image.grayscale_to_rgb(image)
        image = tf.image.resize(image, (height, width), method="bilinear")
        image = tf.ensure_shape(image, (height, width, 3))
        objects = example["objects"]
        classes = tf.cast(objects["label"], tf.int32)
        if has_weights:
            weights = tf.cast(objects["weight"], tf.float32)
        else:
            weights = tf.ones_like(classes, dtype=tf.float32)
        for key in crowd_keys:
            # Crowd boxes become ignore regions (weight 0, see docs/conventions.md).
            weights = tf.where(tf.cast(objects[key], tf.bool), 0.0, weights)
        boxes = tf.reshape(tf.cast(objects["bbox"], tf.float32), (-1, 4))
        boxes, classes, weights, num_dropped = drop_boxes(boxes, classes, weights, max_boxes)
        targets = {
            "boxes": tf.ensure_shape(_pad_to(boxes, max_boxes, 0.0), (max_boxes, 4)),
            "classes": tf.ensure_shape(_pad_to(classes, max_boxes, -1), (max_boxes,)),
            "weights": tf.ensure_shape(_pad_to(weights, max_boxes, 0.0), (max_boxes,)),
            "num_dropped_boxes": num_dropped,
        }
        return image, targets

    shuffle_seed, augment_seed = seed, None
    if epoch is not None:
        shuffle_seed, augment_seed = epoch_seeds(seed, epoch)
    if buffer_size > 0:
        # Shuffle before decoding to float so the buffer holds the smaller examples.
        dataset = dataset.shuffle(
            buffer_size, seed=shuffle_seed, reshuffle_each_iteration=epoch is None
        )
    if augment is not None:
        if not callable(augment):
            raise ValueError(
                f"to_detection_inputs: augment must be callable, got {type(augment).__name__}."
            )
        from keras_ssd.augment.ssd_augmentation import SSDAugmentation

        if isinstance(augment, SSDAugmentation) and augment.image_size is None:
            # The output size passed down: a zoom out then never makes a patch-sized
            # float image (up to 16x the input's pixels, ~340 MB from a 640x480 photo
            # with the photometric copies; bench/input_pipeline.py) only to resize it.
            augment = SSDAugmentation.from_config({**augment.get_config(), "image_size": (height, width)})
        if hasattr(augment, "augment_dataset"):
            dataset = augment.augment_dataset(dataset, seed=augment_seed)
        else:
            dataset = dataset.map(augment, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.map(to_inputs, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.batch(
        batch_size, drop_remainder=drop_remainder, num_parallel_calls=tf.data.AUTOTUNE
    )
    return dataset.prefetch(tf.data.AUTOTUNE)


def epoch_seeds(seed, epoch):
    """The shuffle seed and the augmentation seed of one epoch of a seeded run.

    Args:
        seed: int. The run's seed.
        epoch: int or int64 scalar tensor. The epoch, counted from 0.

    Returns:
        Two int64 scalar tensors, distinct for every `(seed, epoch)` with `epoch`
        below 2**20.
    """
    mixed = tf.constant(int(seed), tf.int64) * (2**21) + 2 * tf.cast(epoch, tf.int64)
    return mixed, mixed + 1


def training_epochs(
    dataset, image_size, epochs, initial_epoch=0, seed=0, sampler=None, steps_per_epoch=None, **kwargs
):
    """The batches of epochs `initial_epoch` to `epochs - 1` of a seeded training run.

    Each epoch is `to_detection_inputs(dataset, ..., seed=seed, epoch=epoch)`, so the
    shuffle order and the augmentation of an epoch do not depend on where the run
    started: a run stopped after epoch `k` and resumed sees exactly the batches of an
    uninterrupted one. Iterate it across epochs: `fit(..., steps_per_epoch=...)`
    with the number of batches of one epoch.

    Args:
        dataset: `tf.data.Dataset` of unbatched tfds-style examples.
        image_size: int or `(height, width)`. Size of the output images.
        epochs: int. The epoch to stop before.
        initial_epoch: int. The first epoch. Defaults to 0.
        seed: int. The run's seed. Defaults to 0.
        sampler: optional function `(dataset, epoch) -> dataset` choosing the images
            of an epoch before shuffling and augmentation (`epoch` a scalar int64
            tensor), e.g. `repeat_factor_sampling`. Defaults to None: every image once.
        steps_per_epoch: optional int. Batches of every epoch: a sampled epoch of
            another size is cut, or its batches repeated, to exactly this many, so that
            `fit`'s epochs stay the sampler's (and a resumed run replays them).
            Defaults to None: the epoch's own batches.
        **kwargs: the other arguments of `to_detection_inputs` (`shuffle`,
            `augment`, `batch_size`, ...).

    Returns:
        A prefetched `tf.data.Dataset` of `(images, targets)` batches, epoch after
        epoch.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"training_epochs: seed must be an int, got {seed!r}.")
    for value, name in ((epochs, "epochs"), (initial_epoch, "initial_epoch")):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"training_epochs: {name} must be an int >= 0, got {value!r}.")
    # Checks the arguments once, eagerly, with clear errors.
    to_detection_inputs(dataset, image_size, seed=seed, epoch=initial_epoch, **kwargs)

    # Plain Python building a pipeline; AutoGraph would turn its `if`s on tensors.
    @tf.autograph.experimental.do_not_convert
    def one_epoch(epoch):
        # Traced into the flat_map's graph, this sets that graph's seed only. A global
        # seed of 0 (keras.utils.set_random_seed(0)) makes TensorFlow's get_seed
        # compare the epoch's tensor seed in Python, which fails in a graph.
        tf.random.set_seed(int(seed) % (2**31 - 2) + 1)
        examples = dataset if sampler is None else sampler(dataset, epoch)
        batches = to_detection_inputs(examples, image_size, seed=seed, epoch=epoch, **kwargs)
        return batches if steps_per_epoch is None else batches.repeat().take(steps_per_epoch)

    epochs_dataset = tf.data.Dataset.range(initial_epoch, epochs)
    return epochs_dataset.flat_map(one_epoch).prefetch(tf.data.AUTOTUNE)
