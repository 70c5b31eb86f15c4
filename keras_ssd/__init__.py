"""keras_ssd: a Keras-native SSD detector for imbalanced detection data."""

import os as _os

_os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from keras_ssd.version import __version__  # noqa: E402
