"""Anchor-to-box matching of SSD: a bipartite step, then IoU thresholds.

Both steps read the IoU matrix through `iou_scan.scan_iou`, one chunk of
anchors at a time, so neither time nor memory grows faster than boxes x
anchors. The bipartite step is the greedy rule of Caffe SSD, exactly (see
`bipartite_match`); `tests/anchors/reference_matching.py` keeps the former
dense implementation that the tests compare it with. Where the matrix is read
in one chunk (`chunk_size=None`, or `"auto"` up to 2^20 boxes x anchors per
image), `dense_matching.py` matches on it whole instead: the same results in
well under half the time.
"""

import keras
import tensorflow as tf

from keras_ssd.anchors.dense_matching import best_box_of_each_anchor, dense_bipartite_match
from keras_ssd.anchors.iou_scan import BLOCK, DEFAULT_CHUNK_SIZE, padded_size, scan_iou

BACKGROUND = -1
IGNORED = -2
# Up to this many chunks the matrix is read whole (dense_matching.py); the
# tests set 0 to run the chunked scan on small matrices.
WHOLE_MATRIX_MAX_CHUNKS = 1
# Boxes x anchors of one image up to which `chunk_size="auto"` reads the IoU
# matrix whole: 4 MiB of float32 per image. At batch 32 that is faster than the
# chunked scan (SSD300's 8732 anchors with 100 boxes: 171 against 223 ms) for
# about 0.2 GiB more peak memory (bench/scale.py); beyond it memory would grow
# with boxes x anchors, so larger problems are read in chunks.
WHOLE_MATRIX_MAX_ENTRIES = 2**20


def resolve_chunk_size(chunk_size, num_boxes, num_anchors):
    """The chunk size `chunk_size="auto"` stands for; other values are returned as they are.

    Args:
        chunk_size: `"auto"`, an int or None.
        num_boxes: int, boxes per image (padding included).
        num_anchors: int.

    Returns:
        None (the whole matrix at once) where one image's `num_boxes *
        num_anchors` is at most `WHOLE_MATRIX_MAX_ENTRIES`, else
        `DEFAULT_CHUNK_SIZE`, for `"auto"`; `chunk_size` otherwise.
    """
    if chunk_size != "auto":
        return chunk_size
    return None if num_boxes * num_anchors <= WHOLE_MATRIX_MAX_ENTRIES else DEFAULT_CHUNK_SIZE


def _greedy_rounds(values, anchor, num_anchors):
    """Greedy bipartite matching on each box's candidate anchors.

    Each round takes every pair that is the best of both its row (box) and
    its column (anchor) among the entries left, then removes their rows and
    columns; the greedy rule (take the best pair, remove its row and column,
    repeat) takes each such pair whatever the order, so the rounds give its
    result. Missing entries count as absent.

    Args:
        values: `[batch, boxes, entries]` float32 IoU of each candidate; only
            entries > 0 can be taken.
        anchor: `[batch, boxes, entries]` int32 anchor index of each candidate
            (distinct within a row).
        num_anchors: Python int, an upper bound of the anchor indices.

    Returns:
        `(anchor, iou)`, `[batch, boxes]`: each box's anchor (-1 for none) and
        its IoU (-1 for none).
    """
    batch_size, num_boxes = tf.shape(values)[0], values.shape[1]
    box_index = tf.range(num_boxes, dtype=tf.int32)[tf.newaxis, :]
    offset = tf.range(batch_size, dtype=tf.int32)[:, tf.newaxis] * num_anchors
    unused = batch_size * num_anchors  # one extra segment that collects dead entries
    num_segments = unused + 1
    alive = values > 0.0
    entry_column = tf.where(alive, offset[:, :, tf.newaxis] + anchor, unused)

    def take_round(alive, assigned, assigned_iou, free):
        current = tf.where(alive, values, -1.0)
        row_best = tf.reduce_max(current, axis=2)
        row_anchor = tf.reduce_min(
            tf.where(alive & (current == row_best[..., tf.newaxis]), anchor, num_anchors), axis=2
        )
        column = tf.where(alive, entry_column, unused)
        column_best = tf.math.unsorted_segment_max(current, column, num_segments)
        at_best = alive & (current == tf.gather(column_best, column))
        column_box = tf.math.unsorted_segment_min(
            tf.where(at_best, box_index[..., tf.newaxis], num_boxes), column, num_segments
        )
        row_column = tf.where(free, offset + tf.minimum(row_anchor, num_anchors - 1), unused)
        pairs = free & (tf.gather(column_box, row_column) == box_index)
        assigned = tf.where(pairs, row_anchor, assigned)
        assigned_iou = tf.where(pairs, row_best, assigned_iou)
        taken = tf.math.unsorted_segment_max(
            tf.cast(pairs, tf.int32), tf.where(pairs, row_column, unused), num_segments
        )
        alive = alive & ~pairs[..., tf.newaxis] & (tf.gather(taken, column) <= 0)
        free = free & ~pairs & tf.reduce_any(alive, axis=2)
        return alive, assigned, assigned_iou, free

    shape = tf.shape(values)[:2]
    _, assigned, assigned_iou, _ = tf.while_loop(
        lambda alive, assigned, assigned_iou, free: tf.reduce_any(free),
        take_round,
        (alive, tf.fill(shape, -1), tf.fill(shape, -1.0), tf.reduce_any(alive, axis=2)),
        maximum_iterations=num_boxes,
    )
    return assigned, assigned_iou


def _better(value, box, anchor, other_value, other_box, other_anchor):
    """Whether entries (value, box, anchor) precede the others in the greedy order."""
    return (value > other_value) | (
        (value == other_value)
        & ((box < other_box) | ((box == other_box) & (anchor < other_anchor)))
    )


def _bipartite(scan, iou_chunk, batch_size, num_boxes, num_chunks, chunk_size):
    """Greedy bipartite matching from the scan, rescanning where candidates ran out.

    The greedy picks on the kept blocks equal the picks on the whole matrix
    as long as every pick beats the best dropped block of every box still
    waiting. Where that fails for a box, the picks that beat its dropped block
    are still right (they come first in the greedy order); they are kept, their
    rows and anchors are masked and the rest is matched again on a fresh scan.
    Each pass keeps at least the best remaining pair, and usually the first
    pass settles everything.
    """
    num_anchors = num_chunks * chunk_size
    box_index = tf.range(num_boxes, dtype=tf.int32)[tf.newaxis, :]
    batch_rows = tf.range(batch_size)[:, tf.newaxis]

    def match_pass(scan, done, taken, final):
        shape = tf.shape(scan["block_values"])
        values = tf.reshape(scan["block_values"], tf.concat([shape[:2], [-1]], 0))
        anchor = scan["block_index"][..., tf.newaxis] * BLOCK + tf.range(BLOCK, dtype=tf.int32)
        anchor = tf.reshape(anchor, tf.shape(values))
        assigned, assigned_iou = _greedy_rounds(values, anchor, num_anchors)
        dropped_anchor = scan["dropped_block"] * BLOCK
        dropped_value = scan["dropped_value"]
        exact = tf.where(
            assigned >= 0,
            _better(assigned_iou, box_index, assigned, dropped_value, box_index, dropped_anchor),
            dropped_value <= 0.0,
        )
        failed = ~exact & ~done
        # The best dropped block among failing boxes bounds the picks that are sure.
        bound_value = tf.reduce_max(tf.where(failed, dropped_value, -3.0), axis=1, keepdims=True)
        bound_box = tf.reduce_min(
            tf.where(failed & (dropped_value == bound_value), box_index, num_boxes),
            axis=1,
            keepdims=True,
        )
        bound_anchor = tf.gather(
            dropped_anchor, tf.minimum(bound_box, num_boxes - 1), batch_dims=1
        )
        sure = (assigned >= 0) & _better(
            assigned_iou, box_index, assigned, bound_value, bound_box, bound_anchor
        )
        image_failed = tf.reduce_any(failed, axis=1, keepdims=True)
        final = tf.where(sure, assigned, final)
        done = done | sure | ~image_failed
        rows = tf.broadcast_to(batch_rows, tf.shape(assigned))
        taken = tf.tensor_scatter_nd_max(
            taken,
            tf.stack([rows, tf.where(sure, assigned, num_anchors)], axis=-1),
            tf.ones_like(assigned),
        )
        return done, taken, final, tf.reduce_any(image_failed)

    def rescan(done, taken, final, _):
        def masked_chunk(i):
            iou = iou_chunk(i)
            taken_chunk = tf.slice(taken, [0, i * chunk_size], [-1, chunk_size]) > 0
            mask = done[:, :, tf.newaxis] | taken_chunk[:, tf.newaxis, :]
            return tf.where(mask, -1.0, iou)

        scan = scan_iou(
            masked_chunk, batch_size, num_boxes, num_chunks, chunk_size, with_anchor_best=False
        )
        result = match_pass(scan, done, taken, final)
        # The loop needs the static shapes the first pass had.
        return tuple(tf.ensure_shape(value, before.shape) for value, before in zip(result, state))

    rows_shape = tf.stack([batch_size, num_boxes])
    # One spare column collects the writes of rows that take no anchor.
    taken = tf.zeros(tf.stack([batch_size, num_anchors + 1]), tf.int32)
    state = match_pass(scan, tf.zeros(rows_shape, tf.bool), taken, tf.fill(rows_shape, -1))
    _, _, final, _ = tf.while_loop(
        lambda done, taken, final, again: again,
        rescan,
        state,
        maximum_iterations=num_boxes,
    )
    return final


def _threshold_and_force(scan, forced_anchor, num_anchors, positive_threshold, negative_threshold):
    """Step 2 of `match_anchors`, then the bipartite anchors written over it."""
    best_box = scan["anchor_best_box"][:, :num_anchors]
    best_iou = scan["anchor_best_iou"][:, :num_anchors]
    matches = tf.where(best_iou >= positive_threshold, best_box, IGNORED)
    matches = tf.where(best_iou < negative_threshold, BACKGROUND, matches)
    if forced_anchor is None:
        return matches
    batch_size, num_boxes = tf.unstack(tf.shape(forced_anchor))
    # Boxes without an anchor write to an extra column that is dropped.
    columns = tf.where(forced_anchor >= 0, forced_anchor, num_anchors)
    rows = tf.broadcast_to(tf.range(batch_size)[:, tf.newaxis], tf.shape(columns))
    boxes = tf.broadcast_to(tf.range(num_boxes)[tf.newaxis, :], tf.shape(columns))
    padded = tf.pad(matches, [[0, 0], [0, 1]])
    forced = tf.tensor_scatter_nd_update(padded, tf.stack([rows, columns], axis=-1), boxes)
    return forced[:, :num_anchors]


def _check_thresholds(positive_threshold, negative_threshold):
    if negative_threshold is None:
        negative_threshold = positive_threshold
    if negative_threshold > positive_threshold:
        raise ValueError(
            f"negative_threshold ({negative_threshold}) must not exceed "
            f"positive_threshold ({positive_threshold})."
        )
    return negative_threshold


def _chunks_of_matrix(iou, chunk_size):
    """`(iou_chunk, num_chunks, chunk_size)` slicing a dense IoU matrix."""
    num_anchors = iou.shape[2]
    chunk_size, padded = padded_size(num_anchors, chunk_size)
    iou = tf.pad(iou, [[0, 0], [0, 0], [0, padded - num_anchors]], constant_values=-1.0)

    def iou_chunk(i):
        return tf.slice(iou, [0, 0, i * chunk_size], [-1, -1, chunk_size])

    return iou_chunk, padded // chunk_size, chunk_size


def _chunks_of_boxes(boxes, is_box, anchors, chunk_size):
    """`(iou_chunk, num_chunks, chunk_size)` computing IoU one anchor chunk at a time."""
    num_anchors = anchors.shape[0]
    chunk_size, padded = padded_size(num_anchors, chunk_size)
    anchors = tf.pad(anchors, [[0, padded - num_anchors], [0, 0]])
    anchor_valid = tf.range(padded) < num_anchors

    def iou_chunk(i):
        chunk = tf.slice(anchors, [i * chunk_size, 0], [chunk_size, 4])
        iou = tf.cast(keras.utils.bounding_boxes.compute_iou(boxes, chunk, "yxyx"), tf.float32)
        valid = tf.slice(anchor_valid, [i * chunk_size], [chunk_size])
        return tf.where(is_box[:, :, tf.newaxis] & valid[tf.newaxis, tf.newaxis, :], iou, -1.0)

    return iou_chunk, padded // chunk_size, chunk_size


def _match(chunks, batch_size, num_boxes, num_anchors, positive_threshold, negative_threshold, bipartite):
    if num_boxes == 0:
        return tf.fill(tf.stack([batch_size, num_anchors]), BACKGROUND)
    iou_chunk, num_chunks, chunk_size = chunks
    if num_chunks <= WHOLE_MATRIX_MAX_CHUNKS:
        iou = iou_chunk(0)[:, :, :num_anchors]
        best_iou, best_box = best_box_of_each_anchor(iou)
        scan = {"anchor_best_iou": best_iou, "anchor_best_box": best_box}
        forced = dense_bipartite_match(iou) if bipartite else None
        return _threshold_and_force(scan, forced, num_anchors, positive_threshold, negative_threshold)
    scan = scan_iou(iou_chunk, batch_size, num_boxes, num_chunks, chunk_size)
    forced = None
    if bipartite:
        forced = _bipartite(scan, iou_chunk, batch_size, num_boxes, num_chunks, chunk_size)
    return _threshold_and_force(scan, forced, num_anchors, positive_threshold, negative_threshold)


def bipartite_match(iou, chunk_size=None):
    """Gives every box its own anchor, greedily by highest IoU (Caffe SSD).

    The greedy rule takes the pair of highest IoU, removes its row and column
    and repeats while a pair of IoU > 0 is left. Two boxes whose best anchor is
    the same both still get an anchor (the second one its next best), unlike
    the argmax forcing of the TF OD API and torchvision. Ties go to the lower
    box index, then the lower anchor index.

    Args:
        iou: `[batch, num_boxes, num_anchors]` float IoU (static `num_boxes`
            and `num_anchors`); padding boxes have rows of -1. A box with IoU 0
            to every anchor left gets no anchor.
        chunk_size: int or None. Anchors read at a time; None reads all at
            once. The result does not depend on it.

    Returns:
        `[batch, num_boxes]` int32: the anchor given to each box, or -1.
    """
    iou = tf.convert_to_tensor(iou, tf.float32)
    if iou.shape[1] == 0:
        return tf.zeros(tf.stack([tf.shape(iou)[0], 0]), tf.int32)
    chunks = _chunks_of_matrix(iou, chunk_size)
    if chunks[1] <= WHOLE_MATRIX_MAX_CHUNKS:
        return dense_bipartite_match(iou)
    scan = scan_iou(chunks[0], tf.shape(iou)[0], iou.shape[1], chunks[1], chunks[2], False)
    return _bipartite(scan, chunks[0], tf.shape(iou)[0], iou.shape[1], chunks[1], chunks[2])


def match_anchors(
    iou, positive_threshold=0.5, negative_threshold=None, bipartite=True, chunk_size=None
):
    """Matches each anchor to a ground-truth box, to background, or to nothing.

    Step 1 (optional, paper section 2.2): every box gets its own best anchor
    (`bipartite_match`). Step 2: every other anchor whose best IoU is at least
    `positive_threshold` is matched to that box (ties: the lower box index);
    below `negative_threshold` it is background; in between it is ignored.

    Args:
        iou: `[batch, num_boxes, num_anchors]` float IoU; padding rows are -1.
        positive_threshold: float. Defaults to 0.5.
        negative_threshold: float or None. Defaults to `positive_threshold`
            (no ignore band).
        bipartite: bool. Run step 1. Defaults to True.
        chunk_size: int or None. Anchors read at a time; None reads all at
            once. The result does not depend on it.

    Returns:
        `[batch, num_anchors]` int32: the matched box index, `BACKGROUND` (-1)
        or `IGNORED` (-2).
    """
    negative_threshold = _check_thresholds(positive_threshold, negative_threshold)
    iou = tf.convert_to_tensor(iou, tf.float32)
    return _match(
        _chunks_of_matrix(iou, chunk_size),
        tf.shape(iou)[0],
        iou.shape[1],
        iou.shape[2],
        positive_threshold,
        negative_threshold,
        bipartite,
    )


def match_boxes(
    boxes,
    is_box,
    anchors,
    positive_threshold=0.5,
    negative_threshold=None,
    bipartite=True,
    chunk_size="auto",
):
    """`match_anchors` on the IoU of boxes and anchors, computed chunk by chunk.

    Equal to `match_anchors(iou)` with `iou` from
    `keras.utils.bounding_boxes.compute_iou(boxes, anchors, "yxyx")` and rows
    of padding boxes set to -1, without ever holding that matrix: memory is
    bounded by one `[batch, num_boxes, chunk_size]` chunk.

    Args:
        boxes: `[batch, num_boxes, 4]` float32 normalised yxyx (static `num_boxes`).
        is_box: `[batch, num_boxes]` bool, False for padding.
        anchors: `[num_anchors, 4]` float32 normalised yxyx (static `num_anchors`).
        positive_threshold: float. As in `match_anchors`. Defaults to 0.5.
        negative_threshold: float or None. As in `match_anchors`. Defaults
            to `positive_threshold`.
        bipartite: bool. As in `match_anchors`. Defaults to True.
        chunk_size: int, None or `"auto"`. Anchors per chunk; None for all
            at once; `"auto"` holds all at once up to 2^20 boxes x anchors per
            image, else chunks of 2048 (`resolve_chunk_size`). The result does
            not depend on it. Defaults to `"auto"`.

    Returns:
        `[batch, num_anchors]` int32, as `match_anchors`.
    """
    negative_threshold = _check_thresholds(positive_threshold, negative_threshold)
    boxes = tf.convert_to_tensor(boxes, tf.float32)
    anchors = tf.convert_to_tensor(anchors, tf.float32)
    chunk_size = resolve_chunk_size(chunk_size, boxes.shape[1], anchors.shape[0])
    return _match(
        _chunks_of_boxes(boxes, is_box, anchors, chunk_size),
        tf.shape(boxes)[0],
        boxes.shape[1],
        anchors.shape[0],
        positive_threshold,
        negative_threshold,
        bipartite,
    )
