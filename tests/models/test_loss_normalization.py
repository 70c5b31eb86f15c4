"""Tests of normalize_losses with hand-computed numbers (one replica)."""

import numpy as np
import tensorflow as tf

from keras_ssd.models.loss_normalization import normalize_losses
from keras_ssd.models.loss_normalization import num_replicas

CLASSIFICATION = tf.constant([[1.0, 2.0, 3.0], [4.0, 0.0, 0.0]])
LOCALIZATION = tf.constant([[0.5, 0.5, 0.0], [0.0, 0.0, 0.0]])
POSITIVE = tf.constant([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])


def test_num_positives_divides_the_sums_by_the_positives_of_the_batch():
    classification, localization = normalize_losses(CLASSIFICATION, LOCALIZATION, POSITIVE)
    np.testing.assert_allclose([float(classification), float(localization)], [10.0 / 2, 1.0 / 2])


def test_per_image_divides_each_image_by_its_own_positives_at_least_one():
    classification, localization = normalize_losses(CLASSIFICATION, LOCALIZATION, POSITIVE, "per_image")
    # Image 0: 6 / 2; image 1 (no positive): 4 / 1; mean over 2 images.
    np.testing.assert_allclose([float(classification), float(localization)], [(3.0 + 4.0) / 2, 0.5 / 2])


def test_no_positive_divides_by_one():
    zeros = tf.zeros_like(POSITIVE)
    classification, _ = normalize_losses(CLASSIFICATION, LOCALIZATION, zeros)
    assert float(classification) == 10.0 and num_replicas() == 1
