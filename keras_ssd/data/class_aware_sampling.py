"""Class-aware sampling (CAS): every class drawn equally often, whatever its image count.

Shen, Lin and Huang 2016, "Relay Backpropagation for Effective Learning of Deep
Convolutional Neural Networks", as mmdetection's `ClassAwareSampler` draws it with
`num_sample_class=1` (its Open Images configurations): an epoch has as many draws as
the dataset has images; each draw takes the next class of a shuffled list of the
classes, then the next image of that class's shuffled list of images; a list that runs
out is shuffled again. Images without boxes are never drawn. The draws depend on
`(seed, epoch)` alone.
"""

import numpy as np
import tensorflow as tf

from keras_ssd.data.class_statistics import classes_per_image


class _RandomCycle:
    """The items of a list in a random order, reshuffled each time it runs out."""

    def __init__(self, items, rng):
        self.items = np.asarray(items)
        self.rng = rng
        self.order = rng.permutation(len(self.items))
        self.position = 0

    def __next__(self):
        if self.position == len(self.items):
            self.order = self.rng.permutation(len(self.items))
            self.position = 0
        item = self.items[self.order[self.position]]
        self.position += 1
        return item


def class_aware_indices(image_labels, seed, epoch):
    """The images one epoch draws, in draw order.

    Args:
        image_labels: sequence of per-image label sequences (`splits.image_labels`);
            `-1` padding and repeats are ignored.
        seed: int. The run's seed.
        epoch: int. The epoch.

    Returns:
        int64 numpy array of `len(image_labels)` image indices.

    Raises:
        ValueError: if no image has a box.

    Example:

    >>> indices = class_aware_indices([[0], [0], [0], [1]], seed=0, epoch=0)
    >>> int((indices == 3).sum())  # image 3 holds the only class-1 box: every other draw
    2
    """
    classes_of = classes_per_image(image_labels)
    images_of = {}
    for image, classes in enumerate(classes_of):
        for label in classes.tolist():
            images_of.setdefault(label, []).append(image)
    if not images_of:
        raise ValueError("class_aware_indices: no image has a box, so there is no class to draw.")
    rng = np.random.default_rng([int(seed), int(epoch)])
    classes = _RandomCycle(sorted(images_of), rng)
    images = {label: _RandomCycle(members, rng) for label, members in sorted(images_of.items())}
    return np.array([next(images[next(classes)]) for _ in range(len(classes_of))], np.int64)


def class_aware_sampling(examples, image_labels, seed, epoch):
    """One epoch of `examples` under class-aware sampling, before augmentation.

    Each image is emitted as often as `class_aware_indices` draws it, in dataset
    order; the training pipeline's shuffle mixes them (`to_detection_inputs`).

    Args:
        examples: unbatched `tf.data.Dataset` of `len(image_labels)` examples.
        image_labels: the examples' per-image labels (`splits.image_labels`).
        seed: int. The run's seed.
        epoch: int or int scalar tensor. The epoch (a tensor inside a `tf.data` graph).

    Returns:
        A `tf.data.Dataset` of as many examples as `examples`.
    """
    # Static where it can be known; inside a tf.data graph (a run's epochs) it may not be.
    cardinality = tf.get_static_value(examples.cardinality())
    if cardinality is not None and cardinality >= 0 and cardinality != len(image_labels):
        raise ValueError(
            f"class_aware_sampling: {len(image_labels)} per-image labels for {cardinality} examples."
        )
    image_labels = classes_per_image(image_labels)
    num_images = len(image_labels)

    def draws_per_image(epoch_value):
        indices = class_aware_indices(image_labels, seed, int(epoch_value))
        return np.bincount(indices, minlength=num_images).astype(np.int64)

    # The draws are numpy's; inside a tf.data graph the epoch is a tensor.
    repeats = tf.numpy_function(draws_per_image, [tf.cast(epoch, tf.int64)], tf.int64, stateful=False)
    repeats = tf.ensure_shape(repeats, [num_images])
    sampled = examples.enumerate().flat_map(
        lambda index, example: tf.data.Dataset.from_tensors(example).repeat(repeats[index])
    )
    return sampled.apply(tf.data.experimental.assert_cardinality(num_images))
