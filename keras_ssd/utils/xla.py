"""Where XLA is: whether it can compile on this machine, and whether it is compiling now."""

import functools
import platform

import tensorflow as tf


@functools.cache
def xla_available():
    """Whether XLA can compile here: False on Apple silicon with a Metal GPU, as Keras decides."""
    apple_silicon = platform.system() == "Darwin" and "arm" in platform.processor().lower()
    return not (apple_silicon and tf.config.list_physical_devices("GPU"))


def compiling_with_xla():
    """Whether the ops being traced now will be compiled by XLA.

    True inside a `tf.function(jit_compile=True)`, also one nested in a
    function that is not, and inside a Keras step compiled with
    `jit_compile=True`. Code that has a faster form XLA cannot compile (an op
    whose output shape depends on a tensor's value, such as `top_k` with a
    computed `k`) asks this while tracing.

    Returns:
        bool. True where TensorFlow cannot tell (its private helper is gone):
        the XLA-compatible form then always runs, which is correct everywhere.
    """
    try:
        from tensorflow.python.ops import control_flow_util
    except ImportError:  # pragma: no cover - a TensorFlow without the private module
        return True
    graph_in_xla = getattr(control_flow_util, "GraphOrParentsInXlaContext", None)
    if graph_in_xla is None:  # pragma: no cover
        return True
    return bool(graph_in_xla(tf.compat.v1.get_default_graph()))
