"""TFLite export with decoding and NMS inside, in builtin TFLite ops only.

`tf.image.combined_non_max_suppression` (the NMS of keras-cv and of the SavedModel) has no
TFLite builtin; it converts only as a Flex (SELECT_TF_OPS) op, which the stock
`tf.lite.Interpreter` and most mobile runtimes cannot run without the extra Flex library.
This export therefore runs the same per-class NMS as one builtin `NON_MAX_SUPPRESSION_V5`
per class followed by a builtin `TOPK_V2` over all classes: a model of plain builtins.

The TFLite model takes one image, `uint8 [1, image_size, image_size, 3]` (mobile
runtimes resize with their own image pipeline; a fixed shape keeps delegates happy), and
returns the SavedModel's four outputs (same names, 1-based `detection_classes`, see
`keras_ssd.export.saved_model`) plus the detections before NMS, as the TF OD API does:
`raw_detection_boxes` `[1, num_anchors, 4]` (decoded, normalised yxyx) and
`raw_detection_scores` `[1, num_anchors, num_classes]` (no background column).
"""

import os

import tensorflow as tf

from keras_ssd.export.saved_model import (
    CLASS_ID_OFFSET,
    INPUT_NAME,
    _check_model,
    class_names_of,
    export_decoder,
    tracked_variables,
    write_labels,
)

QUANTIZATIONS = (None, "dynamic_range")


def export_tflite(
    model, path, quantize=None, score_threshold=None, iou_threshold=None, max_detections=None
):
    """Converts `model` to a TFLite flatbuffer with decoding and NMS inside.

    Also writes the class names next to it, one per line, to `<path without
    .tflite>.labels.txt`.

    Args:
        model: a built `keras_ssd.SSD`.
        path: str. The `.tflite` file to write (its directory is created).
        quantize: None (float32) or `"dynamic_range"` (int8 weights, float
            activations: about 4x smaller for MobileNetV2). Defaults to None.
        score_threshold: float or None. As in `export_saved_model`; None keeps
            the model's value.
        iou_threshold: float or None. Likewise.
        max_detections: int or None. Likewise.

    Returns:
        str. `path`.

    Raises:
        TypeError: `model` is not an SSD.
        ValueError: unknown `quantize`, an option out of range, or `path` is a directory.

    Example:

    ```python
    export_tflite(model, "ssd.tflite", quantize="dynamic_range")
    runner = tf.lite.Interpreter("ssd.tflite").get_signature_runner()
    outputs = runner(images=np.zeros([1, 300, 300, 3], np.uint8))
    ```
    """
    _check_model(model)
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"quantize must be one of {QUANTIZATIONS}, got {quantize!r}.")
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(
            f"Cannot write a TFLite model to {path!r}: it is a directory. Give a file path "
            "such as 'model.tflite'."
        )
    decoder = export_decoder(model, score_threshold, iou_threshold, max_detections)
    image_size = model.image_size
    num_classes = model.num_classes

    @tf.function(
        input_signature=[tf.TensorSpec([1, image_size, image_size, 3], tf.uint8, name=INPUT_NAME)]
    )
    def serve(images):
        outputs = model(tf.cast(images, tf.float32), training=False)
        boxes = tf.clip_by_value(decoder.box_coder.decode(outputs["boxes"], decoder.anchors), 0.0, 1.0)
        scores = tf.cast(decoder.scores(outputs["classes"]), tf.float32)
        detections = per_class_non_max_suppression(
            boxes[0],
            scores[0],
            num_classes,
            max_detections=decoder.max_detections,
            max_detections_per_class=decoder.max_detections_per_class,
            iou_threshold=decoder.iou_threshold,
            score_threshold=decoder.confidence_threshold,
        )
        detections = {name: value[tf.newaxis] for name, value in detections.items()}
        detections["raw_detection_boxes"] = boxes
        detections["raw_detection_scores"] = scores
        return detections

    module = tf.Module(name="keras_ssd_tflite")
    module.model_variables = tracked_variables(model)
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [serve.get_concrete_function()], module
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantize == "dynamic_range":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    flatbuffer = converter.convert()
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(flatbuffer)
    write_labels(labels_path_for(path), class_names_of(model))
    return path


def labels_path_for(path):
    """`model.tflite` -> `model.labels.txt`."""
    stem = path[: -len(".tflite")] if path.endswith(".tflite") else path
    return stem + ".labels.txt"


def per_class_non_max_suppression(
    boxes,
    scores,
    num_classes,
    max_detections,
    max_detections_per_class,
    iou_threshold,
    score_threshold,
):
    """`combined_non_max_suppression` of one image with TFLite builtin ops.

    Each class keeps at most `max_detections_per_class` boxes after NMS; the
    `max_detections` best of all classes are returned, best first. The loop over
    classes unrolls at trace time into one NMS op per class.

    Args:
        boxes: `[num_anchors, 4]` float32 normalised yxyx.
        scores: `[num_anchors, num_classes]` float32.
        num_classes: int.
        max_detections, max_detections_per_class: ints.
        iou_threshold, score_threshold: floats.

    Returns:
        dict with the TF OD API names: `detection_boxes` `[max_detections, 4]`,
        `detection_scores`, `detection_classes` (1-based) `[max_detections]` and
        `num_detections` `[]`, float32; padding rows hold zeros.
    """
    per_class = min(max_detections_per_class, int(boxes.shape[0]))
    kept_scores, kept_boxes, kept_classes = [], [], []
    for class_id in range(num_classes):
        indices, class_scores, count = tf.raw_ops.NonMaxSuppressionV5(
            boxes=boxes,
            scores=scores[:, class_id],
            max_output_size=per_class,
            iou_threshold=iou_threshold,
            score_threshold=score_threshold,
            soft_nms_sigma=0.0,
            pad_to_max_output_size=True,
        )
        valid = tf.range(per_class) < count
        # -1 ranks padding below every real score (scores are >= 0).
        kept_scores.append(tf.where(valid, class_scores, -1.0))
        kept_boxes.append(tf.gather(boxes, indices))
        kept_classes.append(tf.fill([per_class], float(class_id + CLASS_ID_OFFSET)))
    all_scores = tf.concat(kept_scores, axis=0)
    top_k = min(max_detections, per_class * num_classes)
    top_scores, top_indices = tf.math.top_k(all_scores, k=top_k)
    valid = top_scores >= 0.0
    padding = max_detections - top_k
    outputs = {
        "detection_boxes": tf.where(
            valid[:, tf.newaxis], tf.gather(tf.concat(kept_boxes, axis=0), top_indices), 0.0
        ),
        "detection_scores": tf.where(valid, top_scores, 0.0),
        "detection_classes": tf.where(valid, tf.gather(tf.concat(kept_classes, 0), top_indices), 0.0),
    }
    if padding:
        outputs["detection_boxes"] = tf.pad(outputs["detection_boxes"], [[0, padding], [0, 0]])
        for name in ("detection_scores", "detection_classes"):
            outputs[name] = tf.pad(outputs[name], [[0, padding]])
    outputs["num_detections"] = tf.reduce_sum(tf.cast(valid, tf.float32))
    return outputs
