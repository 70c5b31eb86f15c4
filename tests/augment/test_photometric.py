"""Tests of SSD's photometric distortions."""

import keras
import numpy as np
import tensorflow as tf

from keras_ssd.augment.photometric import photometric_distortion


def _image(channels=3):
    rng = np.random.default_rng(0)
    return tf.constant(rng.uniform(0, 255, (6, 5, channels)), tf.float32)


def test_probability_zero_is_the_identity():
    image = _image()
    np.testing.assert_array_equal(photometric_distortion(image, tf.constant([1, 2]), probability=0.0), image)


def test_contrast_only_closed_form():
    image = _image()
    output = photometric_distortion(
        image, tf.constant([1, 2]), probability=1.0, brightness_delta=0.0,
        contrast_range=(2.0, 2.0), saturation_range=(1.0, 1.0), hue_delta=0.0,
    )  # fmt: skip
    mean = tf.reduce_mean(image, axis=(0, 1))
    np.testing.assert_allclose(output, np.clip((image - mean) * 2 + mean, 0, 255), atol=1e-3)


def test_brightness_only_shifts_every_channel_by_one_delta():
    image = tf.fill((4, 4, 3), 100.0)
    output = photometric_distortion(
        image, tf.constant([3, 2]), probability=1.0, contrast_range=(1.0, 1.0),
        saturation_range=(1.0, 1.0), hue_delta=0.0,
    ).numpy()  # fmt: skip
    delta = output - 100.0
    assert np.ptp(delta) < 1e-3 and 0 < abs(delta[0, 0, 0]) <= 32


def test_range_dtype_determinism_and_grey_images():
    keras.config.set_dtype_policy("mixed_float16")  # the augmentation stays float32
    image = _image()
    outputs = [photometric_distortion(image, tf.constant([s, 0]), probability=1.0) for s in (4, 4, 5)]
    for output in outputs:
        assert output.dtype == tf.float32 and output.shape == image.shape
        assert np.all(output.numpy() >= 0) and np.all(output.numpy() <= 255)
    np.testing.assert_array_equal(outputs[0], outputs[1])
    assert not np.array_equal(outputs[0], outputs[2])
    grey = photometric_distortion(_image(1), tf.constant([1, 1]), probability=1.0)
    assert grey.shape == (6, 5, 1)
