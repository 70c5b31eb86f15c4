"""Detection metrics: COCO AP through pycocotools, Pascal VOC AP, the fit callback, the confusion matrix."""

from keras_ssd.metrics.coco_evaluation import DetectionReport
from keras_ssd.metrics.coco_evaluation import evaluate_detections
from keras_ssd.metrics.confusion_matrix import ConfusionMatrix
from keras_ssd.metrics.confusion_matrix import detection_confusion_matrix
from keras_ssd.metrics.confusion_matrix import pairwise_iou
from keras_ssd.metrics.detection_metrics_callback import DetectionMetrics
from keras_ssd.metrics.detector_evaluation import EvaluationReport
from keras_ssd.metrics.detector_evaluation import evaluate_detector
from keras_ssd.metrics.example_evaluation import evaluate_examples
from keras_ssd.metrics.model_evaluation import evaluate_model
from keras_ssd.metrics.voc_evaluation import VOCReport
from keras_ssd.metrics.voc_evaluation import average_precision
from keras_ssd.metrics.voc_evaluation import evaluate_voc

__all__ = [
    "ConfusionMatrix",
    "DetectionMetrics",
    "DetectionReport",
    "EvaluationReport",
    "VOCReport",
    "average_precision",
    "detection_confusion_matrix",
    "evaluate_detector",
    "evaluate_detections",
    "evaluate_examples",
    "evaluate_model",
    "evaluate_voc",
    "pairwise_iou",
]
