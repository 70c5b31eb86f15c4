"""The one check of a numeric argument, shared by the losses and the class-weight methods."""

import math
import numbers

import numpy as np


def _bounds_text(low, high, low_open, high_open):
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high:g}"
    return ""


def check_number(value, name, low=None, high=None, low_open=False, high_open=False, integer=False,
                 optional=False, hint=""):
    """Checks one numeric argument and returns it as a Python `float` (or `int`).

    Args:
        value: the argument's value.
        name: str. The argument's name, for the error.
        low: optional number. The smallest value accepted.
        high: optional number. The largest value accepted.
        low_open: bool. Whether `low` itself is refused (`> low`). Defaults
            to `False`.
        high_open: bool. Whether `high` itself is refused (`< high`).
            Defaults to `False`.
        integer: bool. Whether only integers are accepted (returned as
            `int`). Defaults to `False`: any finite real number.
        optional: bool. Whether `None` is accepted (and returned). Defaults
            to `False`.
        hint: str. Appended to the error of a value out of range (e.g. what
            the value means). Defaults to `""`.

    Returns:
        `value` as an `int` (with `integer`) or a `float`; `None` for `None`
        when `optional`.

    Raises:
        ValueError: naming the argument, if `value` is a bool, not a number
            (not an integer with `integer`), not finite, or out of range.

    Example:

    >>> check_number(3, "delta", low=0, low_open=True)
    3.0
    >>> check_number(None, "alpha", low=0, high=1, optional=True) is None
    True
    """
    if value is None and optional:
        return None
    bounds = _bounds_text(low, high, low_open, high_open)
    kind = "an integer" if integer else "a number"
    wanted = " ".join(part for part in ("None or" if optional else "", kind, bounds) if part)
    accepted = numbers.Integral if integer else numbers.Real
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, accepted):
        raise ValueError(f"`{name}` must be {wanted}, got {type(value).__name__}: {value!r}.")
    number = int(value) if integer else float(value)
    finite = integer or math.isfinite(number)
    in_range = finite and not (
        low is not None and (number < low or (low_open and number == low))
        or high is not None and (number > high or (high_open and number == high))
    )
    if not in_range:
        # Two bounds imply finiteness; one bound does not.
        condition = bounds if (integer or (low is not None and high is not None)) else f"finite and {bounds}"
        raise ValueError(f"`{name}` must be {condition}, got {value}.{' ' + hint if hint else ''}")
    return number
