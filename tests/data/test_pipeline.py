"""Tests of the tfds-examples-to-model-inputs pipeline and the class counter."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssd.data.pipeline import count_boxes_per_class
from keras_ssd.data.pipeline import to_detection_inputs


def _examples(records, channels=3, with_weights=True):
    """A dataset of tfds-style examples from (image, boxes, labels, weights) tuples."""
    objects_signature = {
        "bbox": tf.TensorSpec((None, 4), tf.float32),
        "label": tf.TensorSpec((None,), tf.int64),
    }
    if with_weights:
        objects_signature["weight"] = tf.TensorSpec((None,), tf.float32)

    def generate():
        for image, boxes, labels, weights in records:
            objects = {
                "bbox": np.asarray(boxes, np.float32).reshape(-1, 4),
                "label": np.asarray(labels, np.int64),
            }
            if with_weights:
                objects["weight"] = np.asarray(weights, np.float32)
            yield {"image": image, "objects": objects}

    return tf.data.Dataset.from_generator(
        generate,
        output_signature={
            "image": tf.TensorSpec((None, None, channels), tf.uint8),
            "objects": objects_signature,
        },
    )


def _image(height, width, value, channels=3):
    return np.full((height, width, channels), value, np.uint8)


RECORDS = [
    (
        _image(32, 48, 200),
        [[0.1, 0.2, 0.5, 0.6], [0.0, 0.25, 1.0, 0.75]],
        [3, 1],
        [0.5, 2.0],
    ),
    (_image(64, 64, 7), [], [], []),  # an image with no boxes
    (_image(40, 40, 90), [[0.2, 0.2, 0.4, 0.4]], [0], [1.0]),
]


def test_shapes_dtypes_and_static_spec():
    inputs = to_detection_inputs(_examples(RECORDS), 64, max_boxes=5, batch_size=2)
    image_spec, target_spec = inputs.element_spec
    assert image_spec.shape.as_list() == [None, 64, 64, 3]
    assert target_spec["boxes"].shape.as_list() == [None, 5, 4]
    assert target_spec["classes"].shape.as_list() == [None, 5]
    assert target_spec["weights"].shape.as_list() == [None, 5]
    batches = list(inputs)
    assert len(batches) == 2
    images, targets = batches[0]
    assert images.shape == (2, 64, 64, 3) and images.dtype == tf.float32
    assert targets["boxes"].shape == (2, 5, 4) and targets["boxes"].dtype == tf.float32
    assert targets["classes"].dtype == tf.int32
    assert targets["weights"].dtype == tf.float32
    assert batches[1][0].shape == (1, 64, 64, 3)


def test_inputs_stay_float32_under_a_mixed_precision_policy():
    keras.config.set_dtype_policy("mixed_float16")
    images, targets = next(iter(to_detection_inputs(_examples(RECORDS), 32, 4, 3)))
    assert images.dtype == tf.float32 and targets["boxes"].dtype == tf.float32


def test_numbers_preserved_and_padding_values():
    images, targets = next(
        iter(to_detection_inputs(_examples(RECORDS), 64, max_boxes=4, batch_size=3))
    )
    boxes = targets["boxes"].numpy()
    classes = targets["classes"].numpy()
    weights = targets["weights"].numpy()
    np.testing.assert_array_equal(
        boxes[0],
        np.array(
            [[0.1, 0.2, 0.5, 0.6], [0.0, 0.25, 1.0, 0.75], [0, 0, 0, 0], [0, 0, 0, 0]],
            np.float32,
        ),
    )
    np.testing.assert_array_equal(classes[0], [3, 1, -1, -1])
    np.testing.assert_array_equal(weights[0], [0.5, 2.0, 0.0, 0.0])
    # The image with no boxes is all padding.
    np.testing.assert_array_equal(classes[1], [-1, -1, -1, -1])
    np.testing.assert_array_equal(weights[1], [0, 0, 0, 0])
    np.testing.assert_array_equal(boxes[1], np.zeros((4, 4)))
    np.testing.assert_array_equal(classes[2], [0, -1, -1, -1])
    # Constant images stay constant when resized (32x48 -> 64x64 included).
    np.testing.assert_allclose(images[0], 200.0, atol=1e-3)
    np.testing.assert_allclose(images[1], 7.0, atol=1e-3)
    np.testing.assert_allclose(images[2], 90.0, atol=1e-3)


def test_image_of_the_output_size_is_unchanged_and_stays_in_range():
    image = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    records = [(image, [[0.1, 0.1, 0.2, 0.2]], [0], [1.0])]
    same, _ = next(iter(to_detection_inputs(_examples(records), 16, 2, 1)))
    np.testing.assert_array_equal(same[0].numpy(), image.astype(np.float32))
    larger, _ = next(iter(to_detection_inputs(_examples(records), (40, 24), 2, 1)))
    assert larger.shape == (1, 40, 24, 3)
    assert 0.0 <= float(tf.reduce_min(larger)) and float(tf.reduce_max(larger)) <= 255.0


def test_grey_images_become_rgb():
    records = [(_image(8, 8, 50, channels=1), [[0.1, 0.1, 0.2, 0.2]], [1], [1.0])]
    images, _ = next(iter(to_detection_inputs(_examples(records, channels=1), 8, 2, 1)))
    assert images.shape == (1, 8, 8, 3)
    np.testing.assert_array_equal(images.numpy(), np.full((1, 8, 8, 3), 50.0))


def test_missing_weights_default_to_one():
    dataset = _examples(RECORDS, with_weights=False)
    _, targets = next(iter(to_detection_inputs(dataset, 16, max_boxes=3, batch_size=3)))
    np.testing.assert_array_equal(
        targets["weights"].numpy(), [[1, 1, 0], [0, 0, 0], [1, 0, 0]]
    )


def test_more_boxes_than_max_boxes_keeps_the_first():
    boxes = [[0.1 * i, 0.0, 0.1 * i + 0.05, 0.5] for i in range(7)]
    records = [(_image(8, 8, 0), boxes, list(range(7)), [1.0] * 7)]
    _, targets = next(iter(to_detection_inputs(_examples(records), 8, 5, 1)))
    np.testing.assert_array_equal(targets["classes"].numpy(), [[0, 1, 2, 3, 4]])
    np.testing.assert_allclose(targets["boxes"].numpy()[0], boxes[:5])


def test_batching_drop_remainder_and_seeded_shuffle():
    records = [
        (_image(8, 8, i), [[0.1, 0.1, 0.2, 0.2]], [i], [1.0]) for i in range(5)
    ]
    assert len(list(to_detection_inputs(_examples(records), 8, 1, 2))) == 3
    kept = list(to_detection_inputs(_examples(records), 8, 1, 2, drop_remainder=True))
    assert len(kept) == 2

    def order(seed):
        inputs = to_detection_inputs(
            _examples(records), 8, 1, batch_size=5, shuffle=True, seed=seed
        )
        return next(iter(inputs))[1]["classes"].numpy().ravel().tolist()

    assert sorted(order(3)) == [0, 1, 2, 3, 4]
    assert order(3) == order(3)
    unshuffled = to_detection_inputs(_examples(records), 8, 1, batch_size=5)
    assert next(iter(unshuffled))[1]["classes"].numpy().ravel().tolist() == [
        0, 1, 2, 3, 4,
    ]


def test_pipeline_uses_tf_ops_only():
    # from_generator itself runs Python, so build the source from tensors.
    source = tf.data.Dataset.from_tensors(
        {
            "image": tf.zeros((4, 4, 3), tf.uint8),
            "objects": {
                "bbox": tf.zeros((0, 4), tf.float32),
                "label": tf.zeros((0,), tf.int64),
            },
        }
    )
    inputs = to_detection_inputs(source, 4, max_boxes=2, batch_size=1)
    graph = tf.compat.v1.GraphDef.FromString(inputs._as_serialized_graph().numpy())
    ops = {node.op for node in graph.node} | {
        node.op for function in graph.library.function for node in function.node_def
    }
    assert "ParallelMapDatasetV2" in ops and ("Pad" in ops or "PadV2" in ops)
    assert not ops & {"EagerPyFunc", "PyFunc", "PyFuncStateless"}


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"image_size": 0}, "image_size must be a positive int"),
        ({"image_size": (32, 32, 3)}, r"must be an int or \(height, width\)"),
        ({"max_boxes": 0}, "max_boxes must be a positive int"),
        ({"batch_size": "2"}, "batch_size must be a positive int"),
        ({"shuffle": -1}, "shuffle must be a bool or a buffer size"),
    ],
)
def test_bad_arguments(kwargs, match):
    arguments = {"image_size": 32, "max_boxes": 4, "batch_size": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        to_detection_inputs(_examples(RECORDS), **arguments)


def test_bad_datasets():
    with pytest.raises(ValueError, match="must be a tf.data.Dataset"):
        to_detection_inputs([RECORDS[0]], 32)
    with pytest.raises(ValueError, match="call `dataset.unbatch\\(\\)` first"):
        to_detection_inputs(
            tf.data.Dataset.from_tensors(
                {
                    "image": tf.zeros((2, 4, 4, 3), tf.uint8),
                    "objects": {
                        "bbox": tf.zeros((2, 1, 4)),
                        "label": tf.zeros((2, 1), tf.int64),
                    },
                }
            ),
            32,
        )
    with pytest.raises(ValueError, match="dicts with 'image' and 'objects'"):
        to_detection_inputs(tf.data.Dataset.from_tensors(tf.zeros((4, 4, 3))), 32)
    with pytest.raises(ValueError, match="must be a dict with 'bbox' and 'label'"):
        to_detection_inputs(
            tf.data.Dataset.from_tensors(
                {"image": tf.zeros((4, 4, 3)), "objects": {"boxes": tf.zeros((1, 4))}}
            ),
            32,
        )
    with pytest.raises(ValueError, match="images must have 1 or 3 channels, got 4"):
        to_detection_inputs(_examples(RECORDS, channels=4), 32)


def test_keras_densify_bounding_boxes_still_fails_on_ragged_lists():
    # Why the pipeline pads with tf ops. When this test fails, Keras has fixed
    # densify_bounding_boxes and the pipeline may use it.
    from keras.src.layers.preprocessing.image_preprocessing.bounding_boxes import (
        validation,
    )

    ragged = {
        "boxes": [[[0.1, 0.1, 0.5, 0.5]], [[0.1, 0.1, 0.5, 0.5], [0.2, 0.2, 0.3, 0.3]]],
        "labels": [[1], [2, 3]],
    }
    dense = validation.densify_bounding_boxes(ragged, is_batched=True, max_boxes=4)
    # max_boxes is ignored: 2 rows instead of 4.
    assert tuple(dense["boxes"].shape) == (2, 2, 4)
    with pytest.raises(UnboundLocalError):
        validation.densify_bounding_boxes(
            {"boxes": [[0.1, 0.1, 0.5, 0.5]], "labels": [1]}, max_boxes=4
        )


def test_count_boxes_per_class_on_examples_and_on_inputs():
    counts = count_boxes_per_class(_examples(RECORDS), num_classes=5)
    assert counts.dtype == np.int64
    np.testing.assert_array_equal(counts, [1, 1, 0, 1, 0])
    # The first two images only.
    np.testing.assert_array_equal(
        count_boxes_per_class(_examples(RECORDS).take(2), 5), [0, 1, 0, 1, 0]
    )
    inputs = to_detection_inputs(_examples(RECORDS), 16, max_boxes=4, batch_size=2)
    np.testing.assert_array_equal(count_boxes_per_class(inputs, 5), [1, 1, 0, 1, 0])


def test_count_boxes_per_class_rejects_bad_input():
    with pytest.raises(ValueError, match=r"label 3 is outside \[0, num_classes=3\)"):
        count_boxes_per_class(_examples(RECORDS), 3)
    with pytest.raises(ValueError, match="num_classes must be >= 1"):
        count_boxes_per_class(_examples(RECORDS), 0)
    with pytest.raises(ValueError, match="expected unbatched examples"):
        count_boxes_per_class(tf.data.Dataset.range(3), 3)


def test_crowd_boxes_get_weight_zero():
    example = {
        "image": tf.zeros((8, 8, 3), tf.uint8),
        "objects": {
            "bbox": tf.constant([[0.1, 0.1, 0.5, 0.5], [0.2, 0.2, 0.9, 0.9]], tf.float32),
            "label": tf.constant([0, 1], tf.int64),
            "weight": tf.constant([2.0, 1.0], tf.float32),
            "iscrowd": tf.constant([False, True]),
        },
    }
    dataset = tf.data.Dataset.from_tensors(example)
    _, targets = next(iter(to_detection_inputs(dataset, 8, max_boxes=3, batch_size=1)))
    np.testing.assert_array_equal(targets["weights"][0], [2.0, 0.0, 0.0])


def test_an_augmentation_without_size_gets_the_output_size_passed_down():
    from keras_ssd.augment import SSDAugmentation

    def batches(augmentation):
        inputs = to_detection_inputs(_examples(RECORDS), 16, max_boxes=4, batch_size=3, augment=augmentation)
        return next(iter(inputs))

    unsized, sized = batches(SSDAugmentation(seed=3)), batches(SSDAugmentation(16, seed=3))
    # Same seeds, same draws: resizing inside the augmentation gives the very same batch.
    np.testing.assert_array_equal(unsized[0].numpy(), sized[0].numpy())
    np.testing.assert_array_equal(unsized[1]["boxes"].numpy(), sized[1]["boxes"].numpy())


def test_training_epochs_replay_the_same_epochs_when_resumed():
    """A run resumed at epoch 2 sees epochs 2 and 3 exactly as an uninterrupted run does."""
    from keras_ssd.augment import SSDAugmentation
    from keras_ssd.data.pipeline import training_epochs

    records = [
        (_image(24, 24, 10 * i), [[0.1, 0.1, 0.6, 0.7]], [i], [1.0]) for i in range(6)
    ]

    def epochs(initial_epoch, seed=5):
        batches = training_epochs(
            _examples(records), 16, 4, initial_epoch=initial_epoch, seed=seed, max_boxes=2,
            batch_size=4, shuffle=True, augment=SSDAugmentation(seed=seed),
        )  # fmt: skip
        return [(images.numpy(), targets["classes"].numpy()) for images, targets in batches]

    # A global seed of 0 (train_detector's default) once broke tensor seeds in a graph.
    keras.utils.set_random_seed(0)
    whole, resumed = epochs(0), epochs(2)
    from tensorflow.python.eager import context

    assert context.global_seed() == 0  # the epochs' graph seed stays in their graph
    assert len(whole) == 4 * 2 and len(resumed) == 2 * 2  # two batches (4 + 2) per epoch
    for (images, classes), (images_again, classes_again) in zip(whole[4:], resumed):
        np.testing.assert_array_equal(classes, classes_again)
        np.testing.assert_array_equal(images, images_again)
    orders = [np.concatenate([whole[2 * e][1][:, 0], whole[2 * e + 1][1][:, 0]]) for e in range(4)]
    assert all(sorted(order.tolist()) == list(range(6)) for order in orders)
    assert len({tuple(order) for order in orders}) > 1  # reshuffled between epochs
    # The augmentation differs between epochs too, and another seed gives other epochs.
    assert not np.array_equal(whole[0][0], whole[2][0])
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(epochs(0, seed=6), whole))


def test_an_epoch_needs_an_int_seed():
    with pytest.raises(ValueError, match="epoch needs an int seed"):
        to_detection_inputs(_examples(RECORDS), 16, epoch=1)
