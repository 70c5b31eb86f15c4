"""Fixtures of the export tests: a tiny SSD whose detections vary from anchor to anchor."""

import numpy as np
import pytest

from tests.conftest import tiny_ssd

CLASS_NAMES = ["cat", "dog", "bird"]


def make_detecting_model(num_classes=3, seed=1, **overrides):
    """A 64 px tiny SSD whose class biases are random, so scores spread over (0, 1).

    A freshly initialised head scores every anchor near the 0.01 prior and finds
    nothing; random biases give a few hundred candidates of distinct scores.
    """
    class_names = CLASS_NAMES[:num_classes] if num_classes <= 3 else None
    model = tiny_ssd(num_classes, **{"class_names": class_names, **overrides})
    rng = np.random.default_rng(seed)
    for variable in model.head.variables:
        if "bias" in variable.path:
            variable.assign(rng.normal(0.0, 2.0, variable.shape).astype("float32"))
    return model


def random_images(num_images, height=64, width=64, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (num_images, height, width, 3)).astype("uint8")


@pytest.fixture
def detecting_model():
    return make_detecting_model()
