"""Shared fixtures: quiet TensorFlow, deterministic seeds; long tests scheduled first."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings, strategies  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _hypothesis_started():
    """Runs a trivial hypothesis test before any other test of the worker.

    Hypothesis' first test in a thread registers its PRNG, and that runs `gc.collect()`.
    Late in a worker, over the heap that hundreds of TensorFlow tests leave, that one
    collection took 35-67 s (profiled in tests/properties); at start-up it is instant.
    """

    @settings(database=None, max_examples=1)
    @given(strategies.none())
    def trivial(_):
        pass

    trivial()


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "long_running(seconds): takes about that long on a 2-core CI machine (processes, "
        "notebooks, whole presets); it is scheduled first, longest first, and never skipped.",
    )


def pytest_collection_modifyitems(config, items):
    """Puts the `long_running` tests first, longest first; the rest keep their order.

    pytest-xdist hands tests out in collection order. The longest tests (the command
    line in fresh processes, under `tests/test_*.py`) were collected last, and one
    worker ran the last of them alone after the other had finished.
    """

    def estimated_seconds(item):
        marker = item.get_closest_marker("long_running")
        if marker is None:
            return 0
        if "seconds" not in marker.kwargs:
            raise pytest.UsageError(f"{item.nodeid}: write @pytest.mark.long_running(seconds=N).")
        return marker.kwargs["seconds"]

    items.sort(key=estimated_seconds, reverse=True)


@pytest.fixture(autouse=True)
def _reset_keras_state():
    """Each test starts with float32, a fresh graph namespace and fixed seeds."""
    keras.config.set_dtype_policy("float32")
    keras.utils.set_random_seed(0)
    yield
    keras.config.set_dtype_policy("float32")
    # Without gc.collect(): a full collection over a worker's heap of TensorFlow objects
    # after every test took 2/3 of the time of tests/models/test_ssd.py, tests/losses and
    # tests/anchors (186 s against 62 s) for the same peak memory (1.57 GB); Python's own
    # collections still run.
    keras.backend.clear_session(free_memory=False)


def tiny_backbone(image_size=64, name="tiny_backbone", down_to_1x1=False):
    """A four-convolution backbone with two feature maps (strides 8 and 16).

    Model tests use it so that tracing a train step takes seconds, not the
    half minute of MobileNetV2; MobileNetV2 has tests of its own. With
    `down_to_1x1` it keeps halving to a 1x1 map itself, so the SSD adds no
    extra blocks and the network has no BatchNormalization.
    """
    images = keras.Input((image_size, image_size, 3))
    hidden = keras.layers.Rescaling(1.0 / 255.0)(images)
    for filters in (8, 16):
        hidden = keras.layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu")(hidden)
    fine = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(hidden)
    maps = [fine, keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(fine)]
    while down_to_1x1 and maps[-1].shape[1] > 1:
        maps.append(keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(maps[-1]))
    return keras.Model(images, maps, name=name)


def tiny_ssd_arguments(**overrides):
    """`SSD` arguments of a small, fast model on 64 px images (maps 8, 4, 2 and 1)."""
    return {"backbone": tiny_backbone(), "image_size": 64, "extra_filters": [16], **overrides}


def tiny_ssd(num_classes=3, **overrides):
    """A small, fast `SSD` on 64 px images; `overrides` are further `SSD` arguments."""
    from keras_ssd.models.ssd import SSD

    return SSD(num_classes=num_classes, **tiny_ssd_arguments(**overrides))


DETECTING_CLASS_NAMES = ["cat", "dog", "bird"]


def make_detecting_model(num_classes=3, seed=1, **overrides):
    """A 64 px tiny SSD whose class biases are random, so scores spread over (0, 1).

    A freshly initialised head scores every anchor near the 0.01 prior and finds
    nothing; random biases give a few hundred candidates of distinct scores.
    """
    class_names = DETECTING_CLASS_NAMES[:num_classes] if num_classes <= 3 else None
    model = tiny_ssd(num_classes, **{"class_names": class_names, **overrides})
    rng = np.random.default_rng(seed)
    for variable in model.head.variables:
        if "bias" in variable.path:
            variable.assign(rng.normal(0.0, 2.0, variable.shape).astype("float32"))
    return model


def random_images(num_images, height=64, width=64, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (num_images, height, width, 3)).astype("uint8")
