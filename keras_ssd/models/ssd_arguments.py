"""Checks of `SSD`'s constructor arguments, the losses' short names and `fit`'s `sample_weight`.

Every check raises a `ValueError` or `TypeError` naming the argument, what was
given and what is accepted, before any layer is built.
"""

import numbers

import keras
import tensorflow as tf

from keras_ssd.losses import (
    HardNegativeMining,
    IoULocalizationLoss,
    SigmoidFocalClassificationLoss,
    SmoothL1LocalizationLoss,
    WeightedSigmoidClassificationLoss,
    WeightedSoftmaxClassificationLoss,
)
from keras_ssd.losses.classification_loss import ClassificationLoss
from keras_ssd.losses.localization_loss import LocalizationLoss
from keras_ssd.models.loss_normalization import LOSS_NORMALIZATIONS
from keras_ssd.models.ssd_network import HEADS

# Short names accepted for `classification_loss` and `localization_loss`.
CLASSIFICATION_LOSSES = {
    "softmax": lambda: HardNegativeMining(WeightedSoftmaxClassificationLoss()),
    "focal": SigmoidFocalClassificationLoss,
    "sigmoid": WeightedSigmoidClassificationLoss,
}
LOCALIZATION_LOSSES = {
    "smooth_l1": SmoothL1LocalizationLoss,
    "iou": lambda: IoULocalizationLoss(mode="iou"),
    "giou": lambda: IoULocalizationLoss(mode="giou"),
}


def check_int(value, name, minimum=1):
    """Returns `value` as an int if it is an integer (of any integral type) >= `minimum`.

    Args:
        value: the argument. Python and NumPy integers are accepted; bools,
            floats (even `300.0`) and strings are not.
        name: str. The argument name used in the message.
        minimum: int. The smallest accepted value. Defaults to 1.

    Returns:
        int.

    Raises:
        TypeError: `value` is not an integer.
        ValueError: `value` is smaller than `minimum`.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"SSD: `{name}` must be an integer >= {minimum}, got {type(value).__name__} "
            f"{value!r}."
        )
    if value < minimum:
        raise ValueError(f"SSD: `{name}` must be an integer >= {minimum}, got {value}.")
    return int(value)


def check_probability(value, name, low_open=False):
    """Returns `value` as a float in `[0, 1]` (`(0, 1]` with `low_open`)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"SSD: `{name}` must be a number in [0, 1], got {value!r}.")
    value = float(value)
    if not (0.0 < value <= 1.0 if low_open else 0.0 <= value <= 1.0):
        interval = "(0, 1]" if low_open else "[0, 1]"
        raise ValueError(f"SSD: `{name}` must be in {interval}, got {value}.")
    return value


def check_ssd_arguments(
    num_classes,
    image_size,
    max_detections,
    class_weights,
    class_names,
    loss_normalization,
    localization_weight,
    head,
):
    """Checks the `SSD` arguments that need nothing resolved or built.

    Args:
        num_classes: `SSD`'s argument, an integer >= 1.
        image_size: `SSD`'s argument, an integer >= 8.
        max_detections: `SSD`'s argument, an integer >= 1.
        class_weights: `SSD`'s argument; a string is refused
            (`check_class_weights_argument`).
        class_names: `SSD`'s argument, None or `num_classes` names.
        loss_normalization: `SSD`'s argument, one of `LOSS_NORMALIZATIONS`.
        localization_weight: `SSD`'s argument, a number >= 0.
        head: `SSD`'s argument, a name in `HEADS`.

    Returns:
        `(num_classes, image_size, max_detections)` as ints.

    Raises:
        TypeError: `num_classes`, `image_size` or `max_detections` is not an integer.
        ValueError: an argument is out of its range or not an accepted name.
    """
    num_classes = check_int(num_classes, "num_classes")
    image_size = check_int(image_size, "image_size", minimum=8)
    max_detections = check_int(max_detections, "max_detections")
    check_class_weights_argument(class_weights)
    if class_names is not None and len(class_names) != num_classes:
        raise ValueError(
            f"class_names has {len(class_names)} names but num_classes={num_classes}."
        )
    if loss_normalization not in LOSS_NORMALIZATIONS:
        raise ValueError(
            f"loss_normalization must be one of {LOSS_NORMALIZATIONS}, got {loss_normalization!r}."
        )
    if localization_weight < 0:
        raise ValueError(f"localization_weight must be >= 0, got {localization_weight}.")
    if head not in HEADS:
        raise ValueError(f"head must be one of {sorted(HEADS)}, got {head!r}.")
    return num_classes, image_size, max_detections


def check_class_weights_argument(class_weights):
    """Refuses a string: a `compute_class_weights` method needs the data."""
    if isinstance(class_weights, (str, bytes)):
        raise ValueError(
            f"SSD: `class_weights` must be None, a list of num_classes weights or a dict "
            f"from class id or name to weight, got the string {class_weights!r}. A method "
            "name needs the box counts, which the model does not see: compute the weights "
            "first, e.g. `class_weights=keras_ssd.compute_class_weights(dataset, "
            f"method={class_weights!r}, num_classes=...)` (methods: 'inverse', "
            "'sqrt_inverse', 'effective_number', 'log')."
        )


def check_not_all_zero(class_weights, where="class_weights"):
    """Refuses class weights that are all 0 (no object would be learnt)."""
    if class_weights is not None and len(class_weights) and not any(class_weights):
        raise ValueError(
            f"SSD: every value of `{where}` is 0, so no object class would be learnt. "
            "Give positive weights to the classes to learn (0 only to ignore a class)."
        )


def resolve_loss(loss, name):
    """Turns a short name into a loss object and checks the type of anything else.

    Args:
        loss: None, a short name (`classification_loss`: `"softmax"` = softmax
            with 3:1 hard-negative mining, `"focal"`, `"sigmoid"`;
            `localization_loss`: `"smooth_l1"`, `"iou"`, `"giou"`) or a
            `keras.losses.Loss` from `keras_ssd.losses`.
        name: `"classification_loss"` or `"localization_loss"`.

    Returns:
        None or a `keras.losses.Loss`.

    Raises:
        ValueError: an unknown short name.
        TypeError: neither a name nor a `keras.losses.Loss`.
    """
    names = CLASSIFICATION_LOSSES if name == "classification_loss" else LOCALIZATION_LOSSES
    if loss is None:
        return None
    if isinstance(loss, str):
        if loss not in names:
            raise ValueError(
                f"SSD: unknown `{name}` {loss!r}; accepted names: {sorted(names)}, or a "
                "loss object from keras_ssd.losses."
            )
        return names[loss]()
    if not isinstance(loss, keras.losses.Loss):
        raise TypeError(
            f"SSD: `{name}` must be one of {sorted(names)} or a loss object from "
            f"keras_ssd.losses, got {type(loss).__name__}: {loss!r}."
        )
    if name == "classification_loss" and not hasattr(loss, "with_class_weights"):
        raise TypeError(
            f"SSD: `classification_loss` {type(loss).__name__} is not a keras_ssd "
            "classification loss (it has no class weights); use one of "
            f"{sorted(names)} or a loss from keras_ssd.losses."
        )
    return loss


def resolve_losses(classification_loss, localization_loss):
    """`SSD`'s two losses as loss objects, the defaults for None.

    Args:
        classification_loss: None (`"softmax"`), a short name or a
            `keras_ssd.losses.ClassificationLoss` (`resolve_loss`).
        localization_loss: None (`"smooth_l1"`), a short name or a
            `keras_ssd.losses.LocalizationLoss` (`resolve_loss`).

    Returns:
        `(classification_loss, localization_loss)`.

    Raises:
        ValueError: an unknown short name.
        TypeError: a loss that is not of the loss contract's base class.
    """
    classification_loss = resolve_loss(classification_loss, "classification_loss")
    localization_loss = resolve_loss(localization_loss, "localization_loss")
    for value, base, argument in (
        (classification_loss, ClassificationLoss, "classification_loss"),
        (localization_loss, LocalizationLoss, "localization_loss"),
    ):
        if value is not None and not isinstance(value, base):
            raise TypeError(
                f"{argument} must be a keras_ssd.losses.{base.__name__} (the contract in "
                f"docs/conventions.md, 'The loss contract'), got {type(value).__name__}."
            )
    return (
        classification_loss or CLASSIFICATION_LOSSES["softmax"](),
        localization_loss or LOCALIZATION_LOSSES["smooth_l1"](),
    )


def per_image_weights(sample_weight, classes):
    """`fit`'s `sample_weight` as `[batch, 1]` float32 (ones when None).

    Raises:
        ValueError: `sample_weight` is not one weight per image.
    """
    if isinstance(sample_weight, (dict, list, tuple)):
        # Keras copies one sample_weight onto every key of a dict `y`.
        leaves = [leaf for leaf in tf.nest.flatten(sample_weight) if leaf is not None]
        sample_weight = leaves[0] if leaves else None
    if sample_weight is None:
        return tf.ones([tf.shape(classes)[0], 1], tf.float32)
    sample_weight = tf.cast(sample_weight, tf.float32)
    shape = sample_weight.shape
    if shape.rank not in (1, 2) or (shape.rank == 2 and shape[1] != 1):
        raise ValueError(
            f"SSD: `sample_weight` must be one weight per image, shape [batch] or "
            f"[batch, 1], got shape {shape}. For per-box weights use "
            "targets['weights'] [batch, max_boxes]; for per-class weights use "
            "SSD(class_weights=...)."
        )
    return tf.reshape(sample_weight, [-1, 1])
