import numpy as np

from keras_ssd.anchors.box_coder import BoxCoder
from keras_ssd.anchors.target_assigner import TargetAssigner

ANCHORS = np.array(
    [[0.0, 0.0, 0.5, 0.5], [0.0, 0.5, 0.5, 1.0], [0.5, 0.0, 1.0, 0.5], [0.5, 0.5, 1.0, 1.0]], np.float32
)


def test_targets_by_hand():
    boxes = np.array([[[0.0, 0.0, 0.5, 0.45], [0.5, 0.5, 1.0, 1.0], [0, 0, 0, 0]]], np.float32)
    classes = np.array([[2, 0, -1]])
    weights = np.array([[0.5, 2.0, 0.0]], np.float32)
    targets = TargetAssigner(ANCHORS)(boxes, classes, weights)
    np.testing.assert_array_equal(targets["class_targets"], [[3, 0, 0, 1]])
    np.testing.assert_array_equal(targets["anchor_weights"], [[0.5, 1.0, 1.0, 2.0]])
    np.testing.assert_array_equal(targets["positive_mask"], [[True, False, False, True]])
    expected = np.asarray(BoxCoder().encode(boxes[0, :1], ANCHORS[:1]))[0]
    np.testing.assert_allclose(targets["box_targets"][0, 0], expected, atol=1e-6)
    np.testing.assert_allclose(targets["box_targets"][0, 3], [0, 0, 0, 0], atol=1e-6)


def test_ignore_band_gives_class_minus_one_and_zero_weight():
    boxes = np.array([[[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 0.9]]], np.float32)  # IoU 0.8 with anchor 3
    targets = TargetAssigner(ANCHORS, positive_threshold=0.9, negative_threshold=0.5, bipartite=False)(
        boxes, np.array([[0, 1]])
    )
    np.testing.assert_array_equal(targets["class_targets"], [[1, 0, 0, -1]])
    np.testing.assert_array_equal(targets["anchor_weights"], [[1.0, 1.0, 1.0, 0.0]])


def test_image_without_boxes():
    targets = TargetAssigner(ANCHORS)(np.zeros((1, 2, 4), np.float32), np.array([[-1, -1]]))
    np.testing.assert_array_equal(targets["class_targets"], [[0, 0, 0, 0]])
    assert np.isfinite(np.asarray(targets["box_targets"])).all()


def test_a_box_of_weight_zero_is_an_ignore_region():
    boxes = np.array([[[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]]], np.float32)
    targets = TargetAssigner(ANCHORS)(boxes, np.array([[0, 1]]), np.array([[1.0, 0.0]], np.float32))
    np.testing.assert_array_equal(targets["class_targets"], [[1, 0, 0, -1]])
    np.testing.assert_array_equal(targets["anchor_weights"], [[1.0, 1.0, 1.0, 0.0]])
    np.testing.assert_array_equal(targets["positive_mask"], [[True, False, False, False]])
