"""Drops degenerate boxes and counts those that `max_boxes` will cut, in tf ops only.

Two kinds of boxes never reach `SSD.fit`: degenerate ones (zero or negative
height or width, e.g. COCO annotations of width 0; torchvision and mmdetection
drop them too) and those past `max_boxes` on a crowded image, which would
otherwise be learnt as background without a word. `to_detection_inputs` puts
both counts in the targets (`"num_dropped_boxes"`), and `SSD.fit` warns with
the totals (see `keras_ssd.models.input_warnings`). Counting in the data, not
in a Python callback, keeps the pipeline free of `py_function`.
"""

import tensorflow as tf

DROP_REASONS = ("degenerate", "max_boxes")


def drop_boxes(boxes, classes, weights, max_boxes):
    """Drops degenerate boxes and counts the boxes past `max_boxes`.

    Args:
        boxes: float32 `[n, 4]` normalised yxyx.
        classes: int32 `[n]`.
        weights: float32 `[n]`.
        max_boxes: int. Boxes kept per image (the caller keeps the first).

    Returns:
        `(boxes, classes, weights, num_dropped)`: the inputs without the
        degenerate rows and int32 `[2]` counts, `(degenerate, past max_boxes)`.
        NaN boxes are kept so that the ground-truth checks of `SSD.fit` name
        them.
    """
    degenerate = (boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1])
    keep = tf.logical_not(degenerate)
    boxes, classes, weights = (tf.boolean_mask(t, keep) for t in (boxes, classes, weights))
    num_dropped = tf.stack(
        [
            tf.reduce_sum(tf.cast(degenerate, tf.int32)),
            tf.maximum(tf.shape(classes)[0] - max_boxes, 0),
        ]
    )
    return boxes, classes, weights, num_dropped
