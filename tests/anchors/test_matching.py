import numpy as np
import pytest
import tensorflow as tf

from keras_ssd.anchors import iou_scan, matching
from keras_ssd.anchors.matching import BACKGROUND, IGNORED, bipartite_match, match_anchors
from tests.anchors import reference_matching


@pytest.fixture(params=["whole_matrix", "chunked_scan"])
def matcher(request, monkeypatch):
    """Runs a test on both paths: small matrices are read whole unless the scan is forced."""
    if request.param == "chunked_scan":
        monkeypatch.setattr(matching, "WHOLE_MATRIX_MAX_CHUNKS", 0)
    return request.param


def test_shared_best_anchor_still_gives_each_box_an_anchor(matcher):
    # Both boxes prefer anchor 0; box 0 has the higher IoU, box 1 falls back to anchor 1.
    iou = np.array([[[0.9, 0.8, 0.0], [0.85, 0.1, 0.0]]], np.float32)
    np.testing.assert_array_equal(bipartite_match(iou), [[0, 1]])
    # Anchor 1 has IoU 0.8 with box 0 but is forced to box 1.
    np.testing.assert_array_equal(match_anchors(iou), [[0, 1, BACKGROUND]])


def test_greedy_order_not_row_order(matcher):
    # Global greedy takes (box 1, anchor 0) = 0.95 first, so box 0 gets anchor 1.
    iou = np.array([[[0.6, 0.5], [0.95, 0.1]]], np.float32)
    np.testing.assert_array_equal(bipartite_match(iou), [[1, 0]])


def test_low_iou_box_still_gets_its_best_anchor(matcher):
    iou = np.array([[[0.1, 0.3, 0.2]]], np.float32)
    np.testing.assert_array_equal(match_anchors(iou), [[BACKGROUND, 0, BACKGROUND]])
    np.testing.assert_array_equal(match_anchors(iou, bipartite=False), [[BACKGROUND] * 3])


def test_ties_go_to_lower_indices(matcher):
    iou = np.array([[[0.3, 0.3, 0.0], [0.3, 0.3, 0.0]]], np.float32)
    np.testing.assert_array_equal(bipartite_match(iou), [[0, 1]])


def test_thresholds_and_ignore_band(matcher):
    iou = np.array([[[0.7, 0.45, 0.2, 0.5]]], np.float32)
    np.testing.assert_array_equal(match_anchors(iou, 0.5, bipartite=False), [[0, BACKGROUND, BACKGROUND, 0]])
    np.testing.assert_array_equal(match_anchors(iou, 0.5, 0.4, bipartite=False), [[0, IGNORED, BACKGROUND, 0]])


def test_empty_image_is_all_background(matcher):
    iou = -np.ones((2, 3, 5), np.float32)  # every box is padding
    np.testing.assert_array_equal(match_anchors(iou), np.full((2, 5), BACKGROUND))
    np.testing.assert_array_equal(bipartite_match(iou), np.full((2, 3), -1))


def test_batched_images_are_independent(matcher):
    iou = np.array([[[0.9, 0.2]], [[0.2, 0.9]]], np.float32)
    np.testing.assert_array_equal(match_anchors(iou), [[0, BACKGROUND], [BACKGROUND, 0]])


def test_matches_brute_force_greedy_on_random_cases(matcher):
    rng = np.random.default_rng(3)
    for _ in range(20):
        iou = rng.uniform(0, 1, (1, 6, 15)).astype(np.float32)
        remaining = iou[0].copy()
        expected = np.full(6, -1)
        for _ in range(6):
            box, anchor = np.unravel_index(np.argmax(remaining), remaining.shape)
            expected[box] = anchor
            remaining[box, :] = -1
            remaining[:, anchor] = -1
        np.testing.assert_array_equal(bipartite_match(iou)[0], expected)


def test_bad_thresholds():
    with pytest.raises(ValueError, match="must not exceed"):
        match_anchors(np.zeros((1, 1, 1), np.float32), 0.5, 0.6)


# Equality with the former dense matcher (tests/anchors/reference_matching.py).


def _random_iou(rng, kind):
    """A `[batch, boxes, anchors]` IoU matrix of one of four kinds, with padding rows."""
    batch, boxes = int(rng.integers(1, 4)), int(rng.integers(1, 20))
    anchors = int(rng.choice([5, 33, 300]))
    shape = (batch, boxes, anchors)
    if kind == "uniform":
        iou = rng.uniform(0, 1, shape)
    elif kind == "ties":  # quarters: many equal values and zeros
        iou = rng.integers(0, 4, shape) / 4.0
    elif kind == "duplicates":  # identical boxes compete for the same anchors
        row = rng.uniform(0, 1, (batch, 1, anchors)) * (rng.uniform(size=(batch, 1, anchors)) < 0.3)
        iou = np.repeat(row, boxes, axis=1)
    else:  # "low": sparse, every IoU under the 0.5 threshold
        iou = rng.uniform(0, 0.4, shape) * (rng.uniform(size=shape) < 0.05)
    padding = rng.uniform(size=(batch, boxes)) < 0.2
    return np.where(padding[..., np.newaxis], -1.0, iou).astype(np.float32)


KINDS = ["uniform", "ties", "duplicates", "low"]


@pytest.mark.parametrize("kind", KINDS)
def test_equals_the_dense_matcher_on_random_cases(kind):
    rng = np.random.default_rng(KINDS.index(kind))
    for _ in range(4):
        iou = _random_iou(rng, kind)
        expected_pairs = np.asarray(reference_matching.bipartite_match(iou))
        expected = np.asarray(reference_matching.match_anchors(iou, 0.5, 0.4))
        for chunk_size in (None, 32, 96):
            np.testing.assert_array_equal(bipartite_match(iou, chunk_size=chunk_size), expected_pairs)
            np.testing.assert_array_equal(
                match_anchors(iou, 0.5, 0.4, chunk_size=chunk_size), expected
            )


@pytest.mark.parametrize("block, num_blocks", [(4, 1), (8, 2)])
def test_equals_the_dense_matcher_when_kept_blocks_run_out(monkeypatch, block, num_blocks):
    # Few, small kept blocks: duplicates and ties exhaust them and force rescans.
    monkeypatch.setattr(iou_scan, "BLOCK", block)
    monkeypatch.setattr(iou_scan, "NUM_BLOCKS", num_blocks)
    monkeypatch.setattr(matching, "BLOCK", block)
    rng = np.random.default_rng(block)
    for kind in KINDS:
        iou = _random_iou(rng, kind)
        expected = np.asarray(reference_matching.match_anchors(iou, 0.5, 0.4))
        for chunk_size in (None, 8):
            np.testing.assert_array_equal(match_anchors(iou, 0.5, 0.4, chunk_size=chunk_size), expected)


def test_rescan_gives_identical_boxes_their_next_anchors(monkeypatch):
    monkeypatch.setattr(matching, "WHOLE_MATRIX_MAX_CHUNKS", 0)
    # Six identical boxes, one kept block of 4 anchors: boxes 4 and 5 only get
    # anchors 4 and 5 from a second scan with anchors 0-3 taken.
    monkeypatch.setattr(iou_scan, "BLOCK", 4)
    monkeypatch.setattr(iou_scan, "NUM_BLOCKS", 1)
    monkeypatch.setattr(matching, "BLOCK", 4)
    row = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.0], np.float32)
    iou = np.tile(row, (1, 6, 1))
    np.testing.assert_array_equal(bipartite_match(iou), [[0, 1, 2, 3, 4, 5]])
    np.testing.assert_array_equal(bipartite_match(iou, chunk_size=4), [[0, 1, 2, 3, 4, 5]])


def test_box_without_positive_iou_gets_nothing_even_after_a_rescan(monkeypatch):
    monkeypatch.setattr(matching, "WHOLE_MATRIX_MAX_CHUNKS", 0)
    monkeypatch.setattr(iou_scan, "BLOCK", 4)
    monkeypatch.setattr(iou_scan, "NUM_BLOCKS", 1)
    monkeypatch.setattr(matching, "BLOCK", 4)
    iou = np.zeros((1, 3, 8), np.float32)
    iou[0, :2, 5] = [0.4, 0.3]  # both want anchor 5, outside their first block
    np.testing.assert_array_equal(bipartite_match(iou), [[5, -1, -1]])


def test_xla_rescans_and_equals_the_dense_matcher(monkeypatch):
    monkeypatch.setattr(iou_scan, "BLOCK", 4)
    monkeypatch.setattr(iou_scan, "NUM_BLOCKS", 1)
    monkeypatch.setattr(matching, "BLOCK", 4)
    # Image 0: six identical boxes, more than one kept block of 4 can serve;
    # each IoU appears twice (anchors k and k + 8), the lower anchor first.
    # Image 1: ties and padding.
    row = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.0, 0.3] * 2, np.float32)
    iou = np.stack([np.tile(row, (6, 1)), np.zeros((6, 16), np.float32)])
    iou[1, :, :] = np.random.default_rng(8).integers(0, 4, (6, 16)) / 4.0
    iou[1, 2] = -1.0
    compiled = tf.function(lambda iou: match_anchors(iou, 0.5, 0.4, chunk_size=8), jit_compile=True)
    expected = reference_matching.match_anchors(iou, 0.5, 0.4)
    np.testing.assert_array_equal(compiled(iou), expected)
    np.testing.assert_array_equal(
        tf.function(lambda iou: bipartite_match(iou, chunk_size=8), jit_compile=True)(iou)[0],
        [0, 8, 1, 9, 2, 10],
    )


def test_one_chunk_is_read_whole_and_equals_the_chunked_scan(monkeypatch):
    rng = np.random.default_rng(11)
    # Quantised IoU (many ties) with padding rows, in 2 images of 40 anchors.
    iou = (rng.integers(0, 5, (2, 7, 40)) / 4.0).astype(np.float32)
    iou[0, 5:] = -1.0
    iou[1, :, 3] = 0.75  # one anchor that every box likes equally
    whole = np.asarray(match_anchors(iou, 0.5, 0.4))
    whole_pairs = np.asarray(bipartite_match(iou))
    compiled = tf.function(lambda iou: match_anchors(iou, 0.5, 0.4), jit_compile=True)
    np.testing.assert_array_equal(compiled(iou), whole)
    np.testing.assert_array_equal(whole, reference_matching.match_anchors(iou, 0.5, 0.4))

    monkeypatch.setattr(matching, "scan_iou", None)  # the whole-matrix path never scans
    np.testing.assert_array_equal(match_anchors(iou, 0.5, 0.4), whole)
    monkeypatch.undo()
    monkeypatch.setattr(matching, "WHOLE_MATRIX_MAX_CHUNKS", 0)
    np.testing.assert_array_equal(match_anchors(iou, 0.5, 0.4), whole)
    np.testing.assert_array_equal(bipartite_match(iou), whole_pairs)
    assert (whole_pairs[0, :5] >= 0).all() and (whole_pairs[0, 5:] == -1).all()


def test_auto_chunk_size_reads_small_problems_whole_and_chunks_large_ones():
    assert matching.resolve_chunk_size("auto", 20, 8732) is None  # SSD300, 20 boxes: 4 MiB cap not reached
    assert matching.resolve_chunk_size("auto", 120, 8732) is None
    assert matching.resolve_chunk_size("auto", 121, 8732) == iou_scan.DEFAULT_CHUNK_SIZE
    assert matching.resolve_chunk_size("auto", 100, 24564) == iou_scan.DEFAULT_CHUNK_SIZE
    assert matching.resolve_chunk_size(96, 100, 24564) == 96
    assert matching.resolve_chunk_size(None, 100, 24564) is None
