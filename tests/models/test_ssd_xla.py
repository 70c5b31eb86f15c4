"""SSD under XLA: Keras' `jit_compile="auto"` turns it on wherever one GPU is visible.

Two things break there and are pinned here on the CPU with `jit_compile=True`:
keras-cv's NMS (`CombinedNonMaxSuppression`) has no XLA kernel, and `tf.debugging`
asserts are compiled out, so bad targets would train silently.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssd.metrics import DetectionMetrics
from keras_ssd.models.ssd import SSD

from tests.conftest import tiny_ssd
from tests.models.test_ssd import _batch


def _jit_model(**overrides):
    model = tiny_ssd(**overrides)
    model.compile(optimizer=keras.optimizers.SGD(1e-3), jit_compile=True)
    assert model.jit_compile is True
    return model


def _dataset(images, targets, batch_size=2):
    return tf.data.Dataset.from_tensor_slices((images, targets)).batch(batch_size)


@pytest.mark.long_running(seconds=20)
def test_fit_evaluate_predict_and_detection_metrics_under_xla():
    images, targets = _batch()
    model = _jit_model()
    metrics = DetectionMetrics(_dataset(images, targets), ["a", "b", "c"])
    history = model.fit(_dataset(images, targets), epochs=1, verbose=0, callbacks=[metrics])
    assert np.isfinite(history.history["loss"][0])
    assert 0.0 <= history.history["val_AP50"][0] <= 1.0
    assert np.isfinite(model.evaluate(images, targets, verbose=0, return_dict=True)["loss"])

    jitted = model.predict(images, verbose=0)
    on_batch = model.predict_on_batch(images)
    model.compile(optimizer=keras.optimizers.SGD(1e-3), jit_compile=False)
    plain = model.predict(images, verbose=0)
    for key in ("boxes", "confidence"):
        np.testing.assert_allclose(jitted[key], plain[key], atol=1e-4)
        np.testing.assert_allclose(on_batch[key], plain[key], atol=1e-4)
    np.testing.assert_array_equal(jitted["num_detections"], plain["num_detections"])


def test_keras_auto_jit_with_a_gpu_visible_predicts(monkeypatch):
    # What "auto" resolves to on a one-GPU machine, without the GPU.
    monkeypatch.setattr(SSD, "_resolve_auto_jit_compile", lambda self: True)
    images, _ = _batch()
    model = tiny_ssd()
    model.compile(optimizer="adam")
    assert model.jit_compile is True
    detections = model.predict(images, verbose=0)
    assert detections["boxes"].shape == (2, 100, 4)
    assert model.jit_compile is True  # restored after building the predict function


def test_bad_targets_in_a_dataset_stop_fit_in_the_input_pipeline():
    images, targets = _batch()
    targets["boxes"][0, 0] = [10.0, 10.0, 40.0, 50.0]  # pixels
    model = _jit_model()
    with pytest.raises(tf.errors.InvalidArgumentError, match="are they pixels"):
        model.fit(_dataset(images, targets), epochs=1, verbose=0)


def _generator(images, targets):
    def batches():
        while True:
            yield images, targets

    return batches()


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda t: t["classes"].__setitem__((0, 1), 3), "1 boxes with a class id >= num_classes=3"),
        (lambda t: t["boxes"].__setitem__((1, 0), [10.0, 10.0, 40.0, 50.0]), "are they pixels"),
        (lambda t: t["boxes"].__setitem__((1, 0), [0.5, 0.6, 0.9, 0.2]), "xmin < xmax"),
    ],
)
def test_bad_targets_the_pipeline_cannot_see_stop_fit_under_xla(change, message):
    images, targets = _batch()
    change(targets)
    model = _jit_model()
    with pytest.raises(ValueError, match=message):
        model.fit(_generator(images, targets), steps_per_epoch=2, epochs=1, verbose=0)
    # The NaN loss passed no gradient: the weights are still finite.
    assert all(np.isfinite(keras.ops.convert_to_numpy(w)).all() for w in model.trainable_weights)


def test_bad_targets_stop_evaluate_and_train_on_batch_under_xla():
    images, targets = _batch()
    targets["classes"][0, 1] = 3
    model = _jit_model()
    with pytest.raises(ValueError, match="class id >= num_classes=3"):
        model.evaluate(_generator(images, targets), steps=1, verbose=0)
    with pytest.raises(ValueError, match="class id >= num_classes=3"):
        model.train_on_batch(tf.constant(images), {k: tf.constant(v) for k, v in targets.items()})


def test_compute_loss_under_xla_is_nan_for_bad_targets_and_finite_otherwise():
    images, targets = _batch()
    model = tiny_ssd()
    compiled = tf.function(
        lambda x, y: model.compute_loss(x, y, model(x)), jit_compile=True
    )
    assert np.isfinite(float(compiled(images, targets)))
    targets["classes"][1, 0] = 5
    assert np.isnan(float(compiled(images, targets)))
    assert model._target_problems.read().tolist() == [1, 0, 0]
