"""SSD's training augmentation (Liu et al. 2016, section 2.2), box-aware, inside `tf.data`.

Order, as in Caffe SSD and ssd.pytorch: zoom out (expand onto a canvas filled with the mean
pixel), sample a patch (`crop_sampling.sample_crop`), resize, horizontal flip, photometric
distortions. The expand, the crop and the resize are one `tf.image.crop_and_resize` of the
original image, so an expanded canvas (up to 16x the pixels) is never built and the cost
follows the output size. The photometric distortions run last, on the output image, for the
same reason; the reference implementations run them first, which only differs in that the
fill of an expanded canvas is distorted with the image here and contrast uses the mean of
the output image.

Why not Keras' layers: their randomness comes from a stateful `SeedGenerator` (per-example
seed tensors are not accepted), so a parallel map is not reproducible; and Keras 3.15.1's
`RandomCrop` moves boxes wrongly (x and y offsets swapped, no clipping;
tests/augment/test_keras_layers.py pins it). Keras' `RandomFlip` handles padded dense boxes
correctly (pinned there too), but its flip is one line of arithmetic here under our seed.
"""

import math

import keras
import numpy as np
import tensorflow as tf

from keras_ssd.augment.crop_sampling import centres_inside
from keras_ssd.augment.crop_sampling import sample_crop
from keras_ssd.augment.photometric import photometric_distortion

DEFAULT_MIN_IOUS = (None, 0.0, 0.1, 0.3, 0.5, 0.7, 0.9)
"""Caffe SSD's seven samplers: the whole image, any patch, and IoU >= 0.1 ... 0.9."""

# Caffe SSD's mean pixel (BGR 104, 117, 123), in RGB.
DEFAULT_MEAN_PIXEL = (123.0, 117.0, 104.0)


def _error(message):
    return ValueError(f"SSDAugmentation: {message}")


def _check_range(value, name, low, high, low_open=False):
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise _error(f"{name} must be a number, got {value!r}.") from None
    if math.isnan(value) or value < low or value > high or (low_open and value == low):
        bracket = "(" if low_open else "["
        raise _error(f"{name} must be in {bracket}{low}, {high}], got {value}.")
    return value


def _check_pair(value, name, low, high):
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise _error(f"{name} must be a (low, high) pair, got {value!r}.")
    pair = tuple(_check_range(v, name, low, high, low_open=True) for v in value)
    if pair[0] > pair[1]:
        raise _error(f"{name} must have low <= high, got {value!r}.")
    return pair


def _check_image_size(image_size):
    if image_size is None:
        return None
    sizes = image_size if isinstance(image_size, (tuple, list)) else (image_size, image_size)
    if len(sizes) != 2 or any(
        isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1 for v in sizes
    ):
        raise _error(f"image_size must be None, an int or (height, width) >= 1, got {image_size!r}.")
    return int(sizes[0]), int(sizes[1])


@keras.saving.register_keras_serializable(package="keras_ssd")
class SSDAugmentation:
    """SSD's data augmentation of one tfds-style example, box-aware and seeded.

    Takes and returns the example layout of `docs/conventions.md` (`"image"`, `"objects"`
    with `"bbox"`, `"label"` and any other per-box entries), so it slots in before
    `to_detection_inputs` (its `augment` argument). Per example:

    1. zoom out with probability `expand_probability`: the image is placed at a random
       position on a canvas `r` times its size, `r` uniform in `[1, expand_max_ratio]`,
       filled with `mean_pixel`;
    2. one entry of `min_ious` is picked uniformly: `None` keeps the whole canvas, a number
       samples a patch (`sample_crop`, `crop_trials` trials, scale in `scale_range`, aspect
       ratio in `aspect_ratio_range`) with IoU at least that number with some box and a box
       centre inside; if no trial qualifies the whole canvas is kept (as Caffe SSD does);
    3. the boxes whose centre lies inside the patch are kept and clipped to it; the others
       are dropped together with all their per-box entries (label, weight, ...);
    4. the patch is resized to `image_size` (bilinear), or kept at its pixel size;
    5. horizontal flip with probability 1/2 (if `flip`);
    6. photometric distortions (if `photometric`, `photometric_distortion`).

    Boxes with zero area never come out (they are dropped, including degenerate input
    boxes). The output image is float32 in `[0, 255]` with the input's channels.

    Randomness is stateless: every draw derives from a `[2]` seed per example, so the
    result depends only on the example and its seed, not on thread scheduling.
    `augment_dataset` gives each example its own seed from `tf.data.Dataset.random(seed)`,
    different in every epoch and the same for the same `seed`.

    Args:
        image_size: optional int or `(height, width)`. Output size. Defaults to `None`: the
            patch's size in pixels (`to_detection_inputs` then resizes).
        photometric: bool. Whether to apply the photometric distortions. Defaults to True.
        expand_max_ratio: float >= 1. Largest zoom-out ratio (1 disables it). Defaults to
            4.0.
        expand_probability: float in `[0, 1]`. Probability of a zoom out. Defaults to 0.5.
        min_ious: sequence of `None` or floats in `[0, 1]`. The crop modes, picked uniformly.
            Defaults to `(None, 0.0, 0.1, 0.3, 0.5, 0.7, 0.9)` (Caffe SSD's samplers).
        crop_trials: int >= 1. Patches drawn per example. Defaults to 50.
        scale_range: `(low, high)` in `(0, 1]`. Side scale of a patch. Defaults to
            `(0.3, 1.0)`.
        aspect_ratio_range: `(low, high)` positive. Width / height of a patch. Defaults to
            `(0.5, 2.0)`.
        flip: bool. Whether to flip horizontally with probability 1/2. Defaults to True.
        mean_pixel: three floats. RGB fill of the zoom-out canvas (their mean for grey
            images). Defaults to `(123, 117, 104)` (Caffe SSD's).
        seed: optional int. Seed of `augment_dataset`, and of the stateful fallback when
            `__call__` gets no seed. Defaults to `None`.

    Raises:
        ValueError: if an argument is out of its range.

    Example:

    ```python
    dataset, class_names = load_synthetic_shapes("train")
    augmented = SSDAugmentation(128, seed=1).augment_dataset(dataset)
    train = to_detection_inputs(dataset, 128, augment=SSDAugmentation(seed=1))
    ```
    """

    def __init__(
        self,
        image_size=None,
        photometric=True,
        expand_max_ratio=4.0,
        expand_probability=0.5,
        min_ious=DEFAULT_MIN_IOUS,
        crop_trials=50,
        scale_range=(0.3, 1.0),
        aspect_ratio_range=(0.5, 2.0),
        flip=True,
        mean_pixel=DEFAULT_MEAN_PIXEL,
        seed=None,
    ):
        self.image_size = _check_image_size(image_size)
        self.photometric = bool(photometric)
        self.expand_max_ratio = _check_range(expand_max_ratio, "expand_max_ratio", 1.0, 100.0)
        self.expand_probability = _check_range(expand_probability, "expand_probability", 0.0, 1.0)
        if not isinstance(min_ious, (tuple, list)) or not min_ious:
            raise _error(f"min_ious must be a non-empty sequence of None or floats, got {min_ious!r}.")
        self.min_ious = tuple(
            None if value is None else _check_range(value, "min_ious", 0.0, 1.0) for value in min_ious
        )
        if isinstance(crop_trials, bool) or not isinstance(crop_trials, (int, np.integer)) or crop_trials < 1:
            raise _error(f"crop_trials must be an int >= 1, got {crop_trials!r}.")
        self.crop_trials = int(crop_trials)
        self.scale_range = _check_pair(scale_range, "scale_range", 0.0, 1.0)
        self.aspect_ratio_range = _check_pair(aspect_ratio_range, "aspect_ratio_range", 0.0, 100.0)
        self.flip = bool(flip)
        if not isinstance(mean_pixel, (tuple, list)) or len(mean_pixel) != 3:
            raise _error(f"mean_pixel must be three floats (RGB), got {mean_pixel!r}.")
        self.mean_pixel = tuple(_check_range(v, "mean_pixel", 0.0, 255.0) for v in mean_pixel)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise _error(f"seed must be None or an int, got {seed!r}.")
        self.seed = None if seed is None else int(seed)

    def augment_dataset(self, dataset, seed=None):
        """Augments every example of an unbatched dataset, each under its own seed.

        Seeds come from `tf.data.Dataset.random(self.seed, rerandomize_each_iteration=True)`
        zipped with the examples, then a parallel map (`AUTOTUNE`) applies `__call__`.

        Args:
            dataset: `tf.data.Dataset` of unbatched tfds-style examples.
            seed: optional int or int64 scalar tensor. Seeds the per-example seeds
                instead of `self.seed`, the same at every iteration (one epoch of
                `to_detection_inputs(..., epoch=...)`). Defaults to `None`.

        Returns:
            The augmented `tf.data.Dataset`, in the same order.
        """
        if seed is None:
            seeds = tf.data.Dataset.random(seed=self.seed, rerandomize_each_iteration=True)
        else:
            seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=False)
        seeds = seeds.batch(2, drop_remainder=True)
        return tf.data.Dataset.zip((dataset, seeds)).map(
            self.__call__, num_parallel_calls=tf.data.AUTOTUNE
        )

    def __call__(self, example, seed=None):
        """Augments one example.

        Args:
            example: dict with `"image"` `[height, width, channels]` (1 or 3 channels, values
                in `[0, 255]`) and `"objects"` with `"bbox"` `[n, 4]` normalised yxyx and
                any other per-box entries (`[n, ...]`). Other keys pass through.
            seed: optional int32 / int64 `[2]` tensor. Defaults to `None`: one drawn from the
                stateful `tf.random.uniform` (seeded by `self.seed`), which is not
                reproducible under a parallel map; use `augment_dataset` there.

        Returns:
            The example with `"image"` float32 `[out_height, out_width, channels]` and every
            entry of `"objects"` keeping the same surviving boxes.
        """
        if seed is None:
            seed = tf.random.uniform([2], maxval=2**31 - 1, dtype=tf.int64, seed=self.seed)
        seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=3)
        # Scalar decisions: expand?, ratio, offset y, offset x, crop mode, flip?
        draws = tf.random.stateless_uniform([6], seeds[0])
        # Not cast here: crop_and_resize reads integer images and returns float32, so no
        # float copy of the (larger) input is made.
        image = example["image"]
        channels = image.shape[-1]
        if channels not in (None, 1, 3):
            raise _error(f"images must have 1 or 3 channels, got {channels}.")
        if channels is None:
            channels = 3
            image = tf.ensure_shape(image, (None, None, 3))
        objects = example["objects"]
        boxes = tf.reshape(tf.cast(objects["bbox"], tf.float32), (-1, 4))
        shape = tf.cast(tf.shape(image)[:2], tf.float32)

        canvas_size, offset = self._sample_canvas(shape, draws[:4])
        # Boxes in the canvas' normalised frame.
        scale = tf.tile(canvas_size, [2])
        canvas_boxes = (boxes * tf.tile(shape, [2]) + tf.tile(offset, [2])) / scale
        modes = tf.constant([-1.0 if v is None else v for v in self.min_ious], tf.float32)
        pick = tf.minimum(tf.cast(draws[4] * len(self.min_ious), tf.int32), len(self.min_ious) - 1)
        crop, _ = sample_crop(
            canvas_boxes, modes[pick], seeds[1], image_shape=canvas_size,
            num_trials=self.crop_trials, scale_range=self.scale_range,
            aspect_ratio_range=self.aspect_ratio_range,
        )  # fmt: skip

        keep = centres_inside(canvas_boxes, crop[None, :])[0]
        crop_start, crop_size = crop[:2], crop[2:] - crop[:2]
        out_boxes = tf.clip_by_value(canvas_boxes, tf.tile(crop[:2], [2]), tf.tile(crop[2:], [2]))
        out_boxes = (out_boxes - tf.tile(crop_start, [2])) / tf.tile(crop_size, [2])
        out_boxes = tf.clip_by_value(out_boxes, 0.0, 1.0)

        # The patch in pixels of the original image (whole pixels by construction).
        patch_start = tf.round(crop_start * canvas_size) - offset
        patch_size = tf.round(crop_size * canvas_size)
        image = self._resample(image, shape, patch_start, patch_size, channels)

        if self.flip:
            flipped = draws[5] < 0.5
            image = tf.cond(flipped, lambda: tf.reverse(image, axis=[1]), lambda: image)
            ymin, xmin, ymax, xmax = tf.unstack(out_boxes, axis=1)
            mirrored = tf.stack([ymin, 1.0 - xmax, ymax, 1.0 - xmin], axis=1)
            out_boxes = tf.where(flipped, mirrored, out_boxes)
        if self.photometric:
            image = photometric_distortion(image, seeds[2])

        # Last, after every rounding: no box of zero area leaves.
        keep &= (out_boxes[:, 2] > out_boxes[:, 0]) & (out_boxes[:, 3] > out_boxes[:, 1])
        result = dict(example)
        result["image"] = image
        result["objects"] = {
            key: tf.boolean_mask(value, keep) for key, value in objects.items() if key != "bbox"
        }
        result["objects"]["bbox"] = tf.boolean_mask(
            tf.cast(out_boxes, objects["bbox"].dtype), keep
        )
        return result

    def _sample_canvas(self, shape, draws):
        """Zoom out: the canvas size and the image's offset on it, in pixels."""
        expand = (draws[0] < self.expand_probability) & (self.expand_max_ratio > 1.0)
        ratio = tf.where(expand, 1.0 + (self.expand_max_ratio - 1.0) * draws[1], 1.0)
        canvas_size = tf.maximum(tf.round(shape * ratio), shape)
        offset = tf.floor(draws[2:] * (canvas_size - shape + 1.0))
        offset = tf.minimum(offset, canvas_size - shape)
        return canvas_size, offset

    def _resample(self, image, shape, patch_start, patch_size, channels):
        """Expand + crop + resize as one bilinear `crop_and_resize` with half-pixel centres."""
        if self.image_size is None:
            out_size = tf.cast(patch_size, tf.int32)
        else:
            out_size = tf.constant(self.image_size, tf.int32)
        out = tf.cast(out_size, tf.float32)
        # Output pixel j samples the patch at (j + 0.5) / out, which crop_and_resize
        # (corner-aligned: in = y1 * (H - 1) + j * (y2 - y1) * (H - 1) / (out - 1)) reaches
        # from these box corners.
        first = patch_start + 0.5 * patch_size / out - 0.5
        last = patch_start + (out - 0.5) * patch_size / out - 0.5
        span = tf.maximum(shape - 1.0, 1.0)
        box = tf.concat([first / span, last / span], axis=0)
        mean = tf.constant(self.mean_pixel, tf.float32)
        if channels == 1:
            mean = tf.reduce_mean(mean, keepdims=True)
        # crop_and_resize writes the extrapolation value to whole rows / columns sampled
        # outside the image (no blending); -1 cannot come from pixels in [0, 255] and
        # becomes the mean pixel. Only a patch reaching past the image needs the fill.
        resized = tf.image.crop_and_resize(
            image[None], box[None], [0], out_size, extrapolation_value=-1.0
        )[0]
        outside = tf.reduce_any(patch_start < 0.0) | tf.reduce_any(patch_start + patch_size > shape)
        resized = tf.cond(
            outside,
            lambda: resized + tf.cast(resized < 0.0, tf.float32) * (mean + 1.0),
            lambda: resized,
        )
        if self.image_size is None:
            return tf.ensure_shape(resized, (None, None, channels))
        return tf.ensure_shape(resized, (*self.image_size, channels))

    def get_config(self):
        """Returns every constructor argument, as stored."""
        return {
            "image_size": self.image_size,
            "photometric": self.photometric,
            "expand_max_ratio": self.expand_max_ratio,
            "expand_probability": self.expand_probability,
            "min_ious": self.min_ious,
            "crop_trials": self.crop_trials,
            "scale_range": self.scale_range,
            "aspect_ratio_range": self.aspect_ratio_range,
            "flip": self.flip,
            "mean_pixel": self.mean_pixel,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        """Rebuilds the augmentation from `get_config()` (lists become tuples)."""
        config = dict(config)
        for key in ("min_ious", "scale_range", "aspect_ratio_range", "mean_pixel"):
            config[key] = tuple(config[key])
        if isinstance(config["image_size"], list):
            config["image_size"] = tuple(config["image_size"])
        return cls(**config)
