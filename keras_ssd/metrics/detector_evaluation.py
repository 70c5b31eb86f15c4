"""The evaluation an imbalanced-data user looks at first, for the CLI and for notebooks.

`evaluate_detector` runs a model (an `SSD`, a `.keras` file or an exported SavedModel)
over reader examples (docs/conventions.md) and returns an `EvaluationReport`: per-class
AP50, COCO AP and recall, the detection confusion matrix (which classes are mistaken for
which, `confusion_matrix.py`) and, on request, Pascal VOC AP. The data's classes are
matched to the model's **by name** (`class_matching.py`), so a dataset that lists its
classes in another order is still scored under the right names.

Example:

```python
from keras_ssd.data.sources import load_examples
from keras_ssd.metrics import evaluate_detector

examples, class_names = load_examples("my_voc_folder", split="test")
report = evaluate_detector("runs/model.keras", examples, class_names)
print(report.format_table())
print(report.confusion.format_table())
report.save_figures("evaluation")  # confusion_matrix.png, precision_recall.png
```
"""

import dataclasses
import os

import numpy as np

from keras_ssd.utils.atomic_files import save_figure_atomically
from keras_ssd.metrics.class_matching import match_classes
from keras_ssd.metrics.class_matching import remap_examples
from keras_ssd.metrics.class_table import format_class_table
from keras_ssd.metrics.coco_evaluation import evaluate_detections
from keras_ssd.metrics.confusion_matrix import check_thresholds
from keras_ssd.metrics.confusion_matrix import detection_confusion_matrix
from keras_ssd.metrics.example_evaluation import predict_examples
from keras_ssd.metrics.voc_evaluation import evaluate_voc

CONFUSION_MATRIX_FILE = "confusion_matrix.png"
PRECISION_RECALL_FILE = "precision_recall.png"
_COLUMNS = (("AP50", "AP50"), ("AP", "AP"), ("recall50", "recall50"), ("AR100", "AR100"))


@dataclasses.dataclass(frozen=True, eq=False)
class EvaluationReport:
    """Result of `evaluate_detector`.

    Attributes:
        class_names: list of str, in the model's class order.
        coco: `DetectionReport`. COCO summary and per-class `"AP50"`, `"AP"`,
            `"recall50"`, `"AR100"`, with the precision-recall curves (`precision50`).
        confusion: `ConfusionMatrix`. Rows ground truth (+ "background"), columns
            detections (+ "missed").
        voc: `VOCReport`, or None unless asked for.
    """

    class_names: list
    coco: object
    confusion: object
    voc: object = None

    def format_table(self):
        """Per-class AP50, COCO AP, recall at IoU 0.5 and COCO AR@100 as plain text.

        Returns:
            str. One row per class, a header and a mean row (over classes with ground
            truth), no trailing newline.
        """
        means = [_nanmean([row[key] for row in self.coco.per_class]) for _, key in _COLUMNS]
        return format_class_table(self.coco.per_class, list(_COLUMNS), means)

    def to_dict(self):
        """The report as plain Python values (for JSON).

        Returns:
            dict with `"class_names"`, `"summary"` (COCO's twelve numbers), `"per_class"`
            (one dict per class; None for the NaN of a class without ground truth),
            `"confusion_matrix"` (nested lists, rows ground truth), `"score_threshold"`,
            `"iou_threshold"` and, with VOC, `"voc_per_class"`.
        """
        result = {
            "class_names": list(self.class_names),
            "summary": dict(self.coco.summary),
            "per_class": [_without_nan(row) for row in self.coco.per_class],
            "confusion_matrix": self.confusion.matrix.tolist(),
            "score_threshold": self.confusion.score_threshold,
            "iou_threshold": self.confusion.iou_threshold,
        }
        if self.voc is not None:
            result["voc_per_class"] = [_without_nan(row) for row in self.voc.per_class]
        return result

    def save_figures(self, output_dir):
        """Draws the confusion matrix and the precision-recall curves as PNG files.

        Args:
            output_dir: str. Folder for `confusion_matrix.png` and
                `precision_recall.png` (created if missing).

        Returns:
            dict from `"confusion_matrix"` and `"precision_recall"` to the paths written.
        """
        from keras_ssd.visualization.confusion_matrix import plot_confusion_matrix
        from keras_ssd.visualization.precision_recall import plot_precision_recall

        os.makedirs(output_dir, exist_ok=True)
        paths = {
            "confusion_matrix": os.path.join(output_dir, CONFUSION_MATRIX_FILE),
            "precision_recall": os.path.join(output_dir, PRECISION_RECALL_FILE),
        }
        save_figure_atomically(plot_confusion_matrix(self.confusion), paths["confusion_matrix"], dpi=100)
        save_figure_atomically(plot_precision_recall(self.coco), paths["precision_recall"], dpi=100)
        return paths


class _ExportedPredictor:
    """A SavedModel `Detector` behind the `predict_on_batch` of an `SSD`."""

    def __init__(self, detector):
        self.detector = detector
        self.image_size = detector.image_size

    def predict_on_batch(self, images):
        # The export takes uint8 pixels: the resized float images are rounded.
        pixels = np.clip(np.rint(np.asarray(images)), 0, 255).astype(np.uint8)
        return self.detector.detect_batch(pixels)


def load_predictor(model):
    """A model to evaluate, its class names and its number of classes.

    Args:
        model: an `SSD` (or anything with `predict_on_batch`, `num_classes` and
            `class_names`), a `keras_ssd.inference.Detector`, or the path of a `.keras` file
            or an exported SavedModel directory.

    Returns:
        A tuple `(predictor, class_names, num_classes)`: `predictor` has
        `predict_on_batch` and `image_size`; `class_names` is None for a model without.

    Raises:
        FileNotFoundError, ValueError: a path that is not a keras_ssd model.
        TypeError: another kind of object.
    """
    from keras_ssd.inference.detector import Detector

    if isinstance(model, (str, os.PathLike)):
        model = Detector(model)
    if isinstance(model, Detector):
        if model.kind == "keras":
            return model.model, model.class_names, model.num_classes
        return _ExportedPredictor(model), model.class_names, model.num_classes
    if not hasattr(model, "predict_on_batch") or not hasattr(model, "num_classes"):
        raise TypeError(
            f"evaluate_detector: model must be an SSD, a Detector or the path of a .keras "
            f"file or SavedModel directory, got {type(model).__name__}."
        )
    return model, getattr(model, "class_names", None), int(model.num_classes)


def evaluate_detector(
    model,
    examples,
    class_names,
    batch_size=32,
    score_threshold=0.5,
    iou_threshold=0.5,
    voc=False,
    progress=True,
):
    """Per-class AP and recall, the confusion matrix and optionally VOC AP of a model.

    Args:
        model: an `SSD`, a `keras_ssd.inference.Detector`, or the path of a `.keras` file
            or an exported SavedModel directory (see `load_predictor`).
        examples: unbatched `tf.data.Dataset` of reader examples with images
            (`keras_ssd.data.sources.load_examples`).
        class_names: sequence of str. The data's class names, indexed by its labels;
            matched to the model's by name (by position when the model has none).
        batch_size: int >= 1. Images per prediction batch. Defaults to 32.
        score_threshold: float in `[0, 1]`. Minimum score of a detection counted in the
            confusion matrix (the APs use every detection the model returns). Defaults
            to 0.5.
        iou_threshold: float in `(0, 1]`. Minimum IoU of a match in the confusion matrix.
            Defaults to 0.5.
        voc: bool. Also compute Pascal VOC AP. Defaults to False.
        progress: bool. Show a `keras.utils.Progbar` over the batches. Defaults to True.

    Returns:
        An `EvaluationReport` (`format_table()`, `.confusion.format_table()`,
        `to_dict()`, `save_figures(folder)`), with classes in the model's order.

    Raises:
        ValueError: the model's and the data's classes differ, a threshold is out of
            range, or the examples are empty or invalid.
    """
    # Bad thresholds fail before the long prediction, not after it.
    check_thresholds(score_threshold, iou_threshold)
    predictor, model_names, num_classes = load_predictor(model)
    mapping, names = match_classes(class_names, model_names, num_classes)
    ground_truth, detections, image_sizes = predict_examples(
        predictor, remap_examples(examples, mapping), batch_size=batch_size, progress=progress
    )
    if not ground_truth:
        raise ValueError("evaluate_detector: the dataset has no examples.")
    confusion = detection_confusion_matrix(
        [{
            "boxes": truth["boxes"], "classes": truth["classes"],
            # A crowd box is an ignore region, as a box of weight 0 (docs/conventions.md).
            "weights": np.where(truth["iscrowd"], 0.0, truth["weights"]),
        } for truth in ground_truth],
        detections, names, score_threshold=score_threshold, iou_threshold=iou_threshold,
    )  # fmt: skip
    coco_truth = [{k: t[k] for k in ("boxes", "classes", "iscrowd")} for t in ground_truth]
    coco = evaluate_detections(coco_truth, detections, names, image_size=image_sizes)
    voc_report = None
    if voc:
        voc_truth = [{k: t[k] for k in ("boxes", "classes", "difficult")} for t in ground_truth]
        voc_report = evaluate_voc(voc_truth, detections, names)
    return EvaluationReport(class_names=names, coco=coco, confusion=confusion, voc=voc_report)


def _nanmean(values):
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    return float(np.mean(values)) if values.size else float("nan")


def _without_nan(row):
    """A row of plain Python values; NaN becomes None (strict JSON has no NaN)."""

    def plain(value):
        if isinstance(value, np.ndarray):
            return [plain(item) for item in value.tolist()]
        if isinstance(value, np.generic):
            value = value.item()
        return None if isinstance(value, float) and np.isnan(value) else value

    return {key: plain(value) for key, value in row.items()}
