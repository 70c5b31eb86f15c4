"""The one check of a `class_weights` argument (a list, or a dict by class id or name).

Weights computed from box counts are `keras_ssd.compute_class_weights`
(`keras_ssd/data/class_weights.py`): the losses take numbers, never datasets.
"""

import math
import numbers

import numpy as np


def resolve_class_weights(class_weights, num_classes=None, class_names=None, name="class_weights"):
    """Checks a `class_weights` argument and returns it as a tuple of floats.

    The one validator of class weights: the losses call it with the sequence
    they are given, `SSD` with its list or dict and its `num_classes`.

    Args:
        class_weights: `None`; a 1-D sequence (list, tuple, NumPy array) of
            non-negative finite numbers, one per object class (background
            excluded); or, with `num_classes`, a dict from class id or class
            name to weight (classes not named weigh 1.0).
        num_classes: optional int. Number of object classes; when given, a
            sequence must have that length. Required for a dict.
        class_names: optional list of `num_classes` names, needed for a dict
            keyed by name.
        name: str. The argument name used in error messages. Defaults to
            `"class_weights"`.

    Returns:
        `None` if `class_weights` is `None`, else a tuple of Python floats.

    Raises:
        ValueError: if `class_weights` is not a sequence (or dict) of numbers,
            is empty, has the wrong length, names an unknown class, or holds a
            negative, NaN or infinite value.

    Example:

    >>> resolve_class_weights({"dog": 4.0}, num_classes=2, class_names=["cat", "dog"])
    (1.0, 4.0)
    """
    if class_weights is None:
        return None
    if isinstance(class_weights, dict) and num_classes is not None:
        weights = [1.0] * num_classes
        for key, value in class_weights.items():
            weights[_class_index(key, num_classes, class_names)] = value
        class_weights = weights
    if isinstance(class_weights, (str, bytes, dict)) or not isinstance(
        class_weights, (list, tuple, np.ndarray)
    ):
        raise ValueError(
            f"`{name}` must be None or a sequence of num_classes non-negative "
            f"floats (one per object class, background excluded), got "
            f"{type(class_weights).__name__}: {class_weights!r}."
        )
    if isinstance(class_weights, np.ndarray) and class_weights.ndim != 1:
        raise ValueError(
            f"`{name}` must be 1-D (one weight per object class), got an "
            f"array of shape {class_weights.shape}."
        )
    if len(class_weights) == 0:
        raise ValueError(f"`{name}` is empty; pass one weight per object class or None.")
    if num_classes is not None and len(class_weights) != num_classes:
        raise ValueError(
            f"`{name}` has {len(class_weights)} values but num_classes={num_classes}; "
            "give one weight per object class (background is not a class here)."
        )
    values = []
    for index, value in enumerate(class_weights):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise ValueError(
                f"`{name}[{index}]` must be a real number, got "
                f"{type(value).__name__}: {value!r}."
            )
        value = float(value)
        if math.isnan(value):
            raise ValueError(f"`{name}[{index}]` is NaN; weights must be finite.")
        if math.isinf(value):
            raise ValueError(f"`{name}[{index}]` is infinite ({value}); weights must be finite.")
        if value < 0:
            raise ValueError(f"`{name}[{index}]` is negative ({value}); weights must be >= 0.")
        values.append(value)
    return tuple(values)


def _class_index(key, num_classes, class_names):
    if isinstance(key, str):
        if class_names is None:
            raise ValueError(
                f"class_weights names class {key!r} but no `class_names` were given to "
                "map names to ids."
            )
        if key not in class_names:
            raise ValueError(
                f"class_weights names unknown class {key!r}; known classes: {list(class_names)}."
            )
        return list(class_names).index(key)
    if isinstance(key, bool) or not isinstance(key, int) or not 0 <= key < num_classes:
        raise ValueError(
            f"class_weights key {key!r} is not a class id in [0, {num_classes}) or a class name."
        )
    return key
