"""Tests of the seeded, deterministic hold-out split by image."""

import numpy as np
import pytest
import tensorflow as tf

from keras_ssd.data.splits import held_out_indices
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
