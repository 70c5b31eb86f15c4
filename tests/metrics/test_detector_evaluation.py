"""`evaluate_detector`: per-class AP under the right names, the confusion matrix, the figures."""

import json

import numpy as np
import pytest
import tensorflow as tf

from keras_ssd.metrics import EvaluationReport, evaluate_detector
from keras_ssd.visualization import plot_confusion_matrix, plot_precision_recall
from tests.conftest import make_detecting_model, random_images

A, B, C, D = [0.0, 0.0, 0.4, 0.4], [0.0, 0.5, 0.4, 0.9], [0.5, 0.0, 0.9, 0.4], [0.5, 0.5, 0.9, 0.9]
EMPTY = [0.45, 0.45, 0.55, 0.55]
MODEL_NAMES = ["cat", "dog", "bird"]
DATA_NAMES = ["dog", "cat", "bird"]  # the data lists the same classes in another order


class _FixedModel:
    """In every image: a cat on box A, a cat on box B and a bird on nothing (model ids)."""

    image_size = 32
    num_classes = 3
    class_names = MODEL_NAMES

    def predict_on_batch(self, images):
        batch = images.shape[0]
        return {
            "boxes": np.tile(np.array([[A, B, EMPTY]], np.float32), (batch, 1, 1)),
            "classes": np.tile([[0, 0, 2]], (batch, 1)),
            "confidence": np.tile(np.array([[0.9, 0.8, 0.7]], np.float32), (batch, 1)),
            "num_detections": np.full(batch, 3),
        }


def _examples(num_images=2, size=40):
    """A cat on A, a dog on B, a bird on C and a weight-0 dog on D, in data ids."""
    labels = np.array([DATA_NAMES.index(n) for n in ("cat", "dog", "bird", "dog")], np.int64)
    example = {
        "image": np.full((size, size, 3), 100, np.uint8),
        "objects": {
            "bbox": np.array([A, B, C, D], np.float32), "label": labels,
            "weight": np.array([1.0, 1.0, 1.0, 0.0], np.float32),
            "difficult": np.zeros(4, bool), "iscrowd": np.zeros(4, bool),
        },
    }  # fmt: skip
    return tf.data.Dataset.from_tensors(example).repeat(num_images)


def test_hand_made_detections_are_counted_under_the_model_names():
    report = evaluate_detector(_FixedModel(), _examples(), DATA_NAMES, batch_size=2, progress=False)
    assert isinstance(report, EvaluationReport)
    assert report.class_names == MODEL_NAMES
    # Per image: cat found as cat, dog taken for a cat, bird missed, a bird on nothing;
    # the weight-0 dog on D is neither matched nor missed.
    assert report.confusion.matrix.tolist() == [
        [2, 0, 0, 0],
        [2, 0, 0, 0],
        [0, 0, 0, 2],
        [0, 0, 2, 0],
    ]
    rows = {row["name"]: row for row in report.coco.per_class}
    # COCO knows no weights: the D dogs count as dog boxes (missed).
    assert [rows[name]["num_boxes"] for name in MODEL_NAMES] == [2, 4, 2]
    assert rows["cat"]["AP50"] == pytest.approx(1.0) and rows["cat"]["recall50"] == pytest.approx(1.0)
    assert rows["dog"]["AP50"] == 0.0 and rows["dog"]["recall50"] == 0.0
    assert rows["bird"]["AP50"] == 0.0 and rows["bird"]["AR100"] == 0.0
    lines = report.format_table().splitlines()
    assert lines[0].split() == ["class", "boxes", "AP50", "AP", "recall50", "AR100"]
    assert [line.split()[0] for line in lines[2:5]] == MODEL_NAMES
    assert lines[-1].split()[:3] == ["mean", "8", f"{1 / 3:.3f}"]
    result = json.loads(json.dumps(report.to_dict()))
    assert result["confusion_matrix"][3] == [0, 0, 2, 0]
    assert result["per_class"][0]["name"] == "cat"


def test_class_names_that_differ_are_an_error():
    with pytest.raises(ValueError, match=r"the data has \['horse'\].*the model has \['cat'\]"):
        evaluate_detector(_FixedModel(), _examples(), ["dog", "horse", "bird"], progress=False)


def test_figures(tmp_path):
    report = evaluate_detector(_FixedModel(), _examples(), DATA_NAMES, progress=False)
    paths = report.save_figures(str(tmp_path / "out"))
    for path in paths.values():
        with open(path, "rb") as handle:
            assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    ax = plot_confusion_matrix(report.confusion).axes[0]
    shares = np.asarray(ax.images[0].get_array())
    np.testing.assert_allclose(shares[:, 0], [1.0, 1.0, 0.0, 0.0])  # rows normalised
    np.testing.assert_allclose(shares[2], [0.0, 0.0, 0.0, 1.0])
    assert [text.get_text() for text in ax.texts][-4:] == ["0", "0", "2", "-"]
    counts = plot_confusion_matrix(report.confusion, normalize=False).axes[0]
    assert np.asarray(counts.images[0].get_array())[3, 2] == 2
    ax = plot_precision_recall(report).axes[0]
    assert [line.get_label() for line in ax.lines] == [
        "cat (AP50 1.000)", "dog (AP50 0.000)", "bird (AP50 0.000)"
    ]
    recall, precision = ax.lines[0].get_data()
    assert recall[-1] == pytest.approx(1.0) and np.all(precision == 1.0)
    assert len(ax.lines[1].get_xdata()) == 1  # recall 0 only
    with pytest.raises(ValueError, match="plot_precision_recall expects"):
        plot_precision_recall({"AP": 1.0})
    with pytest.raises(TypeError, match="expects a keras_ssd.metrics.ConfusionMatrix"):
        plot_confusion_matrix(np.zeros((2, 2)))


def test_keras_file_and_saved_model_give_the_same_report(tmp_path):
    model = make_detecting_model(confidence_threshold=0.3)
    model.save(tmp_path / "model.keras")
    export_dir = model.export(str(tmp_path / "exported"))
    images = random_images(4, seed=3)
    boxes = np.array([[A, B], [C, D], [A, D], [B, C]], np.float32)
    labels = np.array([[0, 1], [2, 1], [1, 0], [2, 2]], np.int64)  # in DATA_NAMES ids
    examples = tf.data.Dataset.from_tensor_slices(
        {"image": images, "objects": {"bbox": boxes, "label": labels}}
    )
    reports = [
        evaluate_detector(source, examples, DATA_NAMES, batch_size=3, score_threshold=0.3, progress=False)
        for source in (model, str(tmp_path / "model.keras"), export_dir)
    ]
    first = reports[0]
    assert first.confusion.matrix.sum() > 0  # the random model does detect things
    for other in reports[1:]:
        assert other.class_names == MODEL_NAMES
        np.testing.assert_array_equal(other.confusion.matrix, first.confusion.matrix)
        for mine, theirs in zip(first.coco.per_class, other.coco.per_class):
            assert mine["name"] == theirs["name"]
            np.testing.assert_allclose(mine["AP50"], theirs["AP50"], atol=1e-6)
            np.testing.assert_allclose(mine["recall50"], theirs["recall50"], atol=1e-6)
    # Every ground-truth box lands in exactly one cell of its class's row.
    per_class = np.bincount([MODEL_NAMES.index(DATA_NAMES[k]) for k in labels.ravel()], minlength=3)
    np.testing.assert_array_equal(first.confusion.matrix[:3].sum(axis=1), per_class)
