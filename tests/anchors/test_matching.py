import numpy as np
import pytest

from keras_ssd.anchors.matching import BACKGROUND, IGNORED, bipartite_match, match_anchors


def test_shared_best_anchor_still_gives_each_box_an_anchor():
    # Both boxes prefer anchor 0; box 0 has the higher IoU, box 1 falls back to anchor 1.
    iou = np.array([[[0.9, 0.8, 0.0], [0.85, 0.1, 0.0]]], np.float32)
    np.testing.assert_array_equal(bipartite_match(iou), [[0, 1]])
    # Anchor 1 has IoU 0.8 with box 0 but is forced to box 1.
    np.testing.assert_array_equal(match_anchors(iou), [[0, 1, BACKGROUND]])


def test_greedy_order_not_row_order():
    # Global greedy takes (box 1, anchor 0) = 0.95 first, so box 0 gets anchor 1.
    iou = np.array([[[0.6, 0.5], [0.95, 0.1]]], np.float32)
    np.testing.assert_array_equal(bipartite_match(iou), [[1, 0]])


def test_low_iou_box_still_gets_its_best_anchor():
    iou = np.array([[[0.1, 0.3, 0.2]]], np.float32)
    np.testing.assert_array_equal(match_anchors(iou), [[BACKGROUND, 0, BACKGROUND]])
    np.testing.assert_array_equal(match_anchors(iou, bipartite=False), [[BACKGROUND] * 3])


def test_ties_go_to_lower_indices():
    iou = np.array([[[0.3, 0.3, 0.0], [0.3, 0.3, 0.0]]], np.float32)
    np.testing.assert_array_equal(bipartite_match(iou), [[0, 1]])


def test_thresholds_and_ignore_band():
    iou = np.array([[[0.7, 0.45, 0.2, 0.5]]], np.float32)
    np.testing.assert_array_equal(match_anchors(iou, 0.5, bipartite=False), [[0, BACKGROUND, BACKGROUND, 0]])
    np.testing.assert_array_equal(match_anchors(iou, 0.5, 0.4, bipartite=False), [[0, IGNORED, BACKGROUND, 0]])


def test_empty_image_is_all_background():
    iou = -np.ones((2, 3, 5), np.float32)  # every box is padding
    np.testing.assert_array_equal(match_anchors(iou), np.full((2, 5), BACKGROUND))
    np.testing.assert_array_equal(bipartite_match(iou), np.full((2, 3), -1))


def test_batched_images_are_independent():
    iou = np.array([[[0.9, 0.2]], [[0.2, 0.9]]], np.float32)
    np.testing.assert_array_equal(match_anchors(iou), [[0, BACKGROUND], [BACKGROUND, 0]])


def test_matches_brute_force_greedy_on_random_cases():
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
