"""Tests of the DetectionMetrics callback during fit, with History and TensorBoard."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssd.data.synthetic_shapes import render_example
from keras_ssd.metrics.detection_metrics_callback import DetectionMetrics
from tests.conftest import tiny_ssd

CLASS_NAMES = ["circle", "square", "triangle"]


def _dataset(num_images=8, image_size=64, max_boxes=6):
    images = np.zeros((num_images, image_size, image_size, 3), "float32")
    boxes = np.zeros((num_images, max_boxes, 4), "float32")
    classes = -np.ones((num_images, max_boxes), "int32")
    for index in range(num_images):
        image, image_boxes, labels = render_example(index, image_size=image_size)
        keep = labels < len(CLASS_NAMES)  # the tiny model knows 3 of the 5 shapes
        count = int(keep.sum())
        images[index] = image
        boxes[index, :count], classes[index, :count] = image_boxes[keep], labels[keep]
    return tf.data.Dataset.from_tensor_slices((images, {"boxes": boxes, "classes": classes})).batch(4)


class _Recorder(keras.callbacks.Callback):
    """Keeps the keys of each epoch's logs, as TensorBoard reads them (the package
    `tensorboard` is not installed here, so the real callback cannot write)."""

    def __init__(self):
        super().__init__()
        self.keys = []

    def on_epoch_end(self, epoch, logs=None):
        self.keys.append(set(logs))


def test_metrics_land_in_history_and_later_callbacks_only_at_evaluated_epochs():
    dataset = _dataset()
    model = tiny_ssd()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    metrics = DetectionMetrics(dataset, CLASS_NAMES, every_n_epochs=2)
    before, after = _Recorder(), _Recorder()  # TensorBoard belongs where `after` is
    history = model.fit(dataset, epochs=3, callbacks=[before, metrics, after], shuffle=False, verbose=0).history

    keys = {"val_AP", "val_AP50"} | {f"val_AP50/{name}" for name in CLASS_NAMES}
    assert keys <= set(history)
    assert len(history["loss"]) == 3
    # Keras' History only appends where a key is logged: one value, from epoch 2 (index 1).
    assert metrics.evaluated_epochs == [1]
    for key in keys:
        assert len(history[key]) == 1
        assert 0.0 <= history[key][0] <= 1.0
    assert len(metrics.reports) == 1
    assert history["val_AP50"][0] == pytest.approx(metrics.reports[0].summary["AP50"])
    assert [keys <= seen for seen in after.keys] == [False, True, False]
    assert not any(keys & seen for seen in before.keys)


def test_metrics_from_report_names_and_nan_for_missing_classes():
    class Report:
        summary = {"AP": -1.0, "AP50": 0.25}
        per_class = [{"name": "a", "AP50": 0.25}, {"name": "b", "AP50": float("nan")}]

    metrics = DetectionMetrics(None, ["a", "b"], prefix="test_").metrics_from_report(Report())
    assert set(metrics) == {"test_AP", "test_AP50", "test_AP50/a", "test_AP50/b"}
    assert math.isnan(metrics["test_AP"]) and math.isnan(metrics["test_AP50/b"])
    assert metrics["test_AP50"] == 0.25


@pytest.mark.parametrize(
    "kwargs, match",
    [({"every_n_epochs": 0}, "every_n_epochs"), ({"every_n_epochs": 1.5}, "every_n_epochs"),
     ({"class_names": []}, "class_names")],
)  # fmt: skip
def test_bad_arguments(kwargs, match):
    arguments = {"dataset": None, "class_names": ["a"]} | kwargs
    with pytest.raises(ValueError, match=match):
        DetectionMetrics(**arguments)


def test_callback_is_importable_from_keras_ssd_training_callbacks():
    from keras_ssd.training import callbacks
    from keras_ssd.metrics.detection_metrics_callback import DetectionMetrics as Original

    assert callbacks.DetectionMetrics is Original


def test_model_evaluate_computes_the_ap_entries_and_fit_validation_does_not_double_them():
    dataset = _dataset()
    model = tiny_ssd()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    metrics = DetectionMetrics(dataset, CLASS_NAMES)
    model.fit(dataset, validation_data=dataset, epochs=1, callbacks=[metrics], verbose=0)
    assert len(metrics.reports) == 1  # the epoch end, not also the validation pass

    model.evaluate(dataset, callbacks=[metrics], verbose=0)
    assert len(metrics.reports) == 2
    assert {"val_AP", "val_AP50", "val_AP50/circle"} <= set(metrics.last_metrics)
    assert metrics.last_metrics["val_AP50"] == pytest.approx(metrics.reports[-1].summary["AP50"])
