"""SavedModel export: uint8 images of any size in, TF Object Detection API detections out.

The exported `serving_default` signature resizes, runs the network, decodes the boxes and
applies non-maximum suppression, so a serving stack needs no keras_ssd, keras-cv or Keras
code to use it: `tf.saved_model.load` is enough.

Class ids: the TF Object Detection API numbers classes from 1 (0 is background), and so
does `detection_classes` here: object class `k` of keras_ssd (`docs/conventions.md`) is
`k + 1` (`CLASS_ID_OFFSET`); padding rows have class 0 and score 0. The class names are in
the `metadata` signature (`class_names[k]` names `detection_classes == k + 1`) and in
`assets/labels.txt`, one name per line, in the order of `k`.
"""

import os
import tempfile

import tensorflow as tf

from keras_ssd.utils.atomic_files import write_text_atomically
from keras_ssd.postprocess.detection_decoder import DetectionDecoder
from keras_ssd.version import __version__

SERVING_SIGNATURE = "serving_default"
METADATA_SIGNATURE = "metadata"
INPUT_NAME = "images"
OUTPUT_NAMES = ("detection_boxes", "detection_scores", "detection_classes", "num_detections")
LABELS_FILE = "labels.txt"
CLASS_ID_OFFSET = 1
"""Added to keras_ssd's 0-based class ids in exported models (TF OD API: 1-based)."""


def export_saved_model(
    model, path, score_threshold=None, iou_threshold=None, max_detections=None
):
    """Writes `model` as a TensorFlow SavedModel with decoding and NMS inside.

    Signatures:
        `serving_default(images)`: `images` `uint8 [batch, height, width, 3]`, any
        size (all images of one batch share it). Returns, as the TF OD API does,
        `detection_boxes` `float32 [batch, max_detections, 4]` normalised
        `[ymin, xmin, ymax, xmax]`, `detection_scores` `float32 [batch, max_detections]`,
        `detection_classes` `float32 [batch, max_detections]` (1-based, see the module
        docstring; 0 on padding rows) and `num_detections` `float32 [batch]`.
        `metadata()`: `class_names` `string [num_classes]`, `num_classes`, `image_size`,
        `class_id_offset` (int32 scalars), `score_threshold`, `iou_threshold` (float32),
        `max_detections` (int32) and `keras_ssd_version` (string).

    Images are resized to `model.image_size` (bilinear, as `tf.image.resize`) and passed
    as float32 in `[0, 255]`, which is what `SSD` expects; for a batch already at that
    size the detections equal `model.predict` on the same pixels.

    Args:
        model: a built `keras_ssd.SSD`.
        path: str. Directory to write (created; files of an earlier export are replaced).
        score_threshold: float in `[0, 1]`. Minimum detection score. Defaults to the
            model's `confidence_threshold`.
        iou_threshold: float in `(0, 1]`. NMS IoU threshold. Defaults to the model's.
        max_detections: int. Detections per image. Defaults to the model's.

    Returns:
        str. `path`.

    Raises:
        TypeError: `model` is not an SSD.
        ValueError: an option is out of range or `path` is an existing file.

    Example:

    ```python
    export_saved_model(model, "exported/ssd", score_threshold=0.3)
    detector = tf.saved_model.load("exported/ssd").signatures["serving_default"]
    outputs = detector(images=tf.zeros([1, 480, 640, 3], tf.uint8))
    ```
    """
    _check_model(model)
    path = os.fspath(path)
    if os.path.isfile(path):
        raise ValueError(
            f"Cannot export a SavedModel to {path!r}: it is a file. A SavedModel is a "
            "directory; give a new or existing directory path."
        )
    decoder = export_decoder(model, score_threshold, iou_threshold, max_detections)
    image_size = model.image_size
    class_names = class_names_of(model)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name=INPUT_NAME)])
    def serve(images):
        outputs = model(resize_images(images, image_size), training=False)
        detections = decoder(outputs["boxes"], outputs["classes"])
        return to_object_detection_outputs(detections)

    metadata_values = {
        "class_names": tf.constant(class_names, tf.string),
        "num_classes": tf.constant(model.num_classes, tf.int32),
        "image_size": tf.constant(image_size, tf.int32),
        "class_id_offset": tf.constant(CLASS_ID_OFFSET, tf.int32),
        "score_threshold": tf.constant(decoder.confidence_threshold, tf.float32),
        "iou_threshold": tf.constant(decoder.iou_threshold, tf.float32),
        "max_detections": tf.constant(decoder.max_detections, tf.int32),
        "keras_ssd_version": tf.constant(__version__, tf.string),
    }

    @tf.function(input_signature=[])
    def metadata():
        return {name: tf.identity(value) for name, value in metadata_values.items()}

    with tempfile.TemporaryDirectory() as scratch:
        labels_path = os.path.join(scratch, LABELS_FILE)
        write_labels(labels_path, class_names)
        module = tf.Module(name="keras_ssd_detector")
        module.model_variables = tracked_variables(model)
        module.labels_file = tf.saved_model.Asset(labels_path)
        module.serve = serve
        module.metadata = metadata
        tf.saved_model.save(
            module,
            path,
            signatures={
                SERVING_SIGNATURE: serve.get_concrete_function(),
                METADATA_SIGNATURE: metadata.get_concrete_function(),
            },
        )
    return path


def export_decoder(model, score_threshold=None, iou_threshold=None, max_detections=None):
    """The model's `DetectionDecoder`, or a copy of it with other export options.

    Args:
        model: an `SSD`.
        score_threshold, iou_threshold, max_detections: None keeps the model's value.

    Returns:
        A `DetectionDecoder` (the model's own when every option is None).

    Raises:
        ValueError: an option is out of range.
    """
    if score_threshold is None and iou_threshold is None and max_detections is None:
        return model.decoder
    if max_detections is not None and (
        isinstance(max_detections, bool) or not isinstance(max_detections, int) or max_detections < 1
    ):
        raise ValueError(f"max_detections must be a positive int, got {max_detections!r}.")
    current = model.decoder
    return DetectionDecoder(
        model.anchor_generator,
        background_logit=current.background_logit,
        variances=current.box_coder.variances,
        confidence_threshold=(
            current.confidence_threshold if score_threshold is None else float(score_threshold)
        ),
        iou_threshold=current.iou_threshold if iou_threshold is None else float(iou_threshold),
        max_detections=current.max_detections if max_detections is None else max_detections,
        max_detections_per_class=(
            current.max_detections_per_class if max_detections is None else max_detections
        ),
        name="export_detection_decoder",
    )


def resize_images(images, image_size):
    """uint8 (or float) `[batch, h, w, 3]` images to float32 `[batch, s, s, 3]` in `[0, 255]`."""
    images = tf.cast(images, tf.float32)
    shape = tf.shape(images)
    # A same-size bilinear resize returns its input, at the cost of a pass over the batch.
    resized = tf.cond(
        tf.logical_and(tf.equal(shape[1], image_size), tf.equal(shape[2], image_size)),
        lambda: images,
        lambda: tf.image.resize(images, (image_size, image_size), method="bilinear"),
    )
    return tf.ensure_shape(resized, [None, image_size, image_size, 3])


def to_object_detection_outputs(detections):
    """The keras-cv detections dict in TF OD API names, dtypes and class ids.

    Args:
        detections: dict from `DetectionDecoder` (`boxes`, `classes` with -1 padding,
            `confidence`, `num_detections`).

    Returns:
        dict of float32 tensors named as in `OUTPUT_NAMES`; padding rows hold zeros.
    """
    count = tf.cast(detections["num_detections"], tf.int32)
    max_detections = tf.shape(detections["confidence"])[1]
    valid = tf.range(max_detections)[tf.newaxis, :] < count[:, tf.newaxis]
    boxes = tf.cast(detections["boxes"], tf.float32)
    classes = tf.cast(detections["classes"], tf.float32) + float(CLASS_ID_OFFSET)
    scores = tf.cast(detections["confidence"], tf.float32)
    return {
        "detection_boxes": tf.where(valid[..., tf.newaxis], boxes, 0.0),
        "detection_scores": tf.where(valid, scores, 0.0),
        "detection_classes": tf.where(valid, classes, 0.0),
        "num_detections": tf.cast(count, tf.float32),
    }


def tracked_variables(model):
    """The model's weights as the `tf.Variable`s under Keras' variables.

    Framework quirk: the TFLite converter freezes Keras 3 variable wrappers tracked on a
    module into garbage (NaN or 1e33 weights, TF 2.21), while the plain `tf.Variable`s
    convert correctly; SavedModels work with both, so both exports track these.
    """
    return [variable.value for variable in model.variables]


def class_names_of(model):
    """The model's class names, or `class_0`, `class_1`, ... when it has none."""
    if model.class_names is not None:
        return [str(name) for name in model.class_names]
    return [f"class_{index}" for index in range(model.num_classes)]


def write_labels(path, class_names):
    """Writes one class name per line (`labels.txt`)."""
    for name in class_names:
        if "\n" in name or "\r" in name:
            raise ValueError(f"Class name {name!r} contains a line break; labels.txt needs one per line.")
    write_text_atomically(path, "".join(f"{name}\n" for name in class_names))


def _check_model(model):
    needed = ("decoder", "anchor_generator", "image_size", "num_classes", "class_names")
    missing = [name for name in needed if not hasattr(model, name)]
    if missing:
        raise TypeError(
            f"Expected a keras_ssd.SSD, got {type(model).__name__} (it lacks {missing}). "
            "Load a saved SSD with keras.saving.load_model first."
        )
