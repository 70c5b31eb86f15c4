"""Per-class loss weights computed from box counts, or from a dataset's boxes (counted in `class_statistics`).

The losses take the numbers; their one check of a `class_weights` argument is
`keras_ssd.losses.class_weights.resolve_class_weights`.
"""

import math
import numbers
import warnings

import numpy as np
import tensorflow as tf

from keras_ssd.data.class_statistics import count_boxes_per_class
from keras_ssd.utils.arguments import check_number

METHODS = ("inverse", "sqrt_inverse", "effective_number", "log")

# ENet (Paszke et al. 2016, section 5.2): w = 1 / ln(c + p) with c = 1.02.
_ENET_C = 1.02

# Below this max/min weight ratio the weights hardly change the loss.
_NEARLY_UNIFORM_RATIO = 1.05


def compute_class_weights(
    counts_or_dataset, method="effective_number", beta=None, num_classes=None
):
    """Computes per-class loss weights from per-class box counts.

    The raw weight of a class with `n > 0` boxes is:

    - `"inverse"`: `1 / n`.
    - `"sqrt_inverse"`: `1 / sqrt(n)`.
    - `"effective_number"` (Cui et al. 2019, "Class-Balanced Loss Based on
      Effective Number of Samples", eq. 3): `(1 - beta) / (1 - beta ** n)`.
    - `"log"` (Paszke et al. 2016, ENet, section 5.2): `1 / ln(1.02 + n / N)`
      with `N` the total number of boxes.

    The weights are then scaled so that their box-weighted mean is 1,
    `sum_k n_k w_k / sum_k n_k == 1`: the total loss of the positives keeps its
    scale, only its split between classes changes. A class with 0 boxes gets
    the largest weight of the present classes (it is at least as rare as the
    rarest one; it does not enter the normalisation).

    `beta=None` picks `beta = 1 - 1 / n_max`, with `n_max` the largest class
    count. Classes much smaller than `n_max` then get weights close to
    `1 / n`, while the largest classes are damped
    (`E(n_max) = n_max (1 - 1/e)` approximately): for 5,000 versus 50,000 boxes
    the weight ratio is `(1 - beta ** 50000) / (1 - beta ** 5000)`, about 6.64
    (inverse frequency gives 10). A fixed `beta = 0.999`, common for
    image classification, gives only 1.007 for these counts, because every
    class with more than a few thousand boxes has an effective number of about
    1 / (1 - beta) = 1000.

    A `UserWarning` names the classes with 0 boxes, if any. One is issued
    when at least two classes are present and the
    largest weight is less than 1.05 times the smallest ("nearly uniform").

    Args:
        counts_or_dataset: one of
            - a sequence or 1-D array of `num_classes` non-negative box counts;
            - a dict `{class name or id: count}`;
            - a `tf.data.Dataset` whose elements are `(image, {"classes": ...})`
              tuples, dicts with a `"classes"` key, or keras-cv dicts with
              `{"bounding_boxes": {"classes": ...}}`. Classes may be batched
              or not, dense or ragged; `-1` is padding and is not counted.
              Requires `num_classes`.
        method: str. One of `"inverse"`, `"sqrt_inverse"`,
            `"effective_number"`, `"log"`. Defaults to `"effective_number"`.
        beta: float in `[0, 1)` or `None`. Only for `"effective_number"`;
            `None` chooses `1 - 1 / n_max` as above. Defaults to `None`.
        num_classes: int. Number of object classes. Required for a dataset;
            for a sequence it is optional and must match its length.

    Returns:
        A list of `num_classes` Python floats for a sequence or dataset (ready
        for the `class_weights` argument of the losses), or a dict with the
        same keys for a dict.

    Raises:
        ValueError: if `method` is unknown, `beta` is out of range or given for
            another method, a count is negative or not finite, every count is
            0, a dataset is given without `num_classes` or holds a class id
            `>= num_classes`, or `num_classes` does not match the counts.

    Example:

    >>> compute_class_weights([1, 3], method="inverse")
    [2.0, 0.6666666666666666]
    >>> compute_class_weights({"cat": 10, "dog": 90}, method="inverse")
    {'cat': 5.0, 'dog': 0.5555555555555556}
    """
    if method not in METHODS:
        raise ValueError(f"Unknown `method` {method!r}; expected one of {', '.join(METHODS)}.")
    if beta is not None:
        if method != "effective_number":
            raise ValueError(
                f"`beta` is only used by method='effective_number', got "
                f"beta={beta} with method={method!r}."
            )
        check_number(beta, "beta", low=0, high=1, high_open=True, hint="(beta -> 1 is 'inverse'.)")

    keys = None
    if isinstance(counts_or_dataset, tf.data.Dataset):
        counts = _count_dataset(counts_or_dataset, num_classes)
    elif isinstance(counts_or_dataset, dict):
        keys = list(counts_or_dataset.keys())
        counts = _as_counts([counts_or_dataset[key] for key in keys], keys)
    else:
        counts = _as_counts(counts_or_dataset, None)
    if num_classes is not None and len(counts) != num_classes:
        raise ValueError(f"`num_classes` is {num_classes} but {len(counts)} counts were given.")

    weights = _weights_from_counts(counts, method, beta)
    present = counts > 0
    if not present.all():
        names = keys if keys is not None else list(range(len(counts)))
        absent = [names[index] for index in np.flatnonzero(~present)]
        warnings.warn(
            f"compute_class_weights: {len(absent)} of {len(counts)} classes have 0 boxes "
            f"({', '.join(repr(name) for name in absent)}); they get the largest weight "
            "of the present classes, but nothing of them can be learnt. Is the dataset "
            "or num_classes right?",
            UserWarning,
            stacklevel=2,
        )
    if np.count_nonzero(present) >= 2:
        ratio = weights[present].max() / weights[present].min()
        if ratio < _NEARLY_UNIFORM_RATIO:
            warnings.warn(
                f"compute_class_weights: the weights are nearly uniform (max/min "
                f"ratio {ratio:.4f} < {_NEARLY_UNIFORM_RATIO}) for counts "
                f"{counts.tolist()} with method={method!r}, beta={beta}; they "
                f"will barely change the loss. The classes may already be "
                f"balanced, or try method='inverse' or a beta closer to 1.",
                UserWarning,
                stacklevel=2,
            )
    values = [float(weight) for weight in weights]
    if keys is not None:
        return dict(zip(keys, values))
    return values


def _as_counts(counts, keys):
    """Validates per-class counts and returns them as a float64 array."""
    try:
        array = np.asarray(counts, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"Class counts must be numbers, got {counts!r} ({error}).") from None
    if array.ndim != 1 or array.size == 0:
        raise ValueError(
            f"Class counts must be a non-empty 1-D sequence (one count per "
            f"class), got shape {array.shape}."
        )
    names = keys if keys is not None else list(range(array.size))
    bad = [
        f"{name!r}: {value}"
        for name, value in zip(names, array.tolist())
        if not math.isfinite(value) or value < 0
    ]
    if bad:
        raise ValueError(
            f"Class counts must be finite and >= 0; {len(bad)} of {array.size} "
            f"are not: {', '.join(bad)}."
        )
    if not np.any(array > 0):
        raise ValueError(
            "Every class count is 0: there are no boxes to compute class " "weights from."
        )
    return array


def _weights_from_counts(counts, method, beta):
    """Raw weights of the present classes, normalised; absent classes get max."""
    present = counts > 0
    n = counts[present]
    if method == "inverse":
        raw = 1.0 / n
    elif method == "sqrt_inverse":
        raw = 1.0 / np.sqrt(n)
    elif method == "log":
        raw = 1.0 / np.log(_ENET_C + n / counts.sum())
    else:
        one_minus_beta = 1.0 / n.max() if beta is None else 1.0 - float(beta)
        if one_minus_beta >= 1.0:
            # beta = 0: every class has an effective number of 1.
            raw = np.ones_like(n, dtype=float)
        else:
            # 1 - beta ** n without cancellation for beta close to 1.
            raw = one_minus_beta / -np.expm1(n * np.log1p(-one_minus_beta))
    raw = raw * n.sum() / np.sum(n * raw)
    weights = np.full(counts.shape, raw.max())
    weights[present] = raw
    return weights


def _count_dataset(dataset, num_classes):
    """Counts boxes per class (class ids >= 0) with the one box counter."""
    if num_classes is None:
        raise ValueError("`num_classes` is required to count the classes of a tf.data.Dataset.")
    if (
        isinstance(num_classes, (bool, np.bool_))
        or not isinstance(num_classes, numbers.Integral)
        or num_classes < 1
    ):
        raise ValueError(f"`num_classes` must be an integer >= 1, got {num_classes!r}.")
    return _as_counts(count_boxes_per_class(dataset, int(num_classes)), None)
