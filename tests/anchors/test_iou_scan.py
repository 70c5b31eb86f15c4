import numpy as np
import pytest
import tensorflow as tf

from keras_ssd.anchors import iou_scan
from keras_ssd.anchors.iou_scan import padded_size, scan_iou


@pytest.mark.parametrize(
    "num_anchors, chunk_size, expected",
    [(8732, 2048, (2048, 10240)), (8732, None, (8736, 8736)), (5, 3, (32, 32)), (100, 40, (64, 128))],
)
def test_padded_size(num_anchors, chunk_size, expected):
    assert padded_size(num_anchors, chunk_size) == expected


def _scan(iou, chunk_size):
    iou = tf.constant(iou, tf.float32)

    def iou_chunk(i):
        return tf.slice(iou, [0, 0, i * chunk_size], [-1, -1, chunk_size])

    num_chunks = iou.shape[2] // chunk_size
    return scan_iou(iou_chunk, tf.shape(iou)[0], iou.shape[1], num_chunks, chunk_size)


@pytest.mark.parametrize("chunk_size", [4, 8, 16])
def test_kept_and_dropped_blocks_by_hand(monkeypatch, chunk_size):
    monkeypatch.setattr(iou_scan, "BLOCK", 4)
    monkeypatch.setattr(iou_scan, "NUM_BLOCKS", 2)
    # Block maxima 0.3, 0.9, 0.5, 0.9: blocks 1 and 3 are kept (0.9 each, the
    # lower index first), block 2 (0.5) is the best dropped one.
    row = [0.3, 0, 0, 0, 0, 0.9, 0.2, 0, 0.5, 0, 0, 0.1, 0, 0, 0, 0.9]
    iou = np.array([[row, [-1.0] * 16]], np.float32)
    scan = _scan(iou, chunk_size)
    np.testing.assert_array_equal(scan["block_index"][0, 0], [1, 3])
    np.testing.assert_allclose(scan["block_values"][0, 0], [row[4:8], row[12:16]])
    np.testing.assert_allclose(scan["dropped_value"][0], [0.5, -1.0])
    np.testing.assert_array_equal(scan["dropped_block"][0, 0], 2)
    # Per anchor: the best IoU over boxes and its box (the padding row is -1).
    np.testing.assert_allclose(scan["anchor_best_iou"][0], row)
    np.testing.assert_array_equal(scan["anchor_best_box"][0], np.zeros(16))


def test_anchor_ties_go_to_the_lower_box():
    iou = np.array([[[0.5, 0.2, 0.0, 0.0], [0.5, 0.7, 0.0, 0.0]]], np.float32)
    scan = _scan(np.pad(iou, [[0, 0], [0, 0], [0, 28]]), 32)
    np.testing.assert_array_equal(scan["anchor_best_box"][0, :4], [0, 1, 0, 0])
    np.testing.assert_allclose(scan["anchor_best_iou"][0, :4], [0.5, 0.7, 0.0, 0.0])
