"""Keras callbacks of keras_ssd, under the name users look for them."""

from keras_ssd.metrics.detection_metrics_callback import DetectionMetrics
from keras_ssd.training_checkpoint import TrainingCheckpoint

__all__ = ["DetectionMetrics", "TrainingCheckpoint"]
