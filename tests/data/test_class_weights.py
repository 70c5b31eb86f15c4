"""Tests of compute_class_weights with hand-computed values."""

import math
import warnings

import numpy as np
import pytest
import tensorflow as tf

from keras_ssd.data.class_weights import compute_class_weights
from keras_ssd.losses import WeightedSigmoidClassificationLoss


def reference_weights(counts, method, beta=None):
    """Raw weights from each method's formula, normalised to a box-weighted mean of 1."""
    counts = np.asarray(counts, np.float64)
    present = counts > 0
    n = counts[present]
    if method == "inverse":
        raw = 1.0 / n
    elif method == "sqrt_inverse":
        raw = 1.0 / np.sqrt(n)
    elif method == "log":
        raw = 1.0 / np.log(1.02 + n / n.sum())
    else:
        beta = 1.0 - 1.0 / n.max() if beta is None else beta
        raw = (1.0 - beta) / (1.0 - beta**n)
    raw = raw * n.sum() / np.sum(n * raw)
    weights = np.full(counts.shape, raw.max())
    weights[present] = raw
    return weights


def test_hand_values_for_each_method():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # inverse, [10, 40]: raw [1/10, 1/40]; sum n w = 2, N = 50 -> x25.
        assert compute_class_weights([10, 40], method="inverse") == pytest.approx(
            [2.5, 0.625], rel=1e-12
        )
        # sqrt_inverse, [1, 4]: raw [1, 1/2]; sum n w = 3, N = 5 -> x5/3.
        assert compute_class_weights([1, 4], method="sqrt_inverse") == pytest.approx(
            [5 / 3, 5 / 6], rel=1e-12
        )
        # effective number, beta 0.5, [1, 2]: raw [0.5/0.5, 0.5/0.75] = [1, 2/3];
        # sum n w = 7/3, N = 3 -> x9/7.
        assert compute_class_weights([1, 2], beta=0.5) == pytest.approx([9 / 7, 6 / 7], rel=1e-12)
        # log (ENet), [1, 3]: p = [1/4, 3/4], raw 1 / ln(1.02 + p).
        raw = [1 / math.log(1.27), 1 / math.log(1.77)]
        scale = 4 / (raw[0] + 3 * raw[1])
        assert compute_class_weights([1, 3], method="log") == pytest.approx(
            [raw[0] * scale, raw[1] * scale], rel=1e-12
        )


def test_adaptive_beta_for_5000_versus_50000():
    # beta = 1 - 1/50000: ratio (1 - beta^50000) / (1 - beta^5000), about 6.64.
    weights = compute_class_weights([5000, 50000])
    beta = 1.0 - 1.0 / 50000
    assert weights[0] / weights[1] == pytest.approx((1 - beta**50000) / (1 - beta**5000), rel=1e-9)
    assert weights[0] / weights[1] == pytest.approx(6.6425, abs=1e-4)
    # A fixed beta of 0.999 is nearly uniform for these counts: warned.
    with pytest.warns(UserWarning, match="nearly uniform"):
        fixed = compute_class_weights([5000, 50000], beta=0.999)
    assert fixed[0] / fixed[1] < 1.01


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_normalisation_and_reference_on_random_counts(seed):
    counts = np.random.default_rng(seed).integers(1, 100000, size=7)
    for method in ["inverse", "sqrt_inverse", "effective_number", "log"]:
        weights = np.asarray(compute_class_weights(counts, method=method))
        assert np.sum(counts * weights) / np.sum(counts) == pytest.approx(1.0, rel=1e-12)
        np.testing.assert_allclose(weights, reference_weights(counts, method), rtol=1e-9)
        # The rarest class weighs the most.
        assert np.argmax(weights) == np.argmin(counts)


def test_absent_class_gets_the_largest_weight():
    weights = compute_class_weights([10, 0, 40], method="inverse")
    assert weights == pytest.approx([2.5, 2.5, 0.625], rel=1e-12)
    weights = compute_class_weights(np.array([0, 10, 40, 0]), method="sqrt_inverse")
    assert weights[0] == weights[3] == max(weights) and weights[0] == weights[1]


def test_dict_in_dict_out():
    weights = compute_class_weights({"dog": 40, "cat": 10}, method="inverse")
    assert list(weights) == ["dog", "cat"]
    assert weights == pytest.approx({"dog": 0.625, "cat": 2.5}, rel=1e-12)
    assert compute_class_weights({3: 10, 7: 40}, method="inverse") == pytest.approx(
        {3: 2.5, 7: 0.625}
    )


def test_dataset_counting_every_element_form():
    # Two batches of (image, {"classes": ...}) with -1 padding: class 0 x3, 1 x1, 2 x4.
    classes = np.array([[0, 2, -1], [2, -1, -1], [0, 1, 2], [0, 2, -1]], "int32")
    images = np.zeros((4, 2, 2, 3), "float32")
    tupled = tf.data.Dataset.from_tensor_slices((images, {"classes": classes})).batch(2)
    expected = compute_class_weights([3, 1, 4], method="inverse")
    assert compute_class_weights(tupled, method="inverse", num_classes=3) == expected
    dicts = tf.data.Dataset.from_tensor_slices({"images": images, "classes": classes})
    assert compute_class_weights(dicts, method="inverse", num_classes=3) == expected
    keras_cv = tf.data.Dataset.from_tensor_slices(
        {
            "images": images,
            "bounding_boxes": {"classes": classes, "boxes": np.zeros((4, 3, 4), "float32")},
        }
    )
    assert compute_class_weights(keras_cv, method="inverse", num_classes=3) == expected
    ragged = tf.data.Dataset.from_tensor_slices(
        {"classes": tf.ragged.constant([[0, 2], [2], [0, 1, 2], [0, 2]])}
    ).batch(3)
    assert compute_class_weights(ragged, method="inverse", num_classes=3) == expected
    # A class that never occurs gets the largest weight.
    assert compute_class_weights(tupled, method="inverse", num_classes=4)[3] == max(expected)


def test_dataset_errors():
    dataset = tf.data.Dataset.from_tensor_slices({"classes": np.array([[0, 5, -1]], "int32")})
    with pytest.raises(ValueError, match="num_classes` is required"):
        compute_class_weights(dataset)
    with pytest.raises(ValueError, match=r"label 5 is outside \[0, num_classes=3\)"):
        compute_class_weights(dataset, num_classes=3)
    with pytest.raises(ValueError, match="'classes'"):
        compute_class_weights(tf.data.Dataset.from_tensor_slices({"labels": [1, 2]}), num_classes=3)
    with pytest.raises(ValueError, match="no boxes"):
        compute_class_weights(
            tf.data.Dataset.from_tensor_slices({"classes": [[-1, -1]]}), num_classes=2
        )


def test_warning_only_when_nearly_uniform():
    with pytest.warns(UserWarning, match="nearly uniform"):
        compute_class_weights([1000, 1010], method="inverse")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compute_class_weights([1000, 2000], method="inverse")
        compute_class_weights([7], method="inverse")  # one class: nothing to balance


def test_output_feeds_the_losses():
    weights = compute_class_weights([10, 40], method="inverse")
    assert WeightedSigmoidClassificationLoss(class_weights=weights).class_weights == (2.5, 0.625)


BAD_ARGUMENTS = [
    (([1, 2],), {"method": "median"}, "Unknown `method`"),
    (([1, -2],), {}, r"finite and >= 0; 1 of 2 are not: 1: -2.0"),
    (({"cat": 1, "dog": float("nan")},), {}, "'dog': nan"),
    (([1, float("inf")],), {}, "finite"),
    (([0, 0],), {}, "no boxes"),
    (([],), {}, "non-empty"),
    (([[1, 2]],), {}, "1-D"),
    ((["a", "b"],), {}, "numbers"),
    (([1, 2],), {"method": "inverse", "beta": 0.9}, "only used by method='effective_number'"),
    (([1, 2],), {"beta": 1.0}, r"\[0, 1\)"),
    (([1, 2],), {"beta": -0.1}, r"\[0, 1\)"),
    (([1, 2],), {"num_classes": 3}, "num_classes` is 3 but 2 counts"),
]


def test_bad_inputs():
    for args, kwargs, match in BAD_ARGUMENTS:
        with pytest.raises(ValueError, match=match):
            compute_class_weights(*args, **kwargs)


def test_effective_number_with_single_box_classes_has_no_numeric_warning():
    # n_max = 1 gives the adaptive beta = 0: every effective number is 1.
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.warns(UserWarning, match="nearly uniform"):
            weights = compute_class_weights([1, 1, 0])
    np.testing.assert_allclose(weights, [1.0, 1.0, 1.0])
