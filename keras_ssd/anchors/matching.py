"""Anchor-to-box matching of SSD: a bipartite step, then IoU thresholds."""

import tensorflow as tf

BACKGROUND = -1
IGNORED = -2


def _mutual_best_pairs(iou):
    """Finds pairs that are each other's best in what is left of `iou`.

    Args:
        iou: `[batch, num_boxes, num_anchors]`, taken rows and columns set to -1.

    Returns:
        A `[batch, num_boxes]` bool of rows that pair now and their
        `[batch, num_boxes]` int32 anchor index.
    """
    best_anchor = tf.argmax(iou, axis=2, output_type=tf.int32)
    best_value = tf.reduce_max(iou, axis=2)
    best_box_of_anchor = tf.argmax(iou, axis=1, output_type=tf.int32)
    box_index = tf.range(tf.shape(iou)[1], dtype=tf.int32)[tf.newaxis, :]
    mutual = tf.gather(best_box_of_anchor, best_anchor, batch_dims=1) == box_index
    return mutual & (best_value > 0.0), best_anchor


def bipartite_match(iou):
    """Gives every box its own anchor, greedily by highest IoU (Caffe SSD).

    The greedy rule takes the pair of highest IoU, removes its row and column
    and repeats. Each pair that is the best of both its row and its column is
    one the greedy rule takes, whatever the order, so each round here takes all
    such pairs at once; usually one round settles every box. Two boxes whose
    best anchor is the same both still get an anchor (the second one its next
    best), unlike the argmax forcing of the TF OD API and torchvision.
    Ties go to the lower box index, then the lower anchor index.

    Args:
        iou: `[batch, num_boxes, num_anchors]` float IoU; padding boxes have
            rows of -1. A box with IoU 0 to every anchor gets no anchor.

    Returns:
        `[batch, num_boxes]` int32: the anchor given to each box, or -1.
    """
    iou = tf.convert_to_tensor(iou, tf.float32)
    num_anchors = tf.shape(iou)[2]
    assigned = tf.fill(tf.shape(iou)[:2], -1)

    def not_done(iou, assigned):
        return tf.reduce_any(iou > 0.0)

    def take_round(iou, assigned):
        pairs, anchor = _mutual_best_pairs(iou)
        assigned = tf.where(pairs, anchor, assigned)
        taken_columns = tf.reduce_any(
            tf.one_hot(tf.where(pairs, anchor, -1), num_anchors, on_value=True, off_value=False),
            axis=1,
        )
        taken = pairs[:, :, tf.newaxis] | taken_columns[:, tf.newaxis, :]
        return tf.where(taken, -1.0, iou), assigned

    _, assigned = tf.while_loop(
        not_done,
        take_round,
        (iou, assigned),
        maximum_iterations=tf.shape(iou)[1],
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
    forced = tf.one_hot(forced_anchor, tf.shape(iou)[2], on_value=True, off_value=False)
    is_forced = tf.reduce_any(forced, axis=1)
    forced_box = tf.argmax(tf.cast(forced, tf.int32), axis=1, output_type=tf.int32)
    return tf.where(is_forced, forced_box, matches)
