"""Tests of resolve_class_weights, the one check of a `class_weights` argument."""

import numpy as np
import pytest

from keras_ssd.losses.class_weights import resolve_class_weights


def test_resolve_class_weights_accepts_sequences():
    assert resolve_class_weights(None) is None
    assert resolve_class_weights([1, 2.5, 0]) == (1.0, 2.5, 0.0)
    assert resolve_class_weights((np.float32(0.5),)) == (0.5,)
    validated = resolve_class_weights(np.array([1.0, 2.0]))
    assert validated == (1.0, 2.0) and all(type(value) is float for value in validated)


BAD_CLASS_WEIGHTS = [
    ("1, 2", "sequence"),
    ({0: 1.0}, "sequence"),
    (3.0, "sequence"),
    ([], "empty"),
    (np.ones((2, 2)), "1-D"),
    ([1.0, None], r"class_weights\[1\]` must be a real number"),
    ([True], "real number"),
    ([1.0, -1e-9], r"class_weights\[1\]` is negative"),
    ([float("nan")], r"class_weights\[0\]` is NaN"),
    ([float("-inf")], "infinite"),
]


def test_resolve_class_weights_rejects_bad_values():
    for value, match in BAD_CLASS_WEIGHTS:
        with pytest.raises(ValueError, match=match):
            resolve_class_weights(value)


def test_resolve_class_weights_by_id_or_name_with_num_classes():
    assert resolve_class_weights({1: 3.0}, num_classes=3) == (1.0, 3.0, 1.0)
    assert resolve_class_weights({"b": 3.0}, num_classes=2, class_names=["a", "b"]) == (1.0, 3.0)
    assert resolve_class_weights(np.array([1, 2]), num_classes=2) == (1.0, 2.0)
    for value, kwargs, match in [
        ([1.0, 2.0], {"num_classes": 3}, "has 2 values but num_classes=3"),
        ({"dog": 2.0}, {"num_classes": 3, "class_names": ["a", "b", "c"]}, "unknown class 'dog'"),
        ({"a": 2.0}, {"num_classes": 3}, "no `class_names`"),
        ({5: 2.0}, {"num_classes": 3}, r"not a class id in \[0, 3\)"),
        ({0: -1.0}, {"num_classes": 3}, r"class_weights\[0\]` is negative"),
    ]:
        with pytest.raises(ValueError, match=match):
            resolve_class_weights(value, **kwargs)
