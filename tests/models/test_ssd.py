import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssd.losses import (
    HardNegativeMining,
    SigmoidFocalClassificationLoss,
    SmoothL1LocalizationLoss,
    WeightedSigmoidClassificationLoss,
    WeightedSoftmaxClassificationLoss,
)
from keras_ssd.models.ssd import SSD

from tests.conftest import tiny_ssd, tiny_ssd_arguments



def _batch(num_images=2, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 255, (num_images, 64, 64, 3)).astype("float32")
    boxes = np.zeros((num_images, 3, 4), "float32")
    classes = -np.ones((num_images, 3), "int32")
    boxes[0, :2] = [[0.1, 0.1, 0.5, 0.4], [0.5, 0.4, 0.95, 0.9]]
    classes[0, :2] = [0, 2]
    if num_images > 1:
        boxes[1, 0] = [0.2, 0.3, 0.7, 0.6]
        classes[1, 0] = 1
    return images, {"boxes": boxes, "classes": classes}


def test_call_shapes_for_softmax_and_sigmoid_heads():
    images, _ = _batch()
    softmax = tiny_ssd()
    outputs = softmax(images)
    num_anchors = softmax.anchors.shape[0]
    assert outputs["boxes"].shape == (2, num_anchors, 4)
    assert outputs["classes"].shape == (2, num_anchors, 4)  # background + 3 classes
    sigmoid = tiny_ssd(classification_loss=SigmoidFocalClassificationLoss())
    assert sigmoid(images)["classes"].shape == (2, num_anchors, 3)


def test_compute_loss_equals_closed_form():
    images, targets = _batch()
    model = SSD(
        num_classes=3,
        classification_loss=WeightedSigmoidClassificationLoss(),
        class_weights=[1.0, 1.0, 3.0],
        localization_weight=2.0,
        **tiny_ssd_arguments(),
    )
    outputs = model(images)
    loss = float(model.compute_loss(images, targets, outputs))

    assigned = model.target_assigner(targets["boxes"], targets["classes"])
    class_targets = np.asarray(assigned["class_targets"])
    positive = class_targets > 0
    logits = np.asarray(outputs["classes"], np.float64)
    one_hot = np.eye(4)[class_targets][..., 1:]
    cross_entropy = np.maximum(logits, 0) - logits * one_hot + np.log1p(np.exp(-np.abs(logits)))
    weight = np.where(positive, np.array([1.0, 1.0, 1.0, 3.0])[class_targets], 1.0)
    classification = (cross_entropy.sum(-1) * weight).sum()
    error = np.abs(np.asarray(outputs["boxes"], np.float64) - np.asarray(assigned["box_targets"]))
    huber = np.where(error < 1.0, 0.5 * error**2, error - 0.5).sum(-1)
    localization = (huber * positive).sum()
    expected = (classification + 2.0 * localization) / positive.sum()
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


def test_class_weights_scale_gradients_of_their_class_only():
    images, targets = _batch(num_images=1)
    gradients = []
    for weights in ([1.0, 1.0, 1.0], [1.0, 1.0, 5.0]):
        model = SSD(
            num_classes=3,
            classification_loss=WeightedSigmoidClassificationLoss(),
            class_weights=weights,
            **tiny_ssd_arguments(),
        )
        logits = tf.Variable(tf.random.stateless_normal((1, model.anchors.shape[0], 3), (1, 2)))
        boxes = tf.zeros((1, model.anchors.shape[0], 4))
        with tf.GradientTape() as tape:
            loss = model.compute_loss(images, targets, {"boxes": boxes, "classes": logits})
        gradients.append(np.asarray(tape.gradient(loss, logits))[0])
    class_targets = np.asarray(model.target_assigner(targets["boxes"], targets["classes"])["class_targets"])[0]
    of_class_2 = class_targets == 3
    assert of_class_2.any() and (class_targets == 1).any()
    np.testing.assert_allclose(gradients[1][of_class_2], 5.0 * gradients[0][of_class_2], rtol=1e-5)
    np.testing.assert_allclose(gradients[1][~of_class_2], gradients[0][~of_class_2], rtol=1e-6)


def test_per_box_weights_multiply_with_class_weights():
    images, targets = _batch(num_images=1)
    model = tiny_ssd(classification_loss=WeightedSigmoidClassificationLoss(), class_weights=[2.0, 1.0, 1.0])
    outputs = model(images)
    weighted = dict(targets, weights=np.array([[0.5, 1.0, 0.0]], "float32"))
    assigned = model.target_assigner(targets["boxes"], targets["classes"])
    class_targets = np.asarray(assigned["class_targets"])[0]
    logits = np.asarray(outputs["classes"], np.float64)[0]
    one_hot = np.eye(4)[class_targets][:, 1:]
    cross_entropy = (np.maximum(logits, 0) - logits * one_hot + np.log1p(np.exp(-np.abs(logits)))).sum(-1)
    difference = float(model.compute_loss(images, targets, outputs)) - float(model.compute_loss(images, weighted, outputs))
    # Only the class-0 box changed weight: 2.0 (class) x 1.0 -> 2.0 x 0.5; localization loses half too.
    of_box_0 = class_targets == 1
    error = np.abs(np.asarray(outputs["boxes"], np.float64)[0] - np.asarray(assigned["box_targets"])[0])
    huber = np.where(error < 1.0, 0.5 * error**2, error - 0.5).sum(-1)
    expected = (2.0 * 0.5 * cross_entropy[of_box_0].sum() + 0.5 * huber[of_box_0].sum()) / (class_targets > 0).sum()
    np.testing.assert_allclose(difference, expected, rtol=1e-4)


def test_weight_localization_multiplies_the_positives_box_loss_by_their_class_weight():
    images, targets = _batch()
    weights = [2.0, 1.0, 4.0]
    arguments = dict(classification_loss=WeightedSigmoidClassificationLoss(), class_weights=weights, **tiny_ssd_arguments())
    plain = SSD(num_classes=3, **arguments)
    weighted = SSD(num_classes=3, weight_localization=True, **arguments)
    weighted.set_weights(plain.get_weights())
    outputs = plain(images)
    assigned = plain.target_assigner(targets["boxes"], targets["classes"])
    class_targets = np.asarray(assigned["class_targets"])
    error = np.abs(np.asarray(outputs["boxes"], np.float64) - np.asarray(assigned["box_targets"]))
    huber = np.where(error < 1.0, 0.5 * error**2, error - 0.5).sum(-1) * (class_targets > 0)
    class_weight = np.array([0.0] + weights)[np.maximum(class_targets, 0)]
    difference = float(weighted.compute_loss(images, targets, outputs)) - float(plain.compute_loss(images, targets, outputs))
    expected = ((class_weight - 1.0) * huber).sum() / (class_targets > 0).sum()
    assert abs(expected) > 1e-3
    np.testing.assert_allclose(difference, expected, rtol=1e-4)


def test_images_without_boxes_give_a_finite_loss_that_trains_negatives():
    images, _ = _batch()
    empty = {"boxes": np.zeros((2, 3, 4), "float32"), "classes": -np.ones((2, 3), "int32")}
    model = tiny_ssd(classification_loss=WeightedSigmoidClassificationLoss())
    loss = model.compute_loss(images, empty, model(images))
    assert np.isfinite(float(loss)) and float(loss) > 0


def test_fit_reports_the_loss_parts():
    images, targets = _batch()
    model = tiny_ssd()
    model.compile(optimizer="adam")
    history = model.fit(images, targets, epochs=1, verbose=0)
    assert {"loss", "classification_loss", "localization_loss"} <= set(history.history)
    np.testing.assert_allclose(
        history.history["loss"][0],
        history.history["classification_loss"][0] + history.history["localization_loss"][0],
        rtol=1e-4,
    )


def test_fit_and_train_on_batch_trace_the_train_step_once():
    # Without a strategy Keras' TF trainer builds the optimizer inside the first traced
    # step; the variables it creates there make tf.function trace the step again (15-35 s
    # per fit for a MobileNetV2 SSD on a CPU). SSD builds it before tracing.
    images, targets = _batch()
    traces = []
    for run in ("fit", "train_on_batch"):
        model = tiny_ssd()
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        train_step = model.train_step
        model.train_step = lambda data, step=train_step: traces.append(run) or step(data)
        if run == "fit":
            losses = model.fit(images, targets, batch_size=len(images), epochs=3, verbose=0).history["loss"]
            assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]
        else:
            model.train_on_batch(images, targets)
            model.train_on_batch(images, targets)
        assert model.optimizer.iterations.numpy() in (2, 3)
    assert traces == ["fit", "train_on_batch"]


def test_xla_is_not_the_default_on_cpu_but_works():
    # jit_compile=True made a MobileNetV2-SSD step 6x slower on a 2-core CPU: keep Keras' "auto".
    images, targets = _batch()
    model = tiny_ssd()
    model.compile(optimizer="adam")
    assert model.jit_compile is False
    model.compile(optimizer="adam", jit_compile=True)
    history = model.fit(images, targets, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_mixed_precision_predicts_and_trains():
    keras.config.set_dtype_policy("mixed_float16")
    images, targets = _batch()
    model = tiny_ssd()
    outputs = model(images)
    assert outputs["classes"].dtype == "float32"
    model.compile(optimizer="adam")
    history = model.fit(images, targets, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    detections = model.predict(images, verbose=0)
    assert detections["boxes"].shape == (2, 100, 4)


def test_config_has_every_argument_and_round_trips():
    model = SSD(
        num_classes=2,
        class_weights={"b": 3.0},
        class_names=["a", "b"],
        classification_loss=HardNegativeMining(WeightedSigmoidClassificationLoss(), negative_ratio=2.0),
        localization_loss=SmoothL1LocalizationLoss(delta=0.5),
        localization_weight=1.5,
        min_scale=0.15,
        confidence_threshold=0.2,
        **tiny_ssd_arguments(),
    )
    config = model.get_config()
    arguments = set(inspect.signature(SSD.__init__).parameters) - {"self", "kwargs"}
    assert arguments <= set(config)
    assert config["class_weights"] == [1.0, 3.0]
    revived = SSD.from_config(config)
    assert revived.get_config() == config
    assert revived.classification_loss.get_config() == model.classification_loss.get_config()
    np.testing.assert_array_equal(revived.anchors, model.anchors)


def test_keras_save_and_load_give_identical_predictions(tmp_path):
    images, targets = _batch()
    model = tiny_ssd(class_weights=[1.0, 2.0, 4.0])
    model.compile(optimizer="adam")
    model.fit(images, targets, epochs=1, verbose=0)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, SSD)
    assert loaded.class_weights == [1.0, 2.0, 4.0]
    raw, raw_loaded = model(images), loaded(images)
    np.testing.assert_array_equal(raw["classes"], raw_loaded["classes"])
    np.testing.assert_array_equal(raw["boxes"], raw_loaded["boxes"])
    detections, detections_loaded = model.predict(images, verbose=0), loaded.predict(images, verbose=0)
    for key in detections:
        np.testing.assert_array_equal(detections[key], detections_loaded[key])


def test_softmax_default_predicts_no_background_class():
    images, _ = _batch()
    model = tiny_ssd(confidence_threshold=0.0)
    assert isinstance(model.classification_loss, HardNegativeMining)
    assert isinstance(model.classification_loss.loss, WeightedSoftmaxClassificationLoss)
    detections = model.predict(images, verbose=0)
    valid = detections["classes"][detections["classes"] >= 0]
    assert valid.size and valid.max() < 3


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"class_weights": [1.0, 2.0]}, "has 2 values but num_classes=3"),
        ({"class_weights": [1.0, -2.0, 1.0]}, r"`class_weights\[1\]` is negative \(-2.0\); weights must be >= 0"),
        ({"class_weights": [1.0, float("nan"), 1.0]}, r"`class_weights\[1\]` is NaN"),
        ({"class_weights": {"dog": 2.0}, "class_names": ["a", "b", "c"]}, "unknown class 'dog'"),
        ({"class_weights": {"a": 2.0}}, "no `class_names`"),
        ({"class_weights": {5: 2.0}}, r"not a class id in \[0, 3\)"),
        ({"class_names": ["a"]}, "class_names has 1 names"),
        ({"loss_normalization": "mean"}, "loss_normalization must be one of"),
        ({"backbone": "resnet9000"}, "Unknown backbone 'resnet9000'"),
        ({"classification_loss": WeightedSigmoidClassificationLoss(class_weights=[1, 1, 1]), "class_weights": [1, 1, 2]}, "in one place"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SSD(num_classes=3, **{**tiny_ssd_arguments(), **kwargs})


def test_losses_outside_the_loss_contract_are_refused():
    with pytest.raises(TypeError, match="`classification_loss` CategoricalCrossentropy is not a keras_ssd classification loss"):
        tiny_ssd(classification_loss=keras.losses.CategoricalCrossentropy())
    with pytest.raises(TypeError, match="localization_loss must be a keras_ssd.losses.LocalizationLoss"):
        tiny_ssd(localization_loss=keras.losses.Huber())


def test_bad_num_classes():
    with pytest.raises(ValueError, match="`num_classes` must be an integer >= 1"):
        tiny_ssd(0)


def test_labels_outside_num_classes_are_rejected():
    images, targets = _batch()
    targets["classes"][0, 0] = 3
    model = tiny_ssd()
    with pytest.raises(tf.errors.InvalidArgumentError, match="class id >= num_classes"):
        model.compute_loss(images, targets, model(images))


@pytest.mark.parametrize(
    "box, message",
    [([10.0, 10.0, 40.0, 50.0], "are they pixels"), ([0.5, 0.6, 0.9, 0.2], "xmin < xmax")],
)
def test_bad_boxes_stop_training(box, message):
    images, targets = _batch()
    targets["boxes"][1, 0] = box
    model = tiny_ssd()
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        model.compute_loss(images, targets, model(images))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda t: t["classes"].__setitem__((0, 1), 7), "label"),
        (lambda t: t["boxes"].__setitem__((1, 0), [0.5, 0.6, 0.9, 0.2]), "xmax <= xmin"),
        (lambda t: t["boxes"].__setitem__((0, 0), [10.0, 10.0, 40.0, 50.0]), "outside"),
    ],
)
def test_fit_on_arrays_rejects_bad_targets_with_value_error(change, message):
    images, targets = _batch()
    change(targets)
    model = tiny_ssd()
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match=message):
        model.fit(images, targets, epochs=1, verbose=0)


def test_padding_rows_may_hold_anything():
    images, targets = _batch()
    targets["boxes"][1, 2] = [5.0, 5.0, -1.0, -1.0]  # class -1: padding
    model = tiny_ssd()
    assert np.isfinite(float(model.compute_loss(images, targets, model(images))))


def test_targets_must_be_a_dict():
    images, targets = _batch()
    model = tiny_ssd()
    with pytest.raises(ValueError, match="targets as a dict"):
        model.compute_loss(images, targets["boxes"], model(images))


def test_keras_fit_class_weight_is_refused_so_weights_live_in_the_constructor():
    # Keras' fit(class_weight=...) only serves single-output models; SSD's targets are a
    # dict of boxes and classes, which is why class weights are an SSD argument.
    images, targets = _batch()
    model = tiny_ssd()
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match="class_weight"):
        model.fit(images, targets, class_weight={0: 1.0, 1: 2.0, 2: 3.0}, epochs=1, verbose=0)


def test_per_image_normalization_divides_each_image_by_its_own_positives():
    images, targets = _batch()
    model = SSD(
        num_classes=3,
        classification_loss=WeightedSigmoidClassificationLoss(),
        loss_normalization="per_image",
        **tiny_ssd_arguments(),
    )
    outputs = model(images)
    loss = float(model.compute_loss(images, targets, outputs))

    assigned = model.target_assigner(targets["boxes"], targets["classes"])
    class_targets = np.asarray(assigned["class_targets"])
    positive = class_targets > 0
    logits = np.asarray(outputs["classes"], np.float64)
    one_hot = np.eye(4)[class_targets][..., 1:]
    cross_entropy = (np.maximum(logits, 0) - logits * one_hot + np.log1p(np.exp(-np.abs(logits)))).sum(-1)
    error = np.abs(np.asarray(outputs["boxes"], np.float64) - np.asarray(assigned["box_targets"]))
    huber = np.where(error < 1.0, 0.5 * error**2, error - 0.5).sum(-1) * positive
    per_image = (cross_entropy.sum(1) + huber.sum(1)) / np.maximum(positive.sum(1), 1)
    assert positive[0].sum() != positive[1].sum()  # the two normalisations differ here
    np.testing.assert_allclose(loss, per_image.mean(), rtol=1e-5)
    global_norm = (cross_entropy.sum() + huber.sum()) / positive.sum()
    assert abs(loss - global_norm) > 1e-3
