"""keras_ssd: a Keras-native SSD detector for imbalanced detection data."""

import os as _os

_os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from keras_ssd import losses  # noqa: E402
from keras_ssd.anchors.anchor_generator import AnchorGenerator  # noqa: E402
from keras_ssd.losses.class_weights import compute_class_weights  # noqa: E402
from keras_ssd.models.ssd import SSD  # noqa: E402
from keras_ssd.version import __version__  # noqa: E402

__all__ = ["SSD", "AnchorGenerator", "compute_class_weights", "losses", "__version__"]
