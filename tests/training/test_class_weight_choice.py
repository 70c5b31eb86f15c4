"""Class weights as a user writes them: method names, aliases, values in order or by name."""

import pytest

from keras_ssd.data.class_weights import compute_class_weights
from keras_ssd.training.class_weight_choice import class_weights_from_spec

NAMES = ["top", "dress"]
COUNTS = [5000, 50000]


def test_methods_and_aliases_are_compute_class_weights():
    for method in ("inverse", "sqrt_inverse", "effective_number", "log"):
        assert class_weights_from_spec(method, NAMES, COUNTS) == compute_class_weights(COUNTS, method=method)
    # inverse, box-weighted mean 1: w = c / n with 5000 c / 5000 + 50000 c / 50000 = 55000 -> c = 27500.
    assert class_weights_from_spec("balanced", NAMES, COUNTS) == pytest.approx([5.5, 0.55])
    assert class_weights_from_spec("effective", NAMES, COUNTS) == compute_class_weights(COUNTS)
    assert class_weights_from_spec("none", NAMES, COUNTS) is None
    assert class_weights_from_spec(None, NAMES, COUNTS) is None


def test_explicit_values_in_order_or_by_name():
    assert class_weights_from_spec("1.0,0.2", NAMES) == [1.0, 0.2]
    assert class_weights_from_spec("dress=0.2, top=1.5", NAMES) == [1.5, 0.2]
    assert class_weights_from_spec("dress=0.2", NAMES) == [1.0, 0.2]  # unnamed classes weigh 1
    assert class_weights_from_spec({"top": 3}, NAMES) == [3.0, 1.0]


def test_bad_specs_name_the_problem():
    with pytest.raises(ValueError, match=r"'magic' are not understood: expected none, a method \(inverse"):
        class_weights_from_spec("magic", NAMES, COUNTS)
    with pytest.raises(ValueError, match=r"give 3 values for 2 classes \(top, dress\)"):
        class_weights_from_spec("1,2,3", NAMES)
    with pytest.raises(ValueError, match="mix named"):
        class_weights_from_spec("top=1,2", NAMES)
    with pytest.raises(ValueError, match="unknown class 'shoe'"):
        class_weights_from_spec("shoe=2", NAMES)
    with pytest.raises(ValueError, match="is negative \\(-2.0\\); weights must be >= 0"):
        class_weights_from_spec("1,-2", NAMES)
    with pytest.raises(ValueError, match="computed from box counts"):
        class_weights_from_spec("inverse", NAMES)


def test_the_command_line_knows_the_aliases():
    from keras_ssd.cli import train
    from keras_ssd.training.class_weight_choice import CLASS_WEIGHT_ALIASES

    assert train.CLASS_WEIGHT_ALIASES == tuple(CLASS_WEIGHT_ALIASES)
