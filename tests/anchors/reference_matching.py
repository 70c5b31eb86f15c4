"""The former dense matcher, kept as the oracle of `keras_ssd.anchors.matching`.

It holds the whole `[batch, boxes, anchors]` IoU matrix and runs greedy
rounds over all of it; the tests check that the chunked matcher gives exactly
its results. Not used by the package.
"""

import tensorflow as tf

BACKGROUND = -1
IGNORED = -2


def _take_columns(iou, pairs, anchor):
    """Sets the rows of `pairs` and the columns of their anchors to -1."""
    taken_anchor = tf.where(pairs, anchor, -1)
    taken_columns = tf.reduce_any(
        tf.one_hot(taken_anchor, tf.shape(iou)[2], on_value=True, off_value=False), axis=1
    )
    taken = pairs[:, :, tf.newaxis] | taken_columns[:, tf.newaxis, :]
    return tf.where(taken, -1.0, iou)


def bipartite_match(iou):
    """Gives every box its own anchor, greedily by highest IoU (Caffe SSD).

    The greedy rule takes the pair of highest IoU, removes its row and column
    and repeats. Each pair that is the best of both its row and its column is
    one the greedy rule takes, whatever the order, so each round here takes all
    such pairs at once. Usually the first round settles every box, and it
    reads the full `[batch, boxes, anchors]` matrix only once (a row argmax);
    the column test needs only the `boxes` columns the rows chose.
    Two boxes whose best anchor is the same both still get an anchor (the
    second one its next best), unlike the argmax forcing of the TF OD API and
    torchvision. Ties go to the lower box index, then the lower anchor index.

    Args:
        iou: `[batch, num_boxes, num_anchors]` float IoU; padding boxes have
            rows of -1. A box with IoU 0 to every anchor left gets no anchor.

    Returns:
        `[batch, num_boxes]` int32: the anchor given to each box, or -1.
    """
    iou = tf.convert_to_tensor(iou, tf.float32)
    num_boxes = tf.shape(iou)[1]
    box_index = tf.range(num_boxes, dtype=tf.int32)[tf.newaxis, :]

    def take_round(iou, assigned, free):
        best_anchor = tf.argmax(iou, axis=2, output_type=tf.int32)
        chosen_columns = tf.gather(iou, best_anchor, axis=2, batch_dims=1)
        best_value = tf.linalg.diag_part(chosen_columns)
        best_box_of_anchor = tf.argmax(chosen_columns, axis=1, output_type=tf.int32)
        pairs = free & (best_box_of_anchor == box_index) & (best_value > 0.0)
        assigned = tf.where(pairs, best_anchor, assigned)
        free = free & ~pairs & (best_value > 0.0)
        iou = tf.cond(
            tf.reduce_any(free), lambda: _take_columns(iou, pairs, best_anchor), lambda: iou
        )
        return iou, assigned, free

    _, assigned, _ = tf.while_loop(
        lambda iou, assigned, free: tf.reduce_any(free),
        take_round,
        (iou, tf.fill(tf.shape(iou)[:2], -1), tf.ones(tf.shape(iou)[:2], tf.bool)),
        maximum_iterations=num_boxes,
    )
    return assigned


def match_anchors(iou, positive_threshold=0.5, negative_threshold=None, bipartite=True):
    """Matches each anchor to a ground-truth box, to background, or to nothing.

    Step 1 (optional, paper section 2.2): every box gets its own best anchor
    (`bipartite_match`). Step 2: every other anchor whose best IoU is at least
    `positive_threshold` is matched to that box; below `negative_threshold` it
    is background; in between it is ignored.

    Args:
        iou: `[batch, num_boxes, num_anchors]` float IoU; padding rows are -1.
        positive_threshold: float. Defaults to 0.5.
        negative_threshold: float or None. Defaults to `positive_threshold`
            (no ignore band).
        bipartite: bool. Run step 1. Defaults to True.

    Returns:
        `[batch, num_anchors]` int32: the matched box index, `BACKGROUND` (-1)
        or `IGNORED` (-2).
    """
    if negative_threshold is None:
        negative_threshold = positive_threshold
    if negative_threshold > positive_threshold:
        raise ValueError(
            f"negative_threshold ({negative_threshold}) must not exceed "
            f"positive_threshold ({positive_threshold})."
        )
    iou = tf.convert_to_tensor(iou, tf.float32)
    best_box = tf.argmax(iou, axis=1, output_type=tf.int32)
    best_iou = tf.reduce_max(iou, axis=1)
    matches = tf.where(best_iou >= positive_threshold, best_box, IGNORED)
    matches = tf.where(best_iou < negative_threshold, BACKGROUND, matches)
    if not bipartite:
        return matches
    forced_anchor = bipartite_match(iou)
    batch_size, num_boxes, num_anchors = tf.unstack(tf.shape(iou))
    # Boxes without an anchor write to an extra column that is dropped.
    columns = tf.where(forced_anchor >= 0, forced_anchor, num_anchors)
    rows = tf.broadcast_to(tf.range(batch_size)[:, tf.newaxis], tf.shape(columns))
    boxes = tf.broadcast_to(tf.range(num_boxes)[tf.newaxis, :], tf.shape(columns))
    padded = tf.pad(matches, [[0, 0], [0, 1]])
    forced = tf.tensor_scatter_nd_update(
        padded, tf.stack([rows, columns], axis=-1), boxes
    )
    return forced[:, :num_anchors]
