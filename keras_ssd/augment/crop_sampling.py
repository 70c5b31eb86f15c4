"""SSD's "sample a patch" (Liu et al. 2016, section 2.2), vectorised over the trials.

Caffe SSD's `batch_sampler` draws a patch of side scale `s` in `[0.3, 1]` and aspect ratio
`a` in `[max(0.5, s²), min(2, 1 / s²)]` (width `s·√a`, height `s/√a`, in normalised
coordinates, so the patch always fits), up to 50 times, until the patch overlaps some
ground-truth box with IoU at least the sampler's minimum. Here all trials are drawn at once
and the first that qualifies is kept, which is the same distribution as the loop without a
data-dependent `tf.while_loop`. As in ssd.pytorch, a patch also needs the centre of at least
one box inside it, so a crop never turns an image with objects into pure background.

Boxes are normalised `[ymin, xmin, ymax, xmax]` (docs/conventions.md).
"""

import tensorflow as tf

WHOLE_IMAGE = (0.0, 0.0, 1.0, 1.0)


def box_iou(boxes_a, boxes_b):
    """Pairwise IoU `[n, m]` of normalised yxyx boxes `[n, 4]` and `[m, 4]` (0 for empty unions).

    Same numbers as `keras.utils.bounding_boxes.compute_iou(a, b, "yxyx")` (IoU does not
    change when both axes are scaled) in a fifth of its graph ops, which count once per
    example inside `Dataset.map`.
    """
    ymin_a, xmin_a, ymax_a, xmax_a = tf.unstack(boxes_a[:, None, :], axis=-1)
    ymin_b, xmin_b, ymax_b, xmax_b = tf.unstack(boxes_b[None, :, :], axis=-1)
    height = tf.maximum(tf.minimum(ymax_a, ymax_b) - tf.maximum(ymin_a, ymin_b), 0.0)
    width = tf.maximum(tf.minimum(xmax_a, xmax_b) - tf.maximum(xmin_a, xmin_b), 0.0)
    intersection = height * width
    union = (ymax_a - ymin_a) * (xmax_a - xmin_a) + (ymax_b - ymin_b) * (xmax_b - xmin_b) - intersection
    return tf.math.divide_no_nan(intersection, union)


def centres_inside(boxes, regions):
    """`[num_regions, num_boxes]` bool: whether each box's centre lies strictly inside a region."""
    ymin, xmin, ymax, xmax = tf.unstack(boxes[None, :, :], axis=-1)
    top, left, bottom, right = tf.unstack(regions[:, None, :], axis=-1)
    centre_y, centre_x = 0.5 * (ymin + ymax), 0.5 * (xmin + xmax)
    return (centre_y > top) & (centre_y < bottom) & (centre_x > left) & (centre_x < right)


def _snap(start, size, pixels):
    """Rounds a normalised interval to whole pixels of an axis of `pixels` pixels."""
    size_px = tf.clip_by_value(tf.round(size * pixels), 1.0, pixels)
    start_px = tf.clip_by_value(tf.round(start * pixels), 0.0, pixels - size_px)
    return start_px / pixels, (start_px + size_px) / pixels


def sample_crop(
    boxes,
    min_iou,
    seed,
    image_shape=None,
    num_trials=50,
    scale_range=(0.3, 1.0),
    aspect_ratio_range=(0.5, 2.0),
):
    """Samples SSD's crop of one image: a patch with IoU >= `min_iou` with some box.

    Args:
        boxes: float `[num_boxes, 4]` normalised yxyx boxes of the image (`num_boxes` may be
            0).
        min_iou: float scalar (or scalar tensor). A patch must overlap at least one box with
            this IoU and hold at least one box centre; `0` means any patch (still with a box
            centre when the image has boxes); a negative value means the whole image.
        seed: int32 or int64 `[2]` tensor. Seed of the stateless random draws.
        image_shape: optional `(height, width)` ints or tensor. When given, patches are
            rounded to whole pixels of an image of this size before they are checked.
            Defaults to `None`.
        num_trials: int. Patches drawn. Defaults to 50 (Caffe SSD's `max_trials`).
        scale_range: `(low, high)` floats in `(0, 1]`. Range of the side scale `s`.
            Defaults to `(0.3, 1.0)`.
        aspect_ratio_range: `(low, high)` positive floats. Range of width / height, in
            normalised coordinates. Defaults to `(0.5, 2.0)`.

    Returns:
        A tuple `(crop, found)`: `crop` float32 `[4]` normalised yxyx inside `[0, 1]`, the
        first qualifying patch or `[0, 0, 1, 1]` (the whole image) when no trial qualifies
        or `min_iou < 0`; `found` a bool scalar, whether a patch qualified.

    Example:

    ```python
    crop, found = sample_crop([[0.2, 0.2, 0.6, 0.6]], 0.5, seed=tf.constant([0, 1]))
    ```
    """
    boxes = tf.reshape(tf.convert_to_tensor(boxes, tf.float32), (-1, 4))
    min_iou = tf.cast(min_iou, tf.float32)
    # One draw for everything: graph ops count once per example inside Dataset.map.
    draws = tf.random.stateless_uniform([4, num_trials], tf.cast(seed, tf.int64))
    scale = scale_range[0] + (scale_range[1] - scale_range[0]) * draws[0]
    # Caffe's bounds keep both sides <= 1 for any scale.
    low = tf.maximum(aspect_ratio_range[0], scale**2)
    high = tf.maximum(low, tf.minimum(aspect_ratio_range[1], 1.0 / scale**2))
    ratio = low + (high - low) * draws[1]
    height = tf.minimum(scale / tf.sqrt(ratio), 1.0)
    width = tf.minimum(scale * tf.sqrt(ratio), 1.0)
    start_y = (1.0 - height) * draws[2]
    start_x = (1.0 - width) * draws[3]
    if image_shape is None:
        ymin, ymax = start_y, start_y + height
        xmin, xmax = start_x, start_x + width
    else:
        image_shape = tf.cast(image_shape, tf.float32)
        ymin, ymax = _snap(start_y, height, image_shape[0])
        xmin, xmax = _snap(start_x, width, image_shape[1])
    crops = tf.stack([ymin, xmin, ymax, xmax], axis=1)

    num_boxes = tf.shape(boxes)[0]
    overlaps = tf.reduce_any(box_iou(crops, boxes) >= min_iou, axis=1) | (min_iou <= 0.0)
    holds_centre = tf.reduce_any(centres_inside(boxes, crops), axis=1) | (num_boxes == 0)
    valid = overlaps & holds_centre
    found = tf.reduce_any(valid) & (min_iou >= 0.0)
    first = tf.argmax(tf.cast(valid, tf.int32), output_type=tf.int32)
    crop = tf.where(found, crops[first], tf.constant(WHOLE_IMAGE, tf.float32))
    return crop, found
