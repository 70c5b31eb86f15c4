"""SSD's photometric distortions with a stateless seed per image.

Liu et al. 2016, section 2.2 ("Data augmentation") apply "some photo-metric distortions
similar to those described in [Howard 2013]"; the reference implementations (Caffe SSD's
`DistortImage`, ssd.pytorch's `PhotometricDistort`) apply, each with probability 1/2:
brightness (±32 of 255), contrast (×[0.5, 1.5]), saturation (×[0.5, 1.5]) and hue (±18°),
with contrast either before or after the colour changes, chosen at random.

Keras' `RandomBrightness` / `RandomContrast` / `RandomSaturation` / `RandomHue` do the same
arithmetic, but they draw their randomness from a stateful `SeedGenerator` (Keras 3.15's
`draw_seed` accepts an int, a `SeedGenerator` or `None`, not a per-example seed tensor), so
under a parallel `Dataset.map` the draws depend on thread scheduling. The fused `tf.image`
ops below take factors we draw with `tf.random.stateless_uniform` from the example's seed.
"""

import tensorflow as tf

BRIGHTNESS_DELTA = 32.0
CONTRAST_RANGE = (0.5, 1.5)
SATURATION_RANGE = (0.5, 1.5)
HUE_DELTA = 18.0 / 360.0  # tf.image measures hue in turns: 18 degrees.


def photometric_distortion(
    image,
    seed,
    probability=0.5,
    brightness_delta=BRIGHTNESS_DELTA,
    contrast_range=CONTRAST_RANGE,
    saturation_range=SATURATION_RANGE,
    hue_delta=HUE_DELTA,
):
    """Randomly distorts brightness, contrast, saturation and hue of one image.

    Brightness is applied first; then, with probability 1/2 each, contrast before or after
    saturation and hue (the random order of the reference implementations). Every
    distortion is applied with probability `probability`. The image is clipped to
    `[0, 255]` after each step, as the 8-bit reference implementations saturate. Contrast
    is `tf.image.adjust_contrast` (around the per-channel mean), where Caffe SSD and
    ssd.pytorch scale the pixel values. A grey image (1 channel) gets brightness and
    contrast only.

    Args:
        image: float32 `[height, width, channels]` with values in `[0, 255]`, channels 1
            or 3 (static).
        seed: int32 or int64 `[2]` tensor. Seed of the stateless random draws.
        probability: float. Probability of each distortion. Defaults to 0.5.
        brightness_delta: float. Largest brightness change, in `[0, 255]` units. Defaults
            to 32.
        contrast_range: `(low, high)` floats. Range of the contrast factor. Defaults to
            `(0.5, 1.5)`.
        saturation_range: `(low, high)` floats. Range of the saturation factor. Defaults to
            `(0.5, 1.5)`.
        hue_delta: float. Largest hue change in turns (1 = 360°). Defaults to 0.05.

    Returns:
        float32 `[height, width, channels]` image with values in `[0, 255]`.

    Example:

    ```python
    image = photometric_distortion(tf.fill((8, 8, 3), 100.0), seed=tf.constant([1, 2]))
    ```
    """
    image = tf.convert_to_tensor(image, tf.float32)
    colour = image.shape[-1] != 1
    # A coin and a value for each of brightness, contrast, saturation, hue; the order coin.
    draws = tf.random.stateless_uniform([9], tf.cast(seed, tf.int64))
    coins, values = draws[:4] < probability, draws[4:8]

    def lerp(low_high, u):
        return low_high[0] + (low_high[1] - low_high[0]) * u

    delta = tf.where(coins[0], brightness_delta * (2.0 * values[0] - 1.0), 0.0)
    contrast = lerp(contrast_range, values[1])
    saturation = lerp(saturation_range, values[2])
    hue = hue_delta * (2.0 * values[3] - 1.0)

    def clip(x):
        return tf.clip_by_value(x, 0.0, 255.0)

    def adjust_contrast(x):
        return tf.cond(coins[1], lambda: clip(tf.image.adjust_contrast(x, contrast)), lambda: x)

    def adjust_colour(x):
        # The fused kernels work on [0, 1] floats.
        x = x / 255.0
        x = tf.cond(coins[2], lambda: tf.image.adjust_saturation(x, saturation), lambda: x)
        x = tf.cond(coins[3], lambda: tf.image.adjust_hue(x, hue), lambda: x)
        return clip(x * 255.0)

    image = clip(image + delta)
    if not colour:
        return adjust_contrast(image)
    # A coin with probability 1/2 (not `probability`) picks the order, as in ssd.pytorch.
    contrast_first = draws[8] < 0.5
    return tf.cond(
        contrast_first,
        lambda: adjust_colour(adjust_contrast(image)),
        lambda: adjust_contrast(adjust_colour(image)),
    )
