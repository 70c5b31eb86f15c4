"""Classes matched by name between a model and a dataset."""

import doctest

import numpy as np
import pytest
import tensorflow as tf

from keras_ssd.metrics import class_matching as module
from keras_ssd.metrics import evaluate_detections
from keras_ssd.metrics.class_matching import class_id_mapping, match_classes, remap_examples

CAT, DOG = [0.0, 0.0, 0.4, 0.4], [0.5, 0.5, 0.9, 0.9]


def test_same_names_other_order():
    assert class_id_mapping(["dog", "bird", "cat"], ["cat", "dog", "bird"]).tolist() == [1, 2, 0]
    assert class_id_mapping(["cat", "dog"], ["cat", "dog"]).tolist() == [0, 1]


def test_model_without_names_matches_by_position():
    assert class_id_mapping(["dog", "cat"], None).tolist() == [0, 1]
    # The placeholder names of an export without names count as no names.
    assert class_id_mapping(["dog", "cat"], ["class_0", "class_1"]).tolist() == [0, 1]
    mapping, names = match_classes(["dog", "cat"], None, 2)
    assert mapping.tolist() == [0, 1] and names == ["dog", "cat"]
    with pytest.raises(ValueError, match=r"num_classes=3 \(and no class names to match by\) but the data has 2"):
        match_classes(["dog", "cat"], None, 3)


def test_different_names_list_what_is_missing_and_extra():
    with pytest.raises(ValueError, match=r"the data has \['horse'\], which the model does not know; "
                                         r"the model has \['dog'\], which the data lacks"):
        class_id_mapping(["cat", "horse"], ["cat", "dog"])
    with pytest.raises(ValueError, match=r"the model has \['bird'\], which the data lacks"):
        class_id_mapping(["cat", "dog"], ["cat", "dog", "bird"])
    with pytest.raises(ValueError, match=r"the data names class\(es\) \['cat'\] more than once"):
        class_id_mapping(["cat", "cat"], ["cat", "dog"])


def test_per_class_ap_is_filed_under_the_right_name():
    # The data reads its classes as ["dog", "cat"]; the model knows ["cat", "dog"].
    data_names, model_names = ["dog", "cat"], ["cat", "dog"]
    examples = tf.data.Dataset.from_tensors({
        "image/filename": tf.constant("a.jpg"),
        "objects": {"bbox": tf.constant([CAT, DOG]), "label": tf.constant([1, 0], tf.int64)},
    })  # fmt: skip
    mapping, names = match_classes(data_names, model_names, 2)
    assert names == ["cat", "dog"]
    example = next(iter(remap_examples(examples, mapping)))
    labels = example["objects"]["label"].numpy()
    assert labels.tolist() == [0, 1]  # the cat box is model class 0 now
    # The model finds the cat (its class 0) and not the dog.
    found = [{"boxes": [CAT], "classes": [0], "confidence": [0.9]}]
    truth = [{"boxes": example["objects"]["bbox"].numpy(), "classes": labels}]
    report = evaluate_detections(truth, found, names, image_size=100)
    assert {row["name"]: row["AP50"] for row in report.per_class} == pytest.approx({"cat": 1.0, "dog": 0.0})
    # Without the mapping the cat detection (model id 0) reads as a "dog" on the cat box.
    wrong = evaluate_detections([{"boxes": [CAT, DOG], "classes": [1, 0]}], found, data_names, 100)
    assert {row["name"]: row["AP50"] for row in wrong.per_class} == {"dog": 0.0, "cat": 0.0}


def test_identity_mapping_keeps_the_dataset():
    examples = tf.data.Dataset.range(3)
    assert remap_examples(examples, np.arange(2)) is examples


def test_docstring_example():
    assert doctest.testmod(module).failed == 0
