"""Keras callbacks of keras_ssd, under the name users look for them."""

from keras_ssd.metrics.detection_metrics_callback import DetectionMetrics

__all__ = ["DetectionMetrics"]
