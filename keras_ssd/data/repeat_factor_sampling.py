"""Repeat-factor sampling (RFS): rare classes' images seen more often in each epoch.

Gupta, Dollar and Girshick 2019, "LVIS: A Dataset for Large Vocabulary Instance
Segmentation" (the sampling of its baselines), as detectron2's
`RepeatFactorTrainingSampler` computes it:

- `f_c`: the fraction of the training *images* that contain class `c`;
- `r_c = max(1, sqrt(t / f_c))` for a threshold `t`;
- an image's factor `r` is the largest `r_c` of its classes (1 for an image without boxes);
- each epoch repeats an image `floor(r)` times, plus once more with probability
  `r - floor(r)`, drawn afresh for every epoch (stochastic rounding; not mmengine's
  `ceil`, which would show an image with `r = 1.01` twice in every epoch).

The draws are stateless, from `(seed, epoch)`: a resumed run sees the epochs an
uninterrupted one would have seen, and every replica of a `tf.distribute` run the same.
"""

import math

import numpy as np
import tensorflow as tf

from keras_ssd.data.class_statistics import classes_per_image

# Salt of the stateless draws, so that they differ from the shuffle of the same (seed, epoch).
_SALT = 0x52465321


def repeat_factors(image_labels, threshold):
    """The repeat factor of every image, from its classes' image frequencies.

    Args:
        image_labels: sequence of per-image label sequences (`splits.image_labels`
            reads them from a reader dataset); `-1` padding and repeats are ignored.
        threshold: float in `(0, 1]`. `t` above: a class in a smaller fraction of
            the images than `t` is oversampled. LVIS uses 0.001 for 1,203 classes;
            a few-class dataset needs a larger one (0.5 oversamples a class in a
            fifth of the images by 1.58).

    Returns:
        float64 numpy array of `num_images` factors >= 1.

    Raises:
        ValueError: for a threshold outside `(0, 1]` or no images.

    Example:

    >>> repeat_factors([[0], [0], [0], [1]], threshold=0.5).round(4).tolist()
    [1.0, 1.0, 1.0, 1.4142]
    """
    number = isinstance(threshold, (int, float)) and not isinstance(threshold, bool)
    if not number or not 0.0 < threshold <= 1.0:
        raise ValueError(f"repeat_factors: threshold must be a number in (0, 1], got {threshold!r}.")
    classes_of = classes_per_image(image_labels)
    if not classes_of:
        raise ValueError("repeat_factors: no images.")
    num_images = len(classes_of)
    images_per_class = {}
    for classes in classes_of:
        for label in classes.tolist():
            images_per_class[label] = images_per_class.get(label, 0) + 1
    class_factor = {
        label: max(1.0, math.sqrt(threshold / (count / num_images)))
        for label, count in images_per_class.items()
    }
    factors = [max((class_factor[label] for label in classes.tolist()), default=1.0) for classes in classes_of]
    return np.array(factors, np.float64)


def epoch_repeats(factors, seed, epoch):
    """How often each image appears in one epoch: `floor(r)`, plus 1 with probability `r - floor(r)`.

    Args:
        factors: the images' repeat factors (`repeat_factors`).
        seed: int. The run's seed.
        epoch: int or int scalar tensor. The epoch (a tensor inside a `tf.data` graph).

    Returns:
        int64 tensor `[num_images]`; the same for the same `(seed, epoch)`.
    """
    factors = np.asarray(factors, np.float64)
    whole = tf.constant(np.floor(factors).astype(np.int64))
    fraction = tf.constant(factors - np.floor(factors), tf.float64)
    pair = tf.stack([tf.cast(seed, tf.int64), tf.cast(epoch, tf.int64)])
    draw_seed = tf.random.experimental.stateless_fold_in(pair, _SALT)
    uniform = tf.random.stateless_uniform([len(factors)], seed=draw_seed, dtype=tf.float64)
    return whole + tf.cast(uniform < fraction, tf.int64)


def repeat_factor_sampling(examples, factors, seed, epoch):
    """One epoch of `examples` under repeat-factor sampling, before augmentation.

    Each image is emitted `epoch_repeats(factors, seed, epoch)` times in a row, in
    dataset order; the training pipeline's shuffle mixes them (`to_detection_inputs`).
    The epoch holds `sum(factors)` images on average.

    Args:
        examples: unbatched `tf.data.Dataset` of `len(factors)` examples.
        factors: the images' repeat factors (`repeat_factors`).
        seed: int. The run's seed.
        epoch: int or int scalar tensor. The epoch.

    Returns:
        A `tf.data.Dataset` of examples.

    Example:

    ```python
    factors = repeat_factors(image_labels(annotations), threshold=0.5)
    epoch_3 = repeat_factor_sampling(examples, factors, seed=0, epoch=3)
    ```
    """
    # Static where it can be known; inside a tf.data graph (a run's epochs) it may not be.
    cardinality = tf.get_static_value(examples.cardinality())
    if cardinality is not None and cardinality >= 0 and cardinality != len(factors):
        raise ValueError(
            f"repeat_factor_sampling: {len(factors)} repeat factors for {cardinality} examples."
        )
    repeats = epoch_repeats(factors, seed, epoch)
    return examples.enumerate().flat_map(
        lambda index, example: tf.data.Dataset.from_tensors(example).repeat(repeats[index])
    )
