"""The per-anchor losses and their gradients in one XLA call (`compiled_losses`)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssd.losses import (
    HardExampleMiner,
    IoULocalizationLoss,
    SigmoidFocalClassificationLoss,
    SmoothL1LocalizationLoss,
    WeightedSoftmaxClassificationLoss,
)
from keras_ssd.losses.classification_loss import ClassificationLoss
from keras_ssd.models import compiled_losses
from keras_ssd.models import ssd as ssd_module

from tests.conftest import tiny_ssd


def _batch():
    """Two images: boxes of weights 2.5, 0.5 and 0 (ignored), padding, a per-image weight."""
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    boxes = np.zeros((2, 3, 4), "float32")
    classes = -np.ones((2, 3), "int32")
    boxes[0] = [[0.1, 0.1, 0.5, 0.4], [0.5, 0.4, 0.95, 0.9], [0.05, 0.6, 0.3, 0.95]]
    classes[0] = [0, 2, 1]
    boxes[1, 0] = [0.2, 0.3, 0.7, 0.6]
    classes[1, 0] = 1
    weights = np.array([[1.0, 2.5, 0.0], [0.5, 1.0, 1.0]], "float32")
    return images, {"boxes": boxes, "classes": classes, "weights": weights}


def _loss_and_gradients(model, compiled, monkeypatch):
    """The SSD loss of fixed network outputs and its gradients, on the chosen path."""
    with monkeypatch.context() as patch:
        if not compiled:
            patch.setattr(ssd_module, "supports_compiled_losses", lambda *arguments: False)
        images, targets = _batch()
        outputs = {key: tf.constant(value) for key, value in model(images).items()}
        # Large logits and deltas: the anchors' losses differ widely, as late in training.
        outputs = {key: value * 3.0 for key, value in outputs.items()}

        @tf.function
        def step():
            with tf.GradientTape() as tape:
                tape.watch(outputs)
                loss = model.compute_loss(images, targets, outputs, sample_weight=tf.constant([1.0, 0.5]))
            gradients = tape.gradient(loss, outputs)
            return loss, gradients["classes"], gradients["boxes"]

        return [np.asarray(value) for value in step()]


def _spy(calls):
    """`per_anchor_losses` that notes each call (each trace of a step that takes it)."""

    def spy(*arguments):
        calls.append(True)
        return compiled_losses.per_anchor_losses(*arguments)

    return spy


LOSSES = {
    "softmax with hard-negative mining": {"class_weights": [1.0, 4.0, 0.5]},
    "focal, ignore band": {"classification_loss": "focal", "negative_threshold": 0.3},
    "sigmoid, giou, weighted localization": {
        "classification_loss": "sigmoid",
        "localization_loss": "giou",
        "class_weights": [2.0, 1.0, 3.0],
        "weight_localization": True,
    },
    "TF OD API miner with NMS and localization ranking": {
        "classification_loss": HardExampleMiner(
            WeightedSoftmaxClassificationLoss(), num_hard_examples=40, iou_threshold=0.7, loss_type="both"
        ),
        "localization_loss": IoULocalizationLoss(mode="iou"),
    },
    "per-image normalisation": {"loss_normalization": "per_image"},
}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_compiled_losses_give_the_plain_losses_and_gradients(name, monkeypatch):
    model = tiny_ssd(**LOSSES[name])
    assert compiled_losses.supports_compiled_losses(
        model.target_assigner, model._classification_loss, model.localization_loss
    )
    with monkeypatch.context() as patch:
        taken = []
        patch.setattr(ssd_module, "per_anchor_losses", _spy(taken))
        compiled = _loss_and_gradients(model, True, monkeypatch)
    assert taken  # the compiled path was traced
    plain = _loss_and_gradients(model, False, monkeypatch)
    assert np.isfinite(compiled[0]) and compiled[0] > 0
    for compiled_value, plain_value in zip(compiled, plain):
        np.testing.assert_allclose(compiled_value, plain_value, rtol=1e-5, atol=1e-7)
    # Mined-out, ignored and background-only anchors get no box gradient; some do.
    assert 0 < np.count_nonzero(compiled[2]) < compiled[2].size


class _CentredSoftmaxLoss(WeightedSoftmaxClassificationLoss):
    """A loss that mixes anchors: each anchor's loss minus the image's mean loss."""

    anchorwise = False

    def call(self, y_true, y_pred):
        losses = super().call(y_true, y_pred)
        return losses - 0.5 * tf.reduce_mean(losses, axis=1, keepdims=True)


def test_a_loss_that_mixes_anchors_is_differentiated_whole(monkeypatch):
    """The per-anchor chain rule would drop the mean's cross-anchor terms: not used here."""
    loss = _CentredSoftmaxLoss()
    model = tiny_ssd(classification_loss=loss)
    assert not compiled_losses.supports_compiled_losses(
        model.target_assigner, model._classification_loss, model.localization_loss
    )
    value, logit_gradients, _ = _loss_and_gradients(model, True, monkeypatch)

    # The same loss written out, differentiated by the tape.
    images, targets = _batch()
    logits = tf.constant(model(images)["classes"] * 3.0)
    assigned = model.target_assigner(targets["boxes"], targets["classes"], targets["weights"])
    anchor_weights = assigned["anchor_weights"] * tf.constant([[1.0], [0.5]])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(logits)
        per_anchor = loss.call(assigned["class_targets"], logits)
        classification = tf.reduce_sum(per_anchor * anchor_weights)
        summed = tf.reduce_sum(per_anchor)
    num_positives = tf.reduce_sum(tf.cast(assigned["positive_mask"], tf.float32))
    expected = tape.gradient(classification, logits) / num_positives
    np.testing.assert_allclose(logit_gradients, expected, rtol=1e-5, atol=1e-7)
    # What the per-anchor chain rule would give: wrong here, by far.
    chained = tape.gradient(summed, logits) * (anchor_weights / num_positives)[..., tf.newaxis]
    assert np.abs(np.asarray(chained) - np.asarray(expected)).max() > 1e-3


def test_losses_that_do_not_declare_themselves_anchorwise_take_the_plain_path():
    class OwnLoss(ClassificationLoss):
        uses_background_logit = True

        def call(self, y_true, y_pred):
            return tf.reduce_sum(y_pred, axis=-1) * 0.0

    assigner = tiny_ssd().target_assigner
    built_in = (SigmoidFocalClassificationLoss(), SmoothL1LocalizationLoss())
    assert compiled_losses.supports_compiled_losses(assigner, *built_in)
    assert not compiled_losses.supports_compiled_losses(assigner, OwnLoss(), SmoothL1LocalizationLoss())

    class UnserializableLoss(SmoothL1LocalizationLoss):
        def get_config(self):
            return {**super().get_config(), "table": np.zeros(2)}  # not JSON: cannot be rebuilt

    assert not compiled_losses.supports_compiled_losses(assigner, built_in[0], UnserializableLoss())
    assigner.jit_compile = False  # no XLA (Apple's Metal GPU): the plain path
    assert not compiled_losses.supports_compiled_losses(assigner, *built_in)


def test_equal_models_share_one_compiled_function(monkeypatch):
    first, second = tiny_ssd(class_weights=[1.0, 2.0, 3.0]), tiny_ssd(class_weights=[1.0, 2.0, 3.0])
    _loss_and_gradients(first, True, monkeypatch)
    traces = compiled_losses._losses_and_gradients.experimental_get_tracing_count()
    _loss_and_gradients(second, True, monkeypatch)
    assert compiled_losses._losses_and_gradients.experimental_get_tracing_count() == traces
    # Other class weights are another loss: compiled once more. (Weights no other test
    # uses: the compiled function is shared by every test in the process.)
    _loss_and_gradients(tiny_ssd(class_weights=[1.0, 2.0, 4.125]), True, monkeypatch)
    assert compiled_losses._losses_and_gradients.experimental_get_tracing_count() == traces + 1


def test_fit_takes_the_compiled_path_and_learns(monkeypatch):
    traced = []
    monkeypatch.setattr(ssd_module, "per_anchor_losses", _spy(traced))
    model = tiny_ssd()
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    images, targets = _batch()
    history = model.fit(images, targets, epochs=15, verbose=0)
    losses = history.history["loss"]
    assert traced  # the train step was traced with it
    assert np.all(np.isfinite(losses)) and losses[-1] < 0.6 * losses[0]


def test_evaluation_losses_skip_the_derivatives_and_equal_the_training_losses(monkeypatch):
    """`test_step` passes training=False: the plain path, no derivatives, the same number."""
    model = tiny_ssd(class_weights=[1.0, 4.0, 0.5])
    images, targets = _batch()
    outputs = model(images)
    taken = []
    monkeypatch.setattr(ssd_module, "per_anchor_losses", _spy(taken))
    evaluation = float(model.compute_loss(images, targets, outputs, training=False))
    assert not taken
    training = float(model.compute_loss(images, targets, outputs))
    assert taken
    np.testing.assert_allclose(evaluation, training, rtol=1e-6)
