"""Tests of the miners' shared selection: `keep_highest` and where it sorts."""

import numpy as np
import pytest
import tensorflow as tf

from keras_ssd.losses.mining import keep_highest
from keras_ssd.utils.xla import compiling_with_xla


def reference_keep_highest(scores, num_keep):
    """Per row: the `k` largest scores, equal scores taken by lower index."""
    kept = np.zeros(scores.shape, bool)
    for row, k in enumerate(num_keep):
        kept[row, np.argsort(-scores[row], kind="stable")[:k]] = True
    return kept


def tied_scores(seed, batch=5, num_anchors=300):
    """Few distinct values (many ties), some negative, and some -inf (mining's non-negatives)."""
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 6, (batch, num_anchors)).astype(np.float32)
    scores[rng.random((batch, num_anchors)) < 0.2] = -np.inf
    scores[rng.random((batch, num_anchors)) < 0.1] *= -1.0  # negatives, and -0.0 beside 0.0
    return scores


@pytest.mark.parametrize("seed", [0, 1])
def test_keep_highest_matches_a_stable_sort_eager_in_graph_and_under_xla(seed):
    scores = tied_scores(seed)
    finite = np.isfinite(scores).sum(axis=1)
    # Nothing, everything finite, one, and a count that splits a group of ties.
    num_keep = np.array([0, finite[1], 1, 37, finite[4] // 2], np.int32)
    expected = reference_keep_highest(scores, num_keep)
    graph = tf.function(keep_highest)
    compiled = tf.function(keep_highest, jit_compile=True)
    for run in (keep_highest, graph, compiled):
        np.testing.assert_array_equal(np.asarray(run(scores, num_keep)), expected)
    assert expected.sum() == num_keep.sum()


def test_keep_highest_takes_zero_and_negative_zero_as_equal():
    scores = np.array([[-0.0, 0.0, -0.0, 0.0, -1.0]], np.float32)
    for run in (keep_highest, tf.function(keep_highest, jit_compile=True)):
        np.testing.assert_array_equal(np.asarray(run(scores, np.array([2], np.int32))), [[1, 1, 0, 0, 0]])


def test_keep_highest_of_float16_scores_under_xla():
    # Mixed precision may hand float16 losses to a miner of one's own.
    scores = np.array([[0.5, 2.0, -1.0, 2.0, 0.25]], np.float16)
    compiled = tf.function(keep_highest, jit_compile=True)
    np.testing.assert_array_equal(np.asarray(compiled(scores, np.array([3], np.int32))), [[1, 1, 0, 1, 0]])


def test_keep_highest_of_nothing_and_of_an_empty_batch():
    # An empty batch is a replica's share of a last batch smaller than the replica count.
    for run in (keep_highest, tf.function(keep_highest, jit_compile=True)):
        kept = np.asarray(run(np.zeros((2, 5), np.float32), np.zeros(2, np.int32)))
        np.testing.assert_array_equal(kept, np.zeros((2, 5), bool))
        assert np.asarray(run(np.zeros((0, 5), np.float32), np.zeros(0, np.int32))).shape == (0, 5)


def test_keep_highest_sorts_only_the_kept_anchors_outside_xla():
    # The fast form: a top_k whose k is computed from num_keep, not a sort of every anchor.
    scores = tf.TensorSpec([None, 300], tf.float32)
    counts = tf.TensorSpec([None], tf.int32)
    graph = tf.function(keep_highest).get_concrete_function(scores, counts).graph
    top_ks = [op for op in graph.get_operations() if op.type == "TopKV2"]
    assert len(top_ks) == 1 and top_ks[0].inputs[1].op.type != "Const"


def test_compiling_with_xla_sees_jit_compile_also_around_a_nested_function():
    seen = []

    def probe(x):
        seen.append(compiling_with_xla())
        return x

    tf.function(probe, jit_compile=True)(tf.constant(1.0))
    tf.function(probe)(tf.constant(2.0))
    inner = tf.function(probe)
    tf.function(lambda x: inner(x), jit_compile=True)(tf.constant(3.0))
    probe(tf.constant(4.0))
    assert seen == [True, False, True, False]
