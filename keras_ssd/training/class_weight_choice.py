"""A class-weight choice as a user writes it (`--class-weights`), turned into weights."""

from keras_ssd.data.class_weights import METHODS
from keras_ssd.data.class_weights import compute_class_weights
from keras_ssd.losses.class_weights import resolve_class_weights

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
    class_names = list(class_names)
    if spec is None or (isinstance(spec, str) and spec.strip().lower() == "none"):
        return None
    if not isinstance(spec, str):
        return list(resolve_class_weights(spec, len(class_names), class_names))
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
    return list(resolve_class_weights(weights, len(class_names), class_names))
