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


# Names the command line accepted before the method names; kept working.
CLASS_WEIGHT_ALIASES = {"balanced": "inverse", "effective": "effective_number"}


def class_weights_from_spec(spec, class_names, counts=None):
    """Turns a class-weight choice, as a user writes it, into weights.

    Args:
        spec: one of
            - `None` or `"none"`: no class weights;
            - a `compute_class_weights` method name (`"inverse"`,
              `"sqrt_inverse"`, `"effective_number"`, `"log"`, or the aliases
              `"balanced"` = inverse, `"effective"` = effective_number),
              computed from `counts`;
            - explicit values, one per class in label order (`"1.0,0.2"`) or by
              name (`"top=1.0,dress=0.2"`, classes not named weigh 1);
            - a list or dict, as `SSD`'s `class_weights` takes them.
        class_names: sequence of str. The classes, indexed by label.
        counts: optional sequence of box counts per class; needed by a method.

    Returns:
        None or a list of `len(class_names)` floats.

    Raises:
        ValueError: an unknown method, a value that is not a number, a class
            name that is not in `class_names`, or the wrong number of values.

    Example:

    >>> class_weights_from_spec("top=2,dress=0.5", ["dress", "top"])
    [0.5, 2.0]
    """
    from keras_ssd.losses.class_weights import METHODS
    from keras_ssd.losses.class_weights import compute_class_weights

    class_names = list(class_names)
    if spec is None or (isinstance(spec, str) and spec.strip().lower() == "none"):
        return None
    if not isinstance(spec, str):
        return resolve_class_weights(spec, len(class_names), class_names)
    text = spec.strip()
    method = CLASS_WEIGHT_ALIASES.get(text, text)
    if method in METHODS:
        if counts is None:
            raise ValueError(f"class weights {spec!r} are computed from box counts; none were given.")
        return compute_class_weights([int(count) for count in counts], method=method)
    parts = [part.strip() for part in text.split(",")]
    named = ["=" in part for part in parts]
    if any(named) and not all(named):
        raise ValueError(
            f"class weights {spec!r} mix named (name=value) and positional values; use one form."
        )
    accepted = (
        f"expected none, a method ({', '.join(METHODS)}, or the aliases "
        f"{', '.join(CLASS_WEIGHT_ALIASES)}), values in label order ('1.0,0.2') or by "
        f"name ('{class_names[0]}=1.0')"
    )
    try:
        if all(named):
            weights = {}
            for part in parts:
                name, value = (item.strip() for item in part.split("=", 1))
                weights[name] = float(value)
        else:
            weights = [float(part) for part in parts]
    except ValueError:
        raise ValueError(f"class weights {spec!r} are not understood: {accepted}.") from None
    if isinstance(weights, list) and len(weights) != len(class_names):
        if len(weights) == 1:
            raise ValueError(f"class weights {spec!r} are not understood: {accepted}.")
        raise ValueError(
            f"class weights {spec!r} give {len(weights)} values for {len(class_names)} classes "
            f"({', '.join(class_names)})."
        )
    return resolve_class_weights(weights, len(class_names), class_names)
