"""Warnings, with counts, about inputs that would train silently on something else.

- Images in `[0, 1]` instead of `[0, 255]`: the backbones rescale `[0, 255]`
  pixels themselves, so images already divided by 255 train and predict on a
  nearly black picture without any error. A batch counts when its largest
  pixel is in `(0, 1]` (an all-black batch does not).
- Boxes that `to_detection_inputs` dropped (degenerate, or past `max_boxes`),
  from the targets' `"num_dropped_boxes"`.

The train, test and predict steps add the counts to a variable (an update
that XLA keeps, unlike a Python-side check or an assert); `InputWarning`
reads it after the first batch, after each epoch and at the end, and warns at
most once per `fit`/`evaluate`/`predict` call.
"""

import warnings

import keras
import numpy as np
import tensorflow as tf

# Layout of the counter: what each of the COUNTS entries is.
COUNTS = (
    "batches with pixels in (0, 1]",
    "batches",
    "degenerate boxes dropped",
    "images with degenerate boxes",
    "boxes past max_boxes dropped",
    "images with boxes past max_boxes",
)


class InputCounter:
    """Running `COUNTS`, outside Keras' tracking (not saved, not in the progress bar)."""

    def __init__(self):
        self.variable = keras.Variable(
            np.zeros(len(COUNTS), "int32"),
            dtype="int32",
            trainable=False,
            aggregation="sum",
            synchronization="on_read",
            name="input_warning_counts",
        )
        self.max_boxes = None

    def add(self, images, num_dropped_boxes=None, max_boxes=None):
        """Counts one batch (in-graph).

        Args:
            images: the batch of images.
            num_dropped_boxes: optional int `[batch, 2]` from
                `to_detection_inputs`: boxes dropped as degenerate and past
                `max_boxes`, per image.
            max_boxes: optional int. The targets' padded size (for the message).
        """
        images = tf.nest.flatten(images)[0]
        largest = tf.reduce_max(tf.cast(images, tf.float32))
        unit_range = tf.cast((largest > 0.0) & (largest <= 1.0), tf.int32)
        dropped = tf.zeros([4], tf.int32)
        if num_dropped_boxes is not None:
            self.max_boxes = max_boxes
            num_dropped_boxes = tf.reshape(tf.cast(num_dropped_boxes, tf.int32), [-1, 2])
            boxes = tf.reduce_sum(num_dropped_boxes, axis=0)
            images_hit = tf.reduce_sum(tf.cast(num_dropped_boxes > 0, tf.int32), axis=0)
            dropped = tf.stack([boxes[0], images_hit[0], boxes[1], images_hit[1]])
        self.variable.assign_add(tf.concat([tf.stack([unit_range, 1]), dropped], axis=0))

    def read(self):
        """The counts so far, summed over replicas, as a NumPy array."""
        return np.asarray(keras.ops.convert_to_numpy(self.variable.value))


def describe_input_counts(counts, max_boxes=None):
    """The warnings for `COUNTS`: a dict from kind to message, empty when all is well."""
    low, batches, degenerate, degenerate_images, over, over_images = [
        int(count) for count in counts
    ]
    messages = {}
    if low:
        messages["pixel_range"] = (
            f"SSD: {low} of {batches} image batches so far had every pixel value in "
            "[0, 1]; SSD expects pixels in [0, 255] (the backbone rescales them "
            "itself). Do not divide the images by 255."
        )
    if degenerate:
        messages["degenerate"] = (
            f"SSD: to_detection_inputs dropped {degenerate} ground-truth boxes on "
            f"{degenerate_images} images (in {batches} batches so far) that had zero or "
            "negative height or width (ymax <= ymin or xmax <= xmin)."
        )
    if over:
        messages["max_boxes"] = (
            f"SSD: to_detection_inputs dropped {over} ground-truth boxes on {over_images} "
            f"images (in {batches} batches so far) that were past max_boxes={max_boxes}; "
            "these objects are learnt as background. Raise `max_boxes` of "
            "to_detection_inputs (`count_boxes_per_class` and the readers' box counts "
            "help choose it)."
        )
    return messages


class InputWarning(keras.callbacks.Callback):
    """Issues the `describe_input_counts` warnings at most once per call.

    Args:
        counter: the model's `InputCounter`.
    """

    def __init__(self, counter):
        super().__init__()
        self.counter = counter
        self._baseline = None
        self._warned = set()

        self._training = False

    def _start(self, logs=None):
        self._baseline = self.counter.read()
        self._warned = set()

    on_predict_begin = _start

    def on_train_begin(self, logs=None):
        self._training = True
        self._start()

    def on_test_begin(self, logs=None):
        # Validation inside `fit` continues fit's count: one warning per fit.
        if not self._training:
            self._start()

    def _first_batch(self, batch, logs=None):
        if batch == 0:
            self._check()

    on_train_batch_end = on_test_batch_end = on_predict_batch_end = _first_batch

    def _later(self, *args, **kwargs):
        self._check()

    on_epoch_end = on_test_end = on_predict_end = _later

    def on_train_end(self, logs=None):
        self._check()
        self._training = False

    def _check(self):
        if self._baseline is None:
            return
        counts = self.counter.read() - self._baseline
        messages = describe_input_counts(counts, self.counter.max_boxes)
        for kind, message in messages.items():
            if kind not in self._warned:
                self._warned.add(kind)
                warnings.warn(message, UserWarning, stacklevel=2)
