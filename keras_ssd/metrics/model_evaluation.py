"""Runs a detector over a dataset and scores it with pycocotools."""

import numpy as np

from keras_ssd.metrics.coco_evaluation import evaluate_detections, unbatch_detections


def evaluate_model(model, dataset, class_names, progress=True):
    """Predicts every batch of `dataset` and returns a `DetectionReport`.

    Args:
        model: an `SSD` (anything whose `predict_on_batch` returns the
            keras-cv detections dict).
        dataset: a `tf.data.Dataset` of `(images, {"boxes", "classes"})`
            batches, as made by `keras_ssd.data.pipeline.to_detection_inputs`.
        class_names: list of class names.
        progress: bool. Show a `keras.utils.Progbar`.

    Returns:
        A `DetectionReport` with COCO summary and per-class AP.
    """
    import keras

    ground_truth, detections = [], []
    total = dataset.cardinality().numpy()
    bar = keras.utils.Progbar(total if total > 0 else None, unit_name="batch") if progress else None
    for step, (images, targets) in enumerate(dataset):
        batch_detections = model.predict_on_batch(images)
        detections.extend(unbatch_detections(batch_detections))
        boxes = np.asarray(targets["boxes"])
        classes = np.asarray(targets["classes"])
        ground_truth.extend({"boxes": b, "classes": c} for b, c in zip(boxes, classes))
        if bar is not None:
            bar.update(step + 1)
    image_size = tuple(int(side) for side in images.shape[1:3])
    return evaluate_detections(ground_truth, detections, class_names, image_size=image_size)
