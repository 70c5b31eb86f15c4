"""The image sampling of a run (`--sampling`): which images each epoch sees, and how many."""

import math

from keras_ssd.data.class_aware_sampling import class_aware_sampling
from keras_ssd.data.repeat_factor_sampling import repeat_factor_sampling
from keras_ssd.data.repeat_factor_sampling import repeat_factors

SAMPLINGS = ("repeat_factor", "class_aware")
"""`repeat_factor`: LVIS' repeat-factor sampling; `class_aware`: class-aware sampling."""


def epoch_sampler(sampling, image_labels, seed, repeat_threshold=0.5):
    """The per-epoch sampler of a run, the images an epoch holds, and a line saying so.

    Args:
        sampling: one of `SAMPLINGS`.
        image_labels: the training images' per-image labels (`splits.image_labels`).
        seed: int. The run's seed.
        repeat_threshold: float in `(0, 1]`. `repeat_factor`'s threshold `t`.
            Defaults to 0.5 (see docs/class_imbalance.md for why not LVIS' 0.001).

    Returns:
        A tuple `(sampler, images_per_epoch, line)`: `sampler(dataset, epoch)` for
        `training_epochs`, the (expected) number of images of an epoch, and a line
        for the run's output.

    Raises:
        ValueError: an unknown `sampling`, or a bad threshold.
    """
    num_images = len(image_labels)
    if sampling == "repeat_factor":
        factors = repeat_factors(image_labels, repeat_threshold)
        expected = float(factors.sum())
        line = (
            f"Sampling: repeat_factor (threshold {repeat_threshold:g}): about {expected:.1f} images "
            f"an epoch instead of {num_images} (repeat factors {factors.min():.2f} to {factors.max():.2f})."
        )
        return (lambda dataset, epoch: repeat_factor_sampling(dataset, factors, seed, epoch)), expected, line
    if sampling == "class_aware":
        line = f"Sampling: class_aware: {num_images} images an epoch, every class drawn equally often."
        return (lambda dataset, epoch: class_aware_sampling(dataset, image_labels, seed, epoch)), num_images, line
    raise ValueError(f"sampling must be None or one of {', '.join(SAMPLINGS)}, got {sampling!r}.")


def sampled_steps_per_epoch(images_per_epoch, batch_size):
    """The batches of a sampled epoch: its expected images over the batch size, at least 1."""
    return max(1, math.ceil(images_per_epoch / batch_size))
