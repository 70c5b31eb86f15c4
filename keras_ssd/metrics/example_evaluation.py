"""Evaluates a detector on reader examples, keeping what padded batches drop.

`model_evaluation.evaluate_model` takes the padded `(images, targets)` batches of
`to_detection_inputs`, which keep neither the `difficult` / `iscrowd` flags nor the original
image size. Here the reader's examples (docs/conventions.md) are resized for the model and
batched with `Dataset.ragged_batch`, so each image keeps its own boxes and flags: COCO
ignores `iscrowd` boxes, VOC ignores `difficult` ones, and COCO's small / medium / large
areas are measured in the original pixels.
"""

import numpy as np
import tensorflow as tf

from keras_ssd.metrics.coco_evaluation import evaluate_detections
from keras_ssd.metrics.coco_evaluation import unbatch_detections
from keras_ssd.metrics.voc_evaluation import evaluate_voc

_TRUTH_KEYS = ("boxes", "classes", "difficult", "iscrowd", "weights")


def _model_size(model):
    size = getattr(model, "image_size", None)
    if size is None:
        size = tuple(model.input_shape[1:3])
    return (int(size), int(size)) if np.ndim(size) == 0 else tuple(int(s) for s in size)


def predict_examples(model, examples, batch_size=32, progress=True):
    """Runs `model` over reader examples and collects ground truth and detections.

    Args:
        model: an `SSD` (anything with `predict_on_batch` returning the keras-cv
            detections dict, and `image_size` or a square input shape).
        examples: unbatched `tf.data.Dataset` of reader examples with `"image"` and
            `"objects"` (`"bbox"`, `"label"`, optional `"difficult"`, `"iscrowd"`, `"weight"`).
        batch_size: int >= 1. Images per prediction batch. Defaults to 32.
        progress: bool. Show a `keras.utils.Progbar`. Defaults to True.

    Returns:
        A tuple `(ground_truth, detections, image_sizes)`: one dict per image with
        `"boxes"`, `"classes"`, `"difficult"`, `"iscrowd"` and `"weights"` (the per-box
        `objects/weight`, 1 where the examples have none); one detections dict per image
        (`unbatch_detections`); one original `(height, width)` per image.

    Raises:
        ValueError: if `batch_size` is not a positive int or the examples have no image.
    """
    import keras

    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"predict_examples: batch_size must be an int >= 1, got {batch_size!r}.")
    spec = examples.element_spec
    if not isinstance(spec, dict) or "image" not in spec or "objects" not in spec:
        raise ValueError(
            "predict_examples: expected reader examples with 'image' and 'objects' "
            f"(load them with load_images=True), got element_spec {spec}."
        )
    height, width = _model_size(model)
    grey = spec["image"].shape[-1] == 1

    def prepare(example):
        image = tf.cast(example["image"], tf.float32)
        if grey:
            image = tf.image.grayscale_to_rgb(image)
        size = tf.shape(image)[:2]
        image = tf.ensure_shape(tf.image.resize(image, (height, width)), (height, width, 3))
        objects = example["objects"]
        labels = tf.cast(objects["label"], tf.int32)
        no = tf.zeros_like(labels, dtype=tf.bool)
        return {
            "image": image,
            "size": size,
            "boxes": tf.reshape(tf.cast(objects["bbox"], tf.float32), (-1, 4)),
            "classes": labels,
            "difficult": tf.cast(objects["difficult"], tf.bool) if "difficult" in objects else no,
            "iscrowd": tf.cast(objects["iscrowd"], tf.bool) if "iscrowd" in objects else no,
            "weights": (
                tf.cast(objects["weight"], tf.float32) if "weight" in objects
                else tf.ones_like(labels, dtype=tf.float32)
            ),
        }

    batches = examples.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    batches = batches.ragged_batch(batch_size).prefetch(tf.data.AUTOTUNE)
    total = batches.cardinality().numpy()
    bar = keras.utils.Progbar(total if total > 0 else None, unit_name="batch") if progress else None
    ground_truth, detections, image_sizes = [], [], []
    for step, batch in enumerate(batches):
        detections.extend(unbatch_detections(model.predict_on_batch(batch["image"])))
        for index in range(int(batch["image"].shape[0])):
            ground_truth.append({
                key: batch[key][index].numpy() for key in _TRUTH_KEYS
            })  # fmt: skip
            image_sizes.append(tuple(int(s) for s in batch["size"][index].numpy()))
        if bar is not None:
            bar.update(step + 1)
    return ground_truth, detections, image_sizes


def evaluate_examples(model, examples, class_names, batch_size=32, voc=False, progress=True):
    """COCO (and optionally Pascal VOC) evaluation of `model` on reader examples.

    Args:
        model: see `predict_examples`.
        examples: see `predict_examples`.
        class_names: sequence of str, one per class.
        batch_size: int. Images per prediction batch. Defaults to 32.
        voc: bool. Also compute the VOC APs (`evaluate_voc`). Defaults to False.
        progress: bool. Show a progress bar. Defaults to True.

    Returns:
        A tuple `(coco_report, voc_report)`: a `DetectionReport` (areas in original
        pixels) and a `VOCReport`, or `None` without `voc`.

    Raises:
        ValueError: as `predict_examples`, `evaluate_detections` and `evaluate_voc`.
    """
    ground_truth, detections, image_sizes = predict_examples(
        model, examples, batch_size=batch_size, progress=progress
    )
    if not ground_truth:
        raise ValueError("evaluate_examples: the dataset has no examples.")
    coco_truth = [{k: t[k] for k in ("boxes", "classes", "iscrowd")} for t in ground_truth]
    coco = evaluate_detections(coco_truth, detections, class_names, image_size=image_sizes)
    if not voc:
        return coco, None
    voc_truth = [{k: t[k] for k in ("boxes", "classes", "difficult")} for t in ground_truth]
    return coco, evaluate_voc(voc_truth, detections, class_names)
