"""Holding out validation images: a seeded, deterministic split by image."""

import math

import numpy as np
import tensorflow as tf


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
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0.0 < fraction < 1.0:
        raise ValueError(f"split_by_fraction: fraction must be a number in (0, 1), got {fraction!r}.")
    if isinstance(num_images, bool) or not isinstance(num_images, (int, np.integer)) or num_images < 2:
        raise ValueError(
            f"split_by_fraction: need at least 2 images to hold some out, got {num_images!r}."
        )
    num_held_out = min(max(int(math.floor(fraction * num_images + 0.5)), 1), num_images - 1)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(num_images, size=num_held_out, replace=False)).astype(np.int64)


def split_by_fraction(dataset, fraction, seed=0):
    """Splits a dataset of images into a training part and a held-out part.

    Deterministic by image position (`held_out_indices`), so two datasets of the
    same images in the same order (the examples and their `load_images=False`
    twin, say) split the same way. The order inside each part is kept.

    Args:
        dataset: `tf.data.Dataset` of unbatched examples with a known
            cardinality (every keras_ssd reader gives one).
        fraction: float in `(0, 1)`. Share of the images held out.
        seed: int. Seed of the draw. Defaults to 0.

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
    held = held_out_indices(num_images, fraction, seed)
    mask = np.zeros(num_images, bool)
    mask[held] = True
    mask = tf.constant(mask)

    def part(hold):
        selected = dataset.enumerate().filter(lambda index, example: mask[index] == hold)
        selected = selected.map(lambda index, example: example)
        size = len(held) if hold else num_images - len(held)
        return selected.apply(tf.data.experimental.assert_cardinality(size))

    return part(False), part(True)
