import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssd.anchors.anchor_generator import AnchorGenerator
from keras_ssd.anchors.box_coder import BoxCoder
from keras_ssd.anchors.matching import match_boxes
from keras_ssd.anchors.presets import ANCHOR_PRESETS
from keras_ssd.utils import xla
from keras_ssd.anchors.target_assigner import TargetAssigner
from tests.anchors import reference_matching

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


def _crowded_boxes(num_images, num_boxes, seed):
    """Random boxes of every size, some duplicated, with padding rows."""
    rng = np.random.default_rng(seed)
    centre = rng.uniform(0.1, 0.9, (num_images, num_boxes, 2))
    size = rng.uniform(0.02, 0.6, (num_images, num_boxes, 2))
    boxes = np.clip(np.concatenate([centre - size / 2, centre + size / 2], -1), 0.0, 1.0)
    boxes[:, 1::5] = boxes[:, 0:1]  # every fifth box repeats the first one
    classes = rng.integers(0, 3, (num_images, num_boxes))
    classes[rng.uniform(size=classes.shape) < 0.2] = -1
    return boxes.astype(np.float32), classes.astype(np.int32)


def _ssd300_anchors():
    preset = ANCHOR_PRESETS["ssd300"]
    keys = ("feature_map_sizes", "aspect_ratios", "scales", "steps", "image_size")
    return AnchorGenerator(**{key: preset[key] for key in keys})()


def test_chunked_targets_equal_unchunked_and_the_dense_matcher():
    anchors = _ssd300_anchors()  # 8732 anchors
    boxes, classes = _crowded_boxes(2, 40, seed=0)
    whole = TargetAssigner(anchors, chunk_size=None)(boxes, classes)
    for chunk_size in (100, 2048):
        chunked = TargetAssigner(anchors, chunk_size=chunk_size)(boxes, classes)
        for key in whole:
            np.testing.assert_array_equal(chunked[key], whole[key], err_msg=key)
    iou = keras.utils.bounding_boxes.compute_iou(boxes, anchors, "yxyx")
    iou = np.where(classes[..., np.newaxis] >= 0, iou, -1.0).astype(np.float32)
    expected = reference_matching.match_anchors(iou)
    got = match_boxes(boxes, classes >= 0, anchors, chunk_size=1000)
    np.testing.assert_array_equal(got, expected)
    assert np.asarray(whole["positive_mask"]).sum() > 40  # the case is not trivial


def test_targets_compiled_with_xla_equal_the_graph_ones():
    anchors = _ssd300_anchors()
    boxes, classes = _crowded_boxes(2, 12, seed=1)
    weights = np.random.default_rng(1).uniform(0.0, 2.0, classes.shape).astype(np.float32)
    weights[:, ::4] = 0.0  # ignore regions
    graph_assigner = TargetAssigner(anchors, chunk_size=1000, jit_compile=False)
    xla_assigner = TargetAssigner(anchors, chunk_size=1000)  # the default compiles its own XLA cluster
    assert xla_assigner.jit_compile == "auto" and xla.xla_available()
    traces = xla_assigner._compiled_assign.experimental_get_tracing_count()

    def assigned(assigner, wrap):
        targets = wrap(lambda b, c, w: assigner(b, c, w))(boxes, classes, weights)
        return {key: np.asarray(value) for key, value in targets.items()}

    graph = assigned(graph_assigner, tf.function)
    for compiled in (
        assigned(xla_assigner, lambda f: f),  # called eagerly
        assigned(xla_assigner, tf.function),  # nested in a plain graph
        assigned(xla_assigner, lambda f: tf.function(f, jit_compile=True)),  # inside a compiled step
        assigned(graph_assigner, lambda f: tf.function(f, jit_compile=True)),
    ):
        for key in ("class_targets", "anchor_weights", "positive_mask"):
            np.testing.assert_array_equal(compiled[key], graph[key], err_msg=key)
        np.testing.assert_allclose(compiled["box_targets"], graph["box_targets"], atol=1e-5)
    assert graph["positive_mask"].sum() > 12 and (graph["class_targets"] == -1).sum() > 0
    assert xla_assigner._compiled_assign.experimental_get_tracing_count() > traces  # it did compile


def test_auto_leaves_xla_out_where_keras_does(monkeypatch):
    # Apple silicon with a Metal GPU has no XLA; Keras' jit_compile="auto" stays off there too.
    monkeypatch.setattr(xla.platform, "system", lambda: "Darwin")
    monkeypatch.setattr(xla.platform, "processor", lambda: "arm")
    monkeypatch.setattr(xla.tf.config, "list_physical_devices", lambda kind=None: ["metal"])
    xla.xla_available.cache_clear()
    try:
        assert not xla.xla_available()
        assigner = TargetAssigner(ANCHORS)
        compiled = assigner._compiled_assign
        traces = compiled.experimental_get_tracing_count()
        boxes = np.array([[[0.0, 0.0, 0.5, 0.5]]], np.float32)
        targets = assigner(boxes, np.array([[3]]))
        np.testing.assert_array_equal(targets["class_targets"], [[4, 0, 0, 0]])
        assert compiled.experimental_get_tracing_count() == traces  # the graph path ran
    finally:
        monkeypatch.undo()
        xla.xla_available.cache_clear()
    assert xla.xla_available()


@pytest.mark.parametrize("jit_compile", ["yes", 1, None])
def test_bad_jit_compile(jit_compile):
    with pytest.raises(ValueError, match="jit_compile"):
        TargetAssigner(ANCHORS, jit_compile=jit_compile)


def test_assigners_of_equal_settings_share_one_compiled_function():
    # XLA compiles once per settings and shapes, not once per model built.
    first, second = TargetAssigner(ANCHORS), TargetAssigner(ANCHORS.copy())
    boxes, classes = np.array([[[0.0, 0.0, 0.5, 0.5]]], np.float32), np.array([[1]])
    np.testing.assert_array_equal(first(boxes, classes)["class_targets"], [[2, 0, 0, 0]])
    traces = first._compiled_assign.experimental_get_tracing_count()
    np.testing.assert_array_equal(second(boxes, classes)["class_targets"], [[2, 0, 0, 0]])
    assert second._compiled_assign is first._compiled_assign
    assert first._compiled_assign.experimental_get_tracing_count() == traces
    # A different threshold is a different function: it is traced anew and honoured.
    strict = TargetAssigner(ANCHORS, positive_threshold=0.99, bipartite=False)
    np.testing.assert_array_equal(strict(boxes * [1, 1, 0.9, 0.9], classes)["class_targets"], [[0, 0, 0, 0]])
    assert first._compiled_assign.experimental_get_tracing_count() == traces + 1


def test_a_box_coder_of_its_own_is_used_under_xla():
    class ShiftedCoder(BoxCoder):
        def encode(self, boxes, anchors):
            return super().encode(boxes, anchors) + 1.0

    boxes, classes = np.array([[[0.0, 0.0, 0.5, 0.5]]], np.float32), np.array([[0]])
    targets = TargetAssigner(ANCHORS, box_coder=ShiftedCoder())(boxes, classes)
    np.testing.assert_allclose(targets["box_targets"], np.ones((1, 4, 4)), atol=1e-6)


@pytest.mark.parametrize("chunk_size", [0, -5, 2.5, True])
def test_bad_chunk_size(chunk_size):
    with pytest.raises(ValueError, match="chunk_size"):
        TargetAssigner(ANCHORS, chunk_size=chunk_size)


def test_the_compiled_assignment_runs_inside_a_tf_data_map():
    # Targets encoded in the input pipeline (as keras.io's RetinaNet does) must work too.
    assigner = TargetAssigner(ANCHORS)
    boxes = np.array([[[0.0, 0.0, 0.5, 0.5]], [[0.5, 0.5, 1.0, 1.0]]], np.float32)
    dataset = tf.data.Dataset.from_tensor_slices((boxes, np.array([[1], [0]]))).batch(2)
    targets = dataset.map(lambda b, c: assigner(b, c)["class_targets"]).get_single_element()
    np.testing.assert_array_equal(targets, [[2, 0, 0, 0], [0, 0, 0, 1]])
