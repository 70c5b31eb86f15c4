"""Cases shared by the tests of the two miners (HardNegativeMining, HardExampleMiner)."""

import math

import numpy as np


def softplus(value):
    return math.log1p(math.exp(value))


def random_case(seed, batch=4, num_anchors=30, num_classes=3):
    rng = np.random.default_rng(seed)
    # Mostly background, some positives and ignored; image 0 has no positives,
    # image 1 has more positives than 3x its negatives can cover.
    y_true = rng.choice([-1, 0, 0, 0, 0, 1, 2, 3], size=(batch, num_anchors))
    y_true[0][y_true[0] > 0] = 0
    y_true[1, :24] = rng.integers(1, num_classes + 1, size=24)
    logits = (2.0 * rng.standard_normal((batch, num_anchors, num_classes + 1))).astype("float32")
    sample_weight = rng.uniform(0.5, 2.0, size=(batch, num_anchors)).astype("float32")
    return y_true, logits, sample_weight


def negatives_then_positives(negative_values, positive_values):
    """Softmax logits for 2-logit anchors with losses softplus(v): negatives then positives."""
    rows = [[0.0, v] for v in negative_values] + [[v, 0.0] for v in positive_values]
    return np.array([rows], "float32")
