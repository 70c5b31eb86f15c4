"""Class-aware sampling: classes drawn uniformly, images within a class in cycles, seeded by epoch."""

import numpy as np
import pytest
import tensorflow as tf

from keras_ssd.data.class_aware_sampling import class_aware_indices
from keras_ssd.data.class_aware_sampling import class_aware_sampling

# 12 images: class 0 in 8, class 1 in 3 (one beside class 0), class 2 in 1; one image empty.
LABELS = [[0]] * 7 + [[0, 1], [1], [1, -1], [2], []]


def _class_draws(indices, labels, label):
    return sum(label in labels[index] for index in indices)


def test_an_epoch_has_the_dataset_length_and_never_an_image_without_boxes():
    indices = class_aware_indices(LABELS, seed=0, epoch=0)
    assert len(indices) == 12 and 11 not in indices.tolist()


def test_classes_are_drawn_uniformly_and_a_class_cycles_through_its_images():
    draws = np.concatenate([class_aware_indices(LABELS, seed=1, epoch=epoch) for epoch in range(300)])
    # Each draw picks a class first: 3600 draws, 1200 per class. A class-0 draw can land on
    # image 7 (which also has class 1), so count the draws by the class that was picked:
    # images 0-6 are only class 0, 8-9 only class 1, 10 only class 2.
    only_2 = np.sum(draws == 10)
    assert only_2 == 1200  # 12 draws an epoch, classes in cycles of 3: exactly 4 per epoch
    only_0, only_1, shared = np.isin(draws, range(7)).sum(), np.isin(draws, [8, 9]).sum(), np.sum(draws == 7)
    assert only_0 + only_1 + shared == 2400
    # Class 0's draws split 7:1 over its 8 images, class 1's 2:1 over its 3 (the shared
    # image is in both cycles): 1200/8 + 1200/3 = 550 expected draws of image 7.
    assert abs(shared - 550) <= 60 and abs(only_0 - 1050) <= 60 and abs(only_1 - 800) <= 60
    # Within an epoch, the class-2 image is drawn once per cycle of the three classes.
    epoch = class_aware_indices(LABELS, seed=1, epoch=0)
    assert np.sum(epoch == 10) == 4


def test_the_same_seed_and_epoch_draw_the_same_and_other_epochs_differ():
    first = class_aware_indices(LABELS, seed=5, epoch=2)
    np.testing.assert_array_equal(first, class_aware_indices(LABELS, seed=5, epoch=2))
    assert any(not np.array_equal(first, class_aware_indices(LABELS, 5, other)) for other in range(3, 10))
    assert not np.array_equal(class_aware_indices(LABELS, 0, 1), class_aware_indices(LABELS, 1, 0))


def test_an_epoch_emits_each_image_as_often_as_drawn():
    examples = tf.data.Dataset.range(12).map(lambda index: {"id": index})
    sampled = class_aware_sampling(examples, LABELS, seed=2, epoch=0)
    assert int(sampled.cardinality()) == 12
    ids = [int(example["id"]) for example in sampled]
    counts = np.bincount(class_aware_indices(LABELS, 2, 0), minlength=12)
    assert ids == [index for index in range(12) for _ in range(counts[index])]
    with pytest.raises(ValueError, match="no image has a box"):
        class_aware_indices([[], [-1]], 0, 0)
    with pytest.raises(ValueError, match="3 per-image labels for 12 examples"):
        class_aware_sampling(examples, LABELS[:3], 0, 0)
