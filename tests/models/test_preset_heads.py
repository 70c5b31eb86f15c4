import numpy as np
import pytest

from keras_ssd.models.separable_ssd_head import SeparableSSDHead
from keras_ssd.models.weight_shared_ssd_head import WeightSharedSSDHead

FEATURES = [np.ones((1, 4, 4, 8), "float32"), np.ones((1, 2, 2, 8), "float32")]
SHAPES = [(None, 4, 4, 8), (None, 2, 2, 8)]


def _count(head):
    return sum(int(np.prod(weight.shape)) for weight in head.weights)


def test_separable_head_parameters_and_shapes():
    head = SeparableSSDHead([3, 6], num_logits=4)
    head.build(SHAPES)
    # Per map and output: depthwise 3x3 (9 x 8), BatchNorm (4 x 8), pointwise 1x1 with bias.
    expected = sum(2 * (72 + 32) + (8 + 1) * a * 4 + (8 + 1) * a * 4 for a in (3, 6))
    assert _count(head) == expected
    boxes, classes = head(FEATURES)
    assert boxes.shape == (1, 16 * 3 + 4 * 6, 4) and classes.shape == (1, 72, 4)
    # Every class logit starts at the prior probability 0.01 (zero-initialised depthwise path aside).
    np.testing.assert_allclose(np.asarray(head.class_predictors[0].layers[-1].bias), np.log(0.01 / 0.99), rtol=1e-5)


def test_weight_shared_head_shares_convolutions_not_batch_norm():
    head = WeightSharedSSDHead([6, 6], num_logits=3, depth=8, num_layers=2)
    head.build(SHAPES)
    convolutions = 2 * 2 * 9 * 8 * 8  # 2 towers x 2 layers, no bias
    batch_norms = 2 * 2 * 2 * 4 * 8  # towers x layers x levels
    predictors = (9 * 8 + 1) * 24 + (9 * 8 + 1) * 18
    assert _count(head) == convolutions + batch_norms + predictors
    boxes, classes = head(FEATURES)
    assert boxes.shape == (1, 120, 4) and classes.shape == (1, 120, 3)


def test_weight_shared_head_needs_equal_anchor_counts():
    with pytest.raises(ValueError, match="same number of anchors per location"):
        WeightSharedSSDHead([6, 4], num_logits=3)


@pytest.mark.parametrize("head_class, kwargs", [(SeparableSSDHead, {}), (WeightSharedSSDHead, {"depth": 8, "num_layers": 1})])
def test_config_round_trip_gives_the_same_numbers(head_class, kwargs):
    head = head_class([6, 6], num_logits=3, background_logit=True, batch_norm_momentum=0.8, **kwargs)
    head.build(SHAPES)
    config = head.get_config()
    revived = head_class.from_config(config)
    revived.build(SHAPES)
    assert revived.get_config() == config
    revived.set_weights(head.get_weights())
    for expected, actual in zip(head(FEATURES), revived(FEATURES)):
        np.testing.assert_array_equal(np.asarray(actual), np.asarray(expected))
