"""keras_ssd: a Keras-native SSD detector for imbalanced detection data.

The top-level names are imported on first use (PEP 562), so that importing a
light module of the package (the `keras-ssd` command line, `keras_ssd.version`)
does not import TensorFlow. Where Keras is already imported (`import keras`
before `import keras_ssd`, as sorted imports put it), the model and its parts
are registered with Keras at once, so `keras.saving.load_model` reads a saved
SSD; otherwise touch `keras_ssd.SSD` (or `from keras_ssd import SSD`) first.
"""

import importlib as _importlib
import os as _os
import sys as _sys
from typing import TYPE_CHECKING

_os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from keras_ssd.version import __version__  # noqa: E402

if TYPE_CHECKING:  # for static analysis (type checkers, the API docs); never run
    from keras_ssd import losses
    from keras_ssd.anchors.anchor_generator import AnchorGenerator
    from keras_ssd.data.class_weights import compute_class_weights
    from keras_ssd.models.ssd import SSD

# public name -> (module, attribute); attribute None means the module itself.
_LAZY = {
    "SSD": ("keras_ssd.models.ssd", "SSD"),
    "AnchorGenerator": ("keras_ssd.anchors.anchor_generator", "AnchorGenerator"),
    "compute_class_weights": ("keras_ssd.data.class_weights", "compute_class_weights"),
    "losses": ("keras_ssd.losses", None),
}

__all__ = ["SSD", "AnchorGenerator", "compute_class_weights", "losses", "__version__"]


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'keras_ssd' has no attribute {name!r}")
    module_name, attribute = _LAZY[name]
    module = _importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


if "keras" in _sys.modules:  # Keras is loaded anyway: register SSD for load_model now
    __getattr__("SSD")
