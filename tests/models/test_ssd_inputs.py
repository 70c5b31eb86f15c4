"""`SSD` never trains silently on something else: [0, 1] images, sample_weight, class weights on the loss."""

import warnings

import keras
import numpy as np
import pytest

from keras_ssd.losses import WeightedSigmoidClassificationLoss
from keras_ssd.models.ssd import SSD
from tests.conftest import tiny_ssd, tiny_ssd_arguments
from tests.models.test_ssd import _batch



def _ssd_warnings(caught):
    return [str(w.message) for w in caught if str(w.message).startswith("SSD:")]


def test_unit_range_images_warn_once_in_xla_fit_and_in_predict():
    images, targets = _batch(num_images=4)
    model = tiny_ssd()
    model.compile(optimizer="sgd", jit_compile=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(images / 255.0, targets, batch_size=2, epochs=2, verbose=0)
    messages = _ssd_warnings(caught)
    # Once per fit, after the first batch, with counts; it names the expected range.
    assert messages == [
        "SSD: 1 of 1 image batches so far had every pixel value in [0, 1]; SSD expects "
        "pixels in [0, 255] (the backbone rescales them itself). Do not divide the images by 255."
    ]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.predict(images / 255.0, batch_size=4, verbose=0)
        model.predict(images, batch_size=4, verbose=0)
        model.fit(images, targets, batch_size=2, epochs=1, verbose=0)
        # An all-black batch is not taken for [0, 1] pixels.
        model.predict(np.zeros_like(images), batch_size=4, verbose=0)
    assert len(_ssd_warnings(caught)) == 1 and "1 of 1" in _ssd_warnings(caught)[0]


def test_sample_weight_weighs_each_image_linearly():
    images, targets = _batch()
    model = tiny_ssd()
    outputs = model(images)

    def loss(sample_weight):
        return float(model.compute_loss(images, targets, outputs, sample_weight=sample_weight))

    base = loss(None)
    # Per-anchor losses are summed, mining ranks within an image and the
    # normaliser counts positives: the loss is linear in the image weights.
    np.testing.assert_allclose(loss(np.array([2.0, 2.0], "float32")), 2.0 * base, rtol=1e-5)
    np.testing.assert_allclose(
        loss(np.array([1.0, 0.0], "float32")) + loss(np.array([0.0, 1.0], "float32")),
        base,
        rtol=1e-5,
    )
    assert loss(np.array([[1.0], [0.0]], "float32")) < base
    # Keras copies one array onto each key of a dict `y`.
    weights = np.array([0.5, 0.5], "float32")
    np.testing.assert_allclose(loss({"boxes": weights, "classes": weights}), 0.5 * base, rtol=1e-5)


def test_sample_weight_through_fit_changes_the_update():
    images, targets = _batch()
    losses = []
    for sample_weight in (None, np.array([0.0, 0.0], "float32")):
        keras.utils.set_random_seed(0)
        model = tiny_ssd()
        model.compile(optimizer="sgd")
        history = model.fit(images, targets, sample_weight=sample_weight, batch_size=2,
                            epochs=1, verbose=0)
        losses.append(history.history["loss"][0])
    assert losses[0] > 0 and losses[1] == 0.0


def test_per_box_sample_weight_is_refused_naming_the_argument():
    images, targets = _batch()
    model = tiny_ssd()
    with pytest.raises(ValueError, match=r"`sample_weight` must be one weight per image.*targets\['weights'\]"):
        model.compute_loss(images, targets, model(images), sample_weight=np.ones((2, 3, 1), "float32"))


def test_weight_localization_takes_class_weights_set_on_the_loss():
    images, targets = _batch()
    weights = [1.0, 1.0, 4.0]
    on_model = SSD(num_classes=3, class_weights=weights, weight_localization=True,
                   classification_loss=WeightedSigmoidClassificationLoss(), **tiny_ssd_arguments())
    on_loss = SSD(num_classes=3, weight_localization=True,
                  classification_loss=WeightedSigmoidClassificationLoss(class_weights=weights),
                  **tiny_ssd_arguments())
    unweighted = SSD(num_classes=3, weight_localization=False,
                     classification_loss=WeightedSigmoidClassificationLoss(class_weights=weights),
                     **tiny_ssd_arguments())
    on_loss.set_weights(on_model.get_weights())
    unweighted.set_weights(on_model.get_weights())
    outputs = on_model(images)
    results = []
    for model in (on_model, on_loss, unweighted):
        model.compute_loss(images, targets, outputs)
        results.append(float(model.localization_loss_tracker.result()))
    np.testing.assert_allclose(results[1], results[0], rtol=1e-6)
    # Class 2 (weight 4) has a positive: weighting changes the localization term.
    assert results[1] > results[2] * 1.01


def test_fit_on_the_pipeline_warns_once_about_dropped_boxes():
    import tensorflow as tf

    from keras_ssd.data.pipeline import to_detection_inputs

    box = [0.1, 0.1, 0.6, 0.6]
    flat = [0.3, 0.3, 0.3, 0.5]
    # 4 images: 3, 1, 4 and 0 boxes (+ one zero-height box on image 1); max_boxes=2.
    box_lists = [[box] * 3, [box, flat], [box] * 4, []]
    examples = {
        "image": np.full((4, 64, 64, 3), 120, np.uint8),
        "objects": {
            "bbox": tf.ragged.constant(box_lists, ragged_rank=1, inner_shape=(4,), dtype=tf.float32),
            "label": tf.ragged.constant([[0] * len(b) for b in box_lists], dtype=tf.int64),
        },
    }
    dataset = tf.data.Dataset.from_tensor_slices(examples).map(
        lambda e: {"image": e["image"], "objects": dict(e["objects"])}
    )
    train = to_detection_inputs(dataset, 64, max_boxes=2, batch_size=2)
    model = tiny_ssd()
    model.compile(optimizer="sgd", jit_compile=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(train, epochs=2, verbose=0)
    messages = _ssd_warnings(caught)
    # After the first batch (images 0, 1): 1 box past max_boxes, 1 degenerate box;
    # each kind is reported once per fit, not again at the epochs' ends.
    assert messages == [
        "SSD: to_detection_inputs dropped 1 ground-truth boxes on 1 images (in 1 batches so "
        "far) that had zero or negative height or width (ymax <= ymin or xmax <= xmin).",
        "SSD: to_detection_inputs dropped 1 ground-truth boxes on 1 images (in 1 batches so "
        "far) that were past max_boxes=2; these objects are learnt as background. Raise "
        "`max_boxes` of to_detection_inputs (`count_boxes_per_class` and the readers' box "
        "counts help choose it).",
    ]
    # The totals over both epochs are in the counter: 2 x (3 past max_boxes on 2 images).
    np.testing.assert_array_equal(model._input_counts.read()[2:], [2, 2, 6, 4])
