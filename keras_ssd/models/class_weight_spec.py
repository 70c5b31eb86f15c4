"""Turns the user's `class_weights` argument (list or dict) into one list of floats."""

import math


def resolve_class_weights(class_weights, num_classes, class_names=None):
    """Normalises a `class_weights` argument to a list of `num_classes` floats.

    Args:
        class_weights: None, a sequence of `num_classes` weights, or a dict from
            class id or class name to weight (classes not named weigh 1.0).
        num_classes: int. Number of object classes.
        class_names: optional list of `num_classes` names, needed for a dict
            keyed by name.

    Returns:
        None or a list of `num_classes` floats.

    Raises:
        ValueError: wrong length, unknown class, negative, NaN or infinite weight.
    """
    if class_weights is None:
        return None
    if isinstance(class_weights, dict):
        weights = [1.0] * num_classes
        for key, value in class_weights.items():
            weights[_class_index(key, num_classes, class_names)] = value
    else:
        try:
            weights = list(class_weights)
        except TypeError:
            raise ValueError(
                "`class_weights` must be None, a sequence of per-class weights or a dict "
                f"from class id or name to weight, got {class_weights!r}."
            ) from None
        if len(weights) != num_classes:
            raise ValueError(
                f"`class_weights` has {len(weights)} values but num_classes={num_classes}; "
                "give one weight per object class (background is not a class here)."
            )
    resolved = []
    for index, value in enumerate(weights):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"class_weights[{index}] = {value!r} is not a number.") from None
        if math.isnan(value) or math.isinf(value) or value < 0:
            raise ValueError(
                f"class_weights[{index}] = {value} must be finite and >= 0."
            )
        resolved.append(value)
    return resolved


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
