"""Classification and localization losses, the two miners, the check of class weights.

Weights computed from box counts: `keras_ssd.compute_class_weights` (data/class_weights.py)."""

from keras_ssd.losses.classification_loss import ClassificationLoss
from keras_ssd.losses.hard_example_miner import HardExampleMiner
from keras_ssd.losses.hard_negative_mining import HardNegativeMining
from keras_ssd.losses.iou_localization_loss import IoULocalizationLoss
from keras_ssd.losses.localization_loss import LocalizationLoss
from keras_ssd.losses.sigmoid_focal_classification_loss import (
    SigmoidFocalClassificationLoss,
)
from keras_ssd.losses.smooth_l1_localization_loss import SmoothL1LocalizationLoss
from keras_ssd.losses.weighted_sigmoid_classification_loss import (
    WeightedSigmoidClassificationLoss,
)
from keras_ssd.losses.weighted_softmax_classification_loss import (
    WeightedSoftmaxClassificationLoss,
)

__all__ = [
    "ClassificationLoss",
    "HardExampleMiner",
    "HardNegativeMining",
    "IoULocalizationLoss",
    "LocalizationLoss",
    "SigmoidFocalClassificationLoss",
    "SmoothL1LocalizationLoss",
    "WeightedSigmoidClassificationLoss",
    "WeightedSoftmaxClassificationLoss",
]
