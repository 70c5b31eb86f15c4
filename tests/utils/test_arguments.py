"""Tests of check_number, the one argument check of the losses."""

import numpy as np
import pytest

from keras_ssd.utils.arguments import check_number


def test_returns_python_numbers():
    assert check_number(2, "w", low=0) == 2.0 and type(check_number(2, "w", low=0)) is float
    assert check_number(np.int64(3), "n", low=1, integer=True) == 3
    assert type(check_number(np.int64(3), "n", low=1, integer=True)) is int
    assert check_number(np.float32(0.5), "alpha", low=0, high=1) == 0.5
    assert check_number(None, "alpha", optional=True) is None
    assert check_number(1.0, "iou", low=0, high=1, low_open=True) == 1.0


@pytest.mark.parametrize(
    "value, kwargs, message",
    [
        (-1.0, {"low": 0}, "`w` must be finite and >= 0, got -1.0."),
        (float("nan"), {"low": 0}, "`w` must be finite and >= 0, got nan."),
        (float("inf"), {"low": 0}, "`w` must be finite and >= 0, got inf."),
        ("1", {"low": 0}, "`w` must be a number >= 0, got str: '1'."),
        (None, {"low": 0}, "`w` must be a number >= 0, got NoneType: None."),
        (True, {"low": 0}, "`w` must be a number >= 0, got bool: True."),
        (0.0, {"low": 0, "low_open": True}, "`w` must be finite and > 0, got 0.0."),
        (1.5, {"low": 0, "high": 1}, "`w` must be in [0, 1], got 1.5."),
        (1.0, {"low": 0, "high": 1, "high_open": True}, "`w` must be in [0, 1), got 1.0."),
        (2.5, {"low": 1, "integer": True}, "`w` must be an integer >= 1, got float: 2.5."),
        (0, {"low": 1, "integer": True, "hint": "Use None."}, "`w` must be >= 1, got 0. Use None."),
        ("x", {"low": 0, "optional": True}, "`w` must be None or a number >= 0, got str: 'x'."),
    ],
)
def test_bad_values_name_the_argument_and_what_is_accepted(value, kwargs, message):
    with pytest.raises(ValueError) as error:
        check_number(value, "w", **kwargs)
    assert str(error.value) == message
