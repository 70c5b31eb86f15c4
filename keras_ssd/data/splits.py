"""Holding out validation images: a seeded, deterministic split by image, stratified by class.

For a package about imbalanced classes a random split is not enough: 6 boxes of a rare
class in 36 images can all land in training, and the best model is then chosen on the
common classes alone. With the images' labels the split is an iterative stratification
(Sechidis, Tsoumakas and Vlahavas 2011, "On the Stratification of Multi-Label Data",
Algorithm 1) over two parts, with one more rule: a class in at least two images keeps at
least one image on each side where the images allow it.
"""

import math

import numpy as np
import tensorflow as tf

from keras_ssd.data.class_statistics import classes_per_image


def held_out_indices(num_images, fraction, seed=0):
    """The image indices that a `fraction` split holds out, sorted.

    `round(fraction * num_images)` images (at least 1, and at least 1 left for
    training) are drawn without replacement by `numpy.random.default_rng(seed)`:
    the same `num_images`, `fraction` and `seed` always hold out the same images.

    Args:
        num_images: int >= 2. Images in the dataset.
        fraction: float in `(0, 1)`. Share of the images held out.
        seed: int. Seed of the draw. Defaults to 0.

    Returns:
        Sorted int64 numpy array of the held-out indices.

    Raises:
        ValueError: if `fraction` is not in `(0, 1)` or there are fewer than 2
            images.

    Example:

    >>> held_out_indices(10, 0.2, seed=0).tolist()
    [6, 7]
    """
    num_held_out = _num_held_out(num_images, fraction)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(num_images, size=num_held_out, replace=False)).astype(np.int64)


def _num_held_out(num_images, fraction):
    """`round(fraction * num_images)`, at least 1 and at most `num_images - 1`; checks both."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0.0 < fraction < 1.0:
        raise ValueError(f"split_by_fraction: fraction must be a number in (0, 1), got {fraction!r}.")
    if isinstance(num_images, bool) or not isinstance(num_images, (int, np.integer)) or num_images < 2:
        raise ValueError(
            f"split_by_fraction: need at least 2 images to hold some out, got {num_images!r}."
        )
    return min(max(int(math.floor(fraction * num_images + 0.5)), 1), num_images - 1)


def stratified_held_out_indices(image_labels, fraction, seed=0):
    """The image indices held out by a split stratified by class, sorted.

    Iterative stratification (Sechidis et al. 2011, Algorithm 1) for two parts, the
    held-out part wanting `fraction` of each class's images and of all images:
    the class with the fewest images left is placed first, each of its images
    going to the part that still wants that class most (then the part that wants
    more images; then a seeded draw). A class in `n >= 2` images wants at least 1
    and at most `n - 1` of them held out, so it appears on both sides wherever its
    images allow it (an image with several classes can make that impossible).
    Exactly `round(fraction * num_images)` images are held out (at least 1, at
    least 1 left), images without boxes filling what is left.

    Args:
        image_labels: sequence of `num_images` sequences of 0-based labels, one per
            image (its boxes' labels; repeats and `-1` padding are ignored).
        fraction: float in `(0, 1)`. Share of the images held out.
        seed: int. Seed of the draws. Defaults to 0.

    Returns:
        Sorted int64 numpy array of the held-out indices.

    Raises:
        ValueError: if `fraction` is not in `(0, 1)` or there are fewer than 2 images.

    Example:

    >>> labels = [[0]] * 8 + [[1]] * 2
    >>> held = stratified_held_out_indices(labels, 0.2, seed=0)
    >>> sorted(set(np.concatenate([labels[index] for index in held]).tolist()))
    [0, 1]
    """
    classes_of = classes_per_image(image_labels)
    num_images = len(classes_of)
    num_held = _num_held_out(num_images, fraction)
    rng = np.random.default_rng(seed)
    num_classes = int(max((classes.max(initial=-1) for classes in classes_of), default=-1)) + 1
    images_of = [[] for _ in range(num_classes)]
    for image in rng.permutation(num_images):
        for label in classes_of[image]:
            images_of[label].append(int(image))
    counts = np.array([len(images) for images in images_of], np.float64)
    held_wanted = counts * fraction
    several = counts >= 2
    held_wanted[several] = np.clip(held_wanted[several], 1.0, counts[several] - 1.0)
    # wanted[0]: training, wanted[1]: held out; per class, then in all.
    wanted = np.stack([counts - held_wanted, held_wanted])
    total = np.array([num_images - num_held, num_held], np.float64)
    part_of = np.full(num_images, -1)
    left = counts.copy()
    while np.any(left > 0):
        label = int(np.flatnonzero(left == left[left > 0].min())[0])
        for image in images_of[label]:
            if part_of[image] >= 0:
                continue
            keys = [(wanted[part, label], total[part], rng.random()) for part in (0, 1)]
            part = int(keys[1] > keys[0])
            if total[part] <= 0:
                part = 1 - part
            part_of[image] = part
            total[part] -= 1
            for other in classes_of[image]:
                wanted[part, other] -= 1
                left[other] -= 1
    for image in rng.permutation(num_images):  # the images without boxes
        if part_of[image] < 0:
            part = int(total[1] > 0 and (total[0] <= 0 or rng.random() < total[1] / total.sum()))
            part_of[image] = part
            total[part] -= 1
    return np.flatnonzero(part_of == 1).astype(np.int64)


def _holds_labels(dataset):
    spec = dataset.element_spec
    return isinstance(spec, dict) and isinstance(spec.get("objects"), dict) and "label" in spec["objects"]


def image_labels(dataset):
    """The labels of each image of a reader dataset, read without decoding images.

    Args:
        dataset: unbatched `tf.data.Dataset` of reader examples
            (`example["objects"]["label"]`), best the `load_images=False` twin.

    Returns:
        list of int64 numpy arrays, one per image.
    """
    labels = dataset.map(lambda example: example["objects"]["label"])
    return [np.asarray(value, np.int64) for value in labels.as_numpy_iterator()]


def classes_missing_from(part_labels, labels, class_names):
    """The names of the classes with boxes in `labels` but none in `part_labels`.

    Args:
        part_labels: per-image labels of one part of a split (`image_labels`).
        labels: per-image labels of all the images.
        class_names: sequence of str, indexed by label.

    Returns:
        list of str, in label order.
    """

    def present(per_image):
        return {int(label) for image in per_image for label in np.asarray(image).reshape(-1) if label >= 0}

    return [class_names[label] for label in sorted(present(labels) - present(part_labels))]


def split_by_fraction(dataset, fraction, seed=0, labels=None):
    """Splits a dataset of images into a training part and a held-out part.

    Stratified by class (`stratified_held_out_indices`) when the images' labels
    are known: given as `labels`, or read from `dataset` when it holds reader
    examples. A dataset without labels is split by a seeded draw
    (`held_out_indices`). Either way the split is deterministic by image position,
    so two datasets of the same images in the same order (the examples and their
    `load_images=False` twin, say) split the same way given the same labels. The
    order inside each part is kept.

    Args:
        dataset: `tf.data.Dataset` of unbatched examples with a known
            cardinality (every keras_ssd reader gives one).
        fraction: float in `(0, 1)`. Share of the images held out.
        seed: int. Seed of the draw. Defaults to 0.
        labels: optional per-image labels (`image_labels` of the dataset or of its
            `load_images=False` twin, which reads no pixels). Defaults to None:
            read from `dataset` if it holds reader examples.

    Returns:
        A tuple `(kept, held_out)` of datasets with known cardinalities.

    Raises:
        ValueError: if the cardinality is unknown, or as `held_out_indices`.

    Example:

    ```python
    dataset, class_names = load_voc_xml("my_voc_folder")
    train, validation = split_by_fraction(dataset, 0.1, seed=0)
    ```
    """
    if not isinstance(dataset, tf.data.Dataset):
        raise ValueError(
            f"split_by_fraction: dataset must be a tf.data.Dataset, got {type(dataset).__name__}."
        )
    num_images = int(dataset.cardinality())
    if num_images < 0:
        raise ValueError(
            "split_by_fraction: the dataset's size is unknown; give it one with "
            "dataset.apply(tf.data.experimental.assert_cardinality(num_images))."
        )
    if labels is None and _holds_labels(dataset):
        labels = image_labels(dataset)
    if labels is None:
        held = held_out_indices(num_images, fraction, seed)
    else:
        if len(labels) != num_images:
            raise ValueError(
                f"split_by_fraction: {len(labels)} per-image labels for {num_images} images."
            )
        held = stratified_held_out_indices(labels, fraction, seed)
    mask = np.zeros(num_images, bool)
    mask[held] = True
    mask = tf.constant(mask)

    def part(hold):
        selected = dataset.enumerate().filter(lambda index, example: mask[index] == hold)
        selected = selected.map(lambda index, example: example)
        size = len(held) if hold else num_images - len(held)
        return selected.apply(tf.data.experimental.assert_cardinality(size))

    return part(False), part(True)
