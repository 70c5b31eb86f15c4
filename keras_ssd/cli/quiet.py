"""TensorFlow's own output hidden from a person reading a command's output (`--verbose` keeps it)."""

import contextlib
import logging
import os
import sys
import warnings


def quiet_tensorflow():
    """Hides TensorFlow's start-up log lines and the library warnings meant for developers.

    Without it every command prints 8-12 lines before its own: C++ INFO/WARNING/ERROR
    notes of device probing (`cuInit` on a machine without a GPU, oneDNN, CPU
    instructions, "Compiled cluster using XLA!") and Python `UserWarning`s from
    TensorFlow's internals. Errors still reach the user as exceptions, which
    the commands turn into one line; keras_ssd's own warnings stay visible.

    Must run before TensorFlow is imported to hide the C++ lines; the Python side
    works at any time.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # the C++ lines after the import
    if "tensorflow" not in sys.modules:
        # What TensorFlow 2.21 logs while it loads comes before absl::InitializeLog and
        # ignores TF_CPP_MIN_LOG_LEVEL; an import error still raises (and is shown).
        with _c_stderr_silenced():
            import tensorflow  # noqa: F401
    # Keras' own warnings stay: keras_ssd's warnings raised from inside fit point there.
    for module in (r"tensorflow(\.|$)", r"keras_cv(\.|$)", r"absl(\.|$)"):
        warnings.filterwarnings("ignore", module=module)
    for name in ("tensorflow", "absl", "keras"):
        logging.getLogger(name).setLevel(logging.ERROR)


@contextlib.contextmanager
def _c_stderr_silenced():
    """Sends what C and C++ code write to file descriptor 2 to /dev/null meanwhile."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
