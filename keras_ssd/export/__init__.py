"""Export with decoding and NMS inside: TensorFlow SavedModel and TFLite.

`SSD.export(path)` calls `export_model`. Exported models use the TF Object Detection
API output names and its 1-based class ids (`CLASS_ID_OFFSET`); see
`keras_ssd.export.saved_model` and `keras_ssd.export.tflite` for the details. The export
takes any model with the `SSD`'s attributes and imports nothing from `models/` (which calls
it, as Keras' `Model.export` calls `keras.export`); reading exported models back is
`keras_ssd.inference`.
"""

from keras_ssd.export.saved_model import CLASS_ID_OFFSET, OUTPUT_NAMES, export_saved_model
from keras_ssd.export.tflite import export_tflite

FORMATS = ("saved_model", "tflite")
# Keras' own name for a SavedModel export, so `model.export(path, format="tf_saved_model")`
# written for any Keras model also gets decoding and NMS.
_ALIASES = {"tf_saved_model": "saved_model"}


def export_model(model, filepath, format="saved_model", **options):
    """Exports an SSD with decoding and NMS inside.

    Args:
        model: a `keras_ssd.SSD` (or a model with its `detect`, `image_size` and
            thresholds).
        filepath: SavedModel directory, or `.tflite` file.
        format: `"saved_model"` (alias `"tf_saved_model"`) or `"tflite"`.
        **options: `score_threshold`, `iou_threshold`, `max_detections`; for
            TFLite also `quantize` (None or `"dynamic_range"`).

    Returns:
        str. `filepath`.

    Raises:
        ValueError: unknown format or option.
    """
    format = _ALIASES.get(format, format)
    exporters = {"saved_model": export_saved_model, "tflite": export_tflite}
    if format not in exporters:
        raise ValueError(f"Unknown export format {format!r}; expected one of {FORMATS}.")
    allowed = {"score_threshold", "iou_threshold", "max_detections"}
    if format == "tflite":
        allowed.add("quantize")
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValueError(
            f"Unknown option(s) {unknown} for format {format!r}; expected some of {sorted(allowed)}."
        )
    return exporters[format](model, filepath, **options)


__all__ = [
    "CLASS_ID_OFFSET",
    "FORMATS",
    "OUTPUT_NAMES",
    "export_model",
    "export_saved_model",
    "export_tflite",
]
