"""Tests of the seeded, deterministic hold-out split by image."""

import numpy as np
import pytest
import tensorflow as tf

from keras_ssd.data.splits import classes_missing_from
from keras_ssd.data.splits import held_out_indices
from keras_ssd.data.splits import image_labels
from keras_ssd.data.splits import stratified_held_out_indices
from keras_ssd.data.splits import split_by_fraction


def test_held_out_indices_are_seeded_and_sized_by_rounding():
    # round(0.25 * 10) = 2 (2.5 rounds up here: floor(x + 0.5)); rounding 0.01 * 10 gives 0 -> 1.
    assert len(held_out_indices(10, 0.25, seed=0)) == 3
    assert len(held_out_indices(10, 0.01, seed=0)) == 1
    assert len(held_out_indices(2, 0.99, seed=0)) == 1  # one image always left to train on
    np.testing.assert_array_equal(held_out_indices(10, 0.2, seed=0), held_out_indices(10, 0.2, seed=0))
    assert held_out_indices(10, 0.2, seed=0).tolist() == [6, 7]
    assert held_out_indices(100, 0.2, seed=1).tolist() != held_out_indices(100, 0.2, seed=2).tolist()


def test_split_keeps_order_partitions_and_matches_a_twin_dataset():
    numbers = tf.data.Dataset.range(10)
    kept, held = split_by_fraction(numbers, 0.3, seed=1)
    kept, held = list(kept.as_numpy_iterator()), list(held.as_numpy_iterator())
    assert sorted(kept + held) == list(range(10)) and len(held) == 3
    assert held == held_out_indices(10, 0.3, seed=1).tolist() and kept == sorted(kept)
    # A twin with the same images in the same order splits the same way.
    twin_kept, twin_held = split_by_fraction(numbers.map(lambda n: {"id": n * 10}), 0.3, seed=1)
    assert [e["id"] // 10 for e in twin_held.as_numpy_iterator()] == held
    assert int(twin_kept.cardinality()) == 7 and int(twin_held.cardinality()) == 3


def test_bad_input():
    with pytest.raises(ValueError, match=r"fraction must be a number in \(0, 1\), got 1.0"):
        split_by_fraction(tf.data.Dataset.range(4), 1.0)
    with pytest.raises(ValueError, match="at least 2 images"):
        split_by_fraction(tf.data.Dataset.range(1), 0.5)
    with pytest.raises(ValueError, match="size is unknown"):
        split_by_fraction(tf.data.Dataset.range(4).filter(lambda n: n > 0), 0.5)


# The case: 36 images, 6 of them with the rare class, 10% held out.
RARE = [[0]] * 30 + [[1]] * 6


def test_stratified_split_holds_out_the_rare_class_for_every_seed():
    for seed in range(20):
        held = stratified_held_out_indices(RARE, 0.1, seed=seed)
        assert len(held) == 4  # round(0.1 * 36), as the random split
        held_classes = [RARE[index][0] for index in held]
        # Class 1 wants 0.6 of 6 images -> at least 1; class 0 wants 3.
        assert held_classes.count(1) == 1 and held_classes.count(0) == 3
    np.testing.assert_array_equal(
        stratified_held_out_indices(RARE, 0.1, seed=3), stratified_held_out_indices(RARE, 0.1, seed=3)
    )
    assert len({tuple(stratified_held_out_indices(RARE, 0.1, seed=seed)) for seed in range(5)}) > 1


def test_multi_label_images_put_every_class_in_two_or_more_images_on_both_sides():
    rng = np.random.default_rng(0)
    for trial in range(30):
        # 40 images, 0-3 boxes each over 8 classes with a long tail; some images empty.
        labels = [rng.choice(8, size=rng.integers(0, 4), p=np.r_[0.5, 0.2, 0.1, 0.08, 0.05, 0.04, 0.02, 0.01])
                  for _ in range(40)]
        held = stratified_held_out_indices(labels, 0.2, seed=trial)
        assert len(held) == 8
        kept = np.setdiff1d(np.arange(40), held)
        for label in range(8):
            images = [index for index, image in enumerate(labels) if label in image]
            if len(images) < 2:
                continue
            # Possible unless every image of the class is also the only image of another.
            assert set(images) & set(held.tolist()) and set(images) & set(kept.tolist()), (trial, label)


def test_a_class_in_one_image_is_named_when_validation_lacks_it():
    labels = [[0], [0], [0], [0], [1]]
    held = stratified_held_out_indices(labels, 0.2, seed=0)
    held_labels = [labels[index] for index in held]
    missing = classes_missing_from(held_labels, labels, ["car", "bike"])
    assert missing == (["bike"] if 4 not in held else ["car"])
    # Images without boxes fill the held-out part when the classes cannot.
    assert len(stratified_held_out_indices([[0], [], [], [], [0]], 0.6, seed=0)) == 3


def test_split_by_fraction_stratifies_reader_examples_and_their_twin_alike():
    labels = RARE
    examples = tf.data.Dataset.from_generator(
        lambda: ({"image/filename": f"{index}.png", "objects": {"label": np.asarray(label, np.int64)}}
                 for index, label in enumerate(labels)),
        output_signature={"image/filename": tf.TensorSpec((), tf.string),
                          "objects": {"label": tf.TensorSpec((None,), tf.int64)}},
    ).apply(tf.data.experimental.assert_cardinality(len(labels)))
    assert [label.tolist() for label in image_labels(examples)] == labels
    _, held = split_by_fraction(examples, 0.1, seed=2)  # labels read from the examples
    names = [int(example["image/filename"][:-4]) for example in held.as_numpy_iterator()]
    assert names == stratified_held_out_indices(labels, 0.1, seed=2).tolist()
    _, held_given = split_by_fraction(examples.map(lambda e: e["image/filename"]), 0.1, 2, labels)
    assert [int(name[:-4]) for name in held_given.as_numpy_iterator()] == names
    with pytest.raises(ValueError, match="3 per-image labels for 36 images"):
        split_by_fraction(examples, 0.1, 2, labels[:3])
