"""Pictures of images, detections, anchors and training, as matplotlib `Figure`s.

The figures are made without pyplot (no global state, nothing shown on screen); save
them with `figure.savefig("picture.png")` (the Agg renderer) or display them in Jupyter.
"""

from keras_ssd.visualization.anchors import plot_anchors
from keras_ssd.visualization.average_precision import plot_per_class_ap
from keras_ssd.visualization.comparison import plot_ground_truth_vs_prediction
from keras_ssd.visualization.confusion_matrix import plot_confusion_matrix
from keras_ssd.visualization.detections import draw_boxes, plot_detections
from keras_ssd.visualization.precision_recall import plot_precision_recall
from keras_ssd.visualization.training_curves import plot_training_curves, read_history

__all__ = [
    "draw_boxes",
    "plot_anchors",
    "plot_confusion_matrix",
    "plot_detections",
    "plot_ground_truth_vs_prediction",
    "plot_per_class_ap",
    "plot_precision_recall",
    "plot_training_curves",
    "read_history",
]
