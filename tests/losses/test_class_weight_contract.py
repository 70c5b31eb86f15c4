"""The class-weight contract that every classification loss keeps, tested once for all."""

import numpy as np
import pytest
import tensorflow as tf

from keras_ssd.losses import (
    HardNegativeMining,
    SigmoidFocalClassificationLoss,
    WeightedSigmoidClassificationLoss,
    WeightedSoftmaxClassificationLoss,
)

NUM_CLASSES = 4
LOSSES = {
    "sigmoid": WeightedSigmoidClassificationLoss,
    "softmax": WeightedSoftmaxClassificationLoss,
    "focal": SigmoidFocalClassificationLoss,
}


def random_case(seed, uses_background_logit, batch=3, num_anchors=40):
    """Targets with ignored anchors, class 2 absent and an image without positives."""
    rng = np.random.default_rng(seed)
    y_true = rng.integers(-1, NUM_CLASSES + 1, size=(batch, num_anchors))
    y_true[y_true == 3] = 0
    y_true[0][y_true[0] > 0] = 0
    num_logits = NUM_CLASSES + int(uses_background_logit)
    logits = (3.0 * rng.standard_normal((batch, num_anchors, num_logits))).astype("float32")
    sample_weight = rng.uniform(0.0, 2.0, size=(batch, num_anchors)).astype("float32")
    return y_true, logits, sample_weight


def _gradient(loss, y_true, logits):
    logits = tf.constant(logits)
    with tf.GradientTape() as tape:
        tape.watch(logits)
        value = loss(y_true, logits)
    return np.asarray(tape.gradient(value, logits))


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_unit_class_weights_are_bitwise_the_unweighted_loss(name):
    loss_class = LOSSES[name]
    y_true, logits, sample_weight = random_case(4, loss_class.uses_background_logit)
    plain, ones = loss_class(), loss_class(class_weights=[1] * NUM_CLASSES)
    assert np.array_equal(np.asarray(plain.call(y_true, logits)), np.asarray(ones.call(y_true, logits)))
    assert float(plain(y_true, logits, sample_weight)) == float(ones(y_true, logits, sample_weight))


@pytest.mark.parametrize("weight", [4.0, 0.3])
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_class_weight_scales_the_gradient_of_its_class_only(name, weight):
    loss_class = LOSSES[name]
    y_true, logits, _ = random_case(5, loss_class.uses_background_logit)
    base = _gradient(loss_class(), y_true, logits)
    weighted = _gradient(loss_class(class_weights=[1.0, weight, 1.0, 1.0]), y_true, logits)
    of_class = y_true == 2  # target k + 1 = 2 is object class 1
    assert of_class.any()
    if weight == 4.0:  # a power of two: the scaling is exact
        assert np.array_equal(weighted[of_class], base[of_class] * weight)
    np.testing.assert_allclose(weighted[of_class], base[of_class] * weight, rtol=1e-6)
    assert np.array_equal(weighted[~of_class], base[~of_class])
    assert np.all(base[y_true == -1] == 0.0)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_with_class_weights_returns_a_new_loss_and_mining_forwards_it(name):
    loss = LOSSES[name]()
    other = loss.with_class_weights([1.0, 2.0, 3.0, 4.0])
    assert loss.class_weights is None
    assert other.class_weights == (1.0, 2.0, 3.0, 4.0)
    assert type(other) is type(loss)
    mined = HardNegativeMining(loss).with_class_weights([1.0, 2.0, 3.0, 4.0])
    assert mined.class_weights == (1.0, 2.0, 3.0, 4.0) and mined.loss.class_weights == (1.0, 2.0, 3.0, 4.0)
    assert mined.uses_background_logit == loss.uses_background_logit
