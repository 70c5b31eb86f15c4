"""Repeat-factor sampling against hand-computed factors, per-epoch counts and their statistics."""

import math

import numpy as np
import pytest
import tensorflow as tf

from keras_ssd.data.repeat_factor_sampling import epoch_repeats
from keras_ssd.data.repeat_factor_sampling import repeat_factor_sampling
from keras_ssd.data.repeat_factor_sampling import repeat_factors

# 10 images: class 0 in 8 of them, class 1 in 2 (one beside class 0), one image without boxes.
LABELS = [[0], [0, 0], [0], [0], [0], [0], [0], [0, 1], [1, -1], []]


def test_factors_are_lvis_formula_by_image_frequency():
    factors = repeat_factors(LABELS, threshold=0.5)
    # f_0 = 8/10 -> r_0 = max(1, sqrt(0.5 / 0.8)) = 1; f_1 = 2/10 -> r_1 = sqrt(2.5) = 1.5811.
    # An image takes its largest class factor; the image without boxes 1; repeats count once.
    expected = [1.0] * 7 + [math.sqrt(2.5), math.sqrt(2.5), 1.0]
    np.testing.assert_allclose(factors, expected)
    # A threshold below every frequency repeats nothing; LVIS' 0.001 for 1,203 classes.
    np.testing.assert_array_equal(repeat_factors(LABELS, threshold=0.001), np.ones(10))
    with pytest.raises(ValueError, match=r"threshold must be a number in \(0, 1\], got 0"):
        repeat_factors(LABELS, threshold=0)


def test_each_epoch_rounds_stochastically_around_the_factor():
    factors = np.array([1.0, 1.01, 1.5, 2.25, 3.0])
    draws = np.stack([epoch_repeats(factors, seed=7, epoch=epoch).numpy() for epoch in range(2000)])
    # floor(r) always, one more with probability r - floor(r): never ceil.
    assert set(np.unique(draws[:, 0])) == {1} and set(np.unique(draws[:, 4])) == {3}
    assert set(np.unique(draws[:, 2])) == {1, 2} and set(np.unique(draws[:, 3])) == {2, 3}
    # The means within 4 standard errors of the factors (sd of a mean of 2000 Bernoulli draws).
    for column, factor in enumerate(factors):
        fraction = factor - math.floor(factor)
        tolerance = 4 * math.sqrt(fraction * (1 - fraction) / 2000) + 1e-12
        assert abs(draws[:, column].mean() - factor) <= tolerance, (factor, draws[:, column].mean())
    # An image of factor 1.01 is twice in about 1% of the epochs (mmengine's ceil: in all).
    assert 0.002 < np.mean(draws[:, 1] == 2) < 0.025


def test_the_same_seed_and_epoch_give_the_same_epoch_and_others_differ():
    factors = repeat_factors(LABELS, threshold=0.5)
    first = epoch_repeats(factors, seed=3, epoch=5).numpy()
    np.testing.assert_array_equal(first, epoch_repeats(factors, seed=3, epoch=5).numpy())
    assert any(
        not np.array_equal(first, epoch_repeats(factors, seed=3, epoch=other).numpy()) for other in range(6, 16)
    )
    # In a tf.data graph, the epoch is a tensor: the same counts.
    in_graph = tf.data.Dataset.range(5, 6).map(lambda epoch: epoch_repeats(factors, 3, epoch))
    np.testing.assert_array_equal(next(iter(in_graph)).numpy(), first)


def test_an_epoch_emits_each_image_as_often_as_drawn():
    examples = tf.data.Dataset.range(10).map(lambda index: {"id": index})
    factors = repeat_factors(LABELS, threshold=0.5)
    for epoch in range(3):
        ids = [int(example["id"]) for example in repeat_factor_sampling(examples, factors, 1, epoch)]
        counts = epoch_repeats(factors, 1, epoch).numpy()
        assert ids == [index for index in range(10) for _ in range(counts[index])]
    with pytest.raises(ValueError, match="3 repeat factors for 10 examples"):
        repeat_factor_sampling(examples, factors[:3], 1, 0)
