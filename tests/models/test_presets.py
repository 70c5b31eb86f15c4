"""The published architectures: anchors, maps, parameter counts against references, training."""

import keras
import numpy as np
import pytest

from keras_ssd.data.synthetic_shapes import render_batch
from keras_ssd.models.ssd import SSD

from tests.conftest import tiny_backbone

# Per preset: (small overrides for fast tests, feature-map sides there, anchors there).
SMALL = {
    "ssd_mobilenet_v2": (
        {"image_size": 96, "width_multiplier": 0.35, "extra_filters": [32]},
        [12, 6, 3, 2, 1],
        144 * 4 + 36 * 6 + 9 * 6 + 4 * 4 + 1 * 4,
    ),
    # VGG16's last two VALID 3x3 convolutions need at least about 268 px.
    "ssd300_vgg16": (
        {"image_size": 272, "width_multiplier": 0.125},
        [34, 17, 9, 5, 3, 1],
        34**2 * 4 + (17**2 + 9**2 + 5**2) * 6 + (9 + 1) * 4,
    ),
    "ssd512_vgg16": (
        {"image_size": 272, "width_multiplier": 0.125},
        [34, 17, 9, 5, 3, 2, 1],
        34**2 * 4 + (17**2 + 9**2 + 5**2 + 3**2) * 6 + (4 + 1) * 4,
    ),
    "ssdlite320_mobilenet_v2": (
        {"image_size": 96, "width_multiplier": 0.35},
        [6, 3, 2, 1, 1, 1],
        36 * 3 + (9 + 4 + 1 + 1 + 1) * 6,
    ),
    "ssd640_resnet50_fpn": (
        {"image_size": 64, "width_multiplier": 0.125},
        [8, 4, 2, 1, 1],
        (64 + 16 + 4 + 1 + 1) * 6,
    ),
}
# VGG16 has no BatchNorm: from scratch it needs a smaller step than the BatchNorm networks.
LEARNING_RATES = {"ssd300_vgg16": 1e-4, "ssd512_vgg16": 1e-4}

NATIVE = {
    "ssd_mobilenet_v2": (300, [38, 19, 10, 5, 3, 2, 1], 8766),
    "ssd300_vgg16": (300, [38, 19, 10, 5, 3, 1], 8732),
    "ssd512_vgg16": (512, [64, 32, 16, 8, 4, 2, 1], 24564),
    "ssdlite320_mobilenet_v2": (320, [20, 10, 5, 3, 2, 1], 20 * 20 * 3 + (100 + 25 + 9 + 4 + 1) * 6),
    "ssd640_resnet50_fpn": (640, [80, 40, 20, 10, 5], 51150),
}


def _conv(kernel, inputs, outputs, bias=True):
    return kernel * kernel * inputs * outputs + (outputs if bias else 0)


def _head(channels, anchors, logits):
    return sum(_conv(3, c, a * (logits + 4)) for c, a in zip(channels, anchors))


def _ssd512_caffe_parameters(num_classes):
    """Caffe SSD512 (VGG16, softmax with background) counted layer by layer."""
    vgg = 14_714_688 + 512 + _conv(3, 512, 1024) + _conv(1, 1024, 1024)  # conv1-5, L2 scale, fc6, fc7
    extras = _conv(1, 1024, 256) + _conv(3, 256, 512) + _conv(1, 512, 128) + _conv(3, 128, 256)
    extras += 2 * (_conv(1, 256, 128) + _conv(3, 128, 256)) + _conv(1, 256, 128) + _conv(4, 128, 256)
    head = _head([512, 1024, 512, 256, 256, 256, 256], [4, 6, 6, 6, 6, 4, 4], num_classes + 1)
    return vgg + extras + head


def _resnet50_fpn_parameters(num_classes, depth=256, anchors=6):
    """TF OD API SSD ResNet50 V1 FPN: keras.applications ResNet50 + pyramid + shared heads."""
    batch_norm = 4 * depth
    pyramid = _conv(1, 512, depth) + _conv(1, 1024, depth) + _conv(1, 2048, depth)
    pyramid += 4 * (_conv(3, depth, depth, bias=False) + batch_norm)  # P3, P4 smoothing; P6, P7
    towers = 2 * 4 * _conv(3, depth, depth, bias=False) + 2 * 5 * 4 * batch_norm
    predictors = _conv(3, depth, anchors * 4) + _conv(3, depth, anchors * num_classes)
    return 23_587_712 + pyramid + towers + predictors


# (num_classes, reference parameter count, relative tolerance, source)
REFERENCE_PARAMETERS = {
    # torchvision.models.detection.ssd300_vgg16(num_classes=91): 90 classes + background.
    "ssd300_vgg16": (90, 35_641_826, 0.02),
    "ssd512_vgg16": (20, _ssd512_caffe_parameters(20), 0.0),
    # MobileNetV2 paper, Table 6: SSDLite 4.3M parameters on COCO (80 classes; rounded to 0.1M).
    "ssdlite320_mobilenet_v2": (80, 4_300_000, 0.03),
    "ssd640_resnet50_fpn": (90, _resnet50_fpn_parameters(90), 0.0),
}


def _map_sides(model):
    sides = [tuple(output.shape[1:3]) for output in model.feature_extractor.outputs]
    assert all(height == width for height, width in sides)
    return [height for height, _ in sides]


def test_presets_lists_every_architecture_and_mobilenet_is_the_default():
    assert set(SSD.presets()) == set(NATIVE)
    assert SSD.__init__.__defaults__[0] == "mobilenet_v2"
    with pytest.raises(ValueError, match="Unknown preset 'ssd300'"):
        SSD.from_preset("ssd300", num_classes=3)


@pytest.mark.parametrize("name", sorted(NATIVE))
def test_native_size_anchors_maps_and_parameters(name):
    image_size, sides, num_anchors = NATIVE[name]
    num_classes, reference, tolerance = REFERENCE_PARAMETERS.get(name, (3, None, None))
    model = SSD.from_preset(name, num_classes=num_classes)
    assert model.image_size == image_size
    assert _map_sides(model) == sides
    assert model.anchors.shape == (num_anchors, 4)
    if reference is not None:
        assert abs(model.count_params() - reference) <= tolerance * reference, model.count_params()
    if name == "ssd300_vgg16":
        # Exactly torchvision's count, and Caffe's boxes per cell.
        assert model.count_params() == 35_641_826
        assert model.anchor_generator.num_anchors_per_location() == [4, 6, 6, 6, 4, 4]


@pytest.mark.long_running(seconds=45)
@pytest.mark.parametrize("name", sorted(SMALL))
def test_small_size_maps_anchors_outputs_and_falling_loss(name):
    keras.utils.set_random_seed(0)
    overrides, sides, num_anchors = SMALL[name]
    model = SSD.from_preset(name, num_classes=5, **overrides)
    assert _map_sides(model) == sides
    assert model.anchors.shape == (num_anchors, 4)
    images, targets = render_batch(4, overrides["image_size"])
    outputs = model(images[:2])
    logits = 5 + int(model.uses_background_logit)
    assert outputs["boxes"].shape == (2, num_anchors, 4)
    assert outputs["classes"].shape == (2, num_anchors, logits)
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATES.get(name, 1e-3)))
    losses = model.fit(images, targets, batch_size=4, epochs=4, verbose=0).history["loss"]
    assert np.all(np.isfinite(losses))
    assert losses[-1] < losses[0]


@pytest.mark.long_running(seconds=25)
@pytest.mark.parametrize(
    "head, box_shapes",
    [
        ("separable", [[[0.3, 0.3], [0.4, 0.2], [0.2, 0.4]], [[0.6, 0.6], [0.8, 0.4], [0.4, 0.8]]]),
        ("weight_shared", [[[0.3, 0.3], [0.4, 0.2]], [[0.6, 0.6], [0.8, 0.4]]]),
    ],
)
def test_preset_heads_train_under_xla_in_mixed_bfloat16(head, box_shapes):
    # XLA-compiling a whole preset's train step takes 20-50 s per preset on a CPU, so the
    # suite compiles the new heads on a tiny backbone (the backbones are keras.applications
    # networks); bench/preset_training.py trains every whole preset under XLA.
    keras.config.set_dtype_policy("mixed_bfloat16")
    images, targets = render_batch(4, 64)
    model = SSD(
        num_classes=5, backbone=tiny_backbone(), image_size=64, extra_filters=[16],
        anchor_box_shapes=[box_shapes[0]] + [box_shapes[1]] * 3, head=head,  # maps 8, 4, 2, 1
        head_options={"depth": 16, "num_layers": 2} if head == "weight_shared" else None,
    )
    model.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=True)
    losses = model.fit(images, targets, batch_size=4, epochs=5, verbose=0).history["loss"]
    assert model(images[:1])["classes"].dtype == "float32"
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]


# float16 (loss scaling) for every preset; bfloat16 for the ones with a float32 island
# (VGG16's L2 norm). The others share the float16 case's layers, and
# bench/preset_training.py trains every whole preset under mixed_bfloat16.
MIXED_CASES = [(name, "mixed_float16") for name in sorted(SMALL)] + [
    (name, "mixed_bfloat16") for name in ("ssd300_vgg16", "ssd512_vgg16")
]


@pytest.mark.long_running(seconds=40)
@pytest.mark.parametrize("name, policy", MIXED_CASES)
def test_mixed_precision_trains_with_float32_outputs(name, policy):
    # One step per preset and policy (each costs a trace on the CPU): finite, float32
    # outputs; under bfloat16 the weights move (float16's first steps may be skipped
    # while the loss scale falls). Falling bfloat16 losses: the XLA heads test above.
    keras.utils.set_random_seed(0)
    keras.config.set_dtype_policy(policy)
    overrides, _, num_anchors = SMALL[name]
    model = SSD.from_preset(name, num_classes=5, **overrides)
    # A CPU has no fast float16 kernels: a VGG16 step on four images takes 10 s (0.09 s in
    # float32), on one 2.4 s; the dtypes and the loss scaling are the same for one image.
    num_images = 1 if policy == "mixed_float16" else 4
    images, targets = render_batch(num_images, overrides["image_size"])
    outputs = model(images[:1])
    assert outputs["boxes"].dtype == "float32" and outputs["classes"].dtype == "float32"
    # Tracing a preset's train step costs 5-50 s on a CPU (13 s for SSDLite, 40-60 s for
    # ResNet50-FPN); the falling-loss test above traces each one, and test_ssd.py traces a
    # float16 step, so here the float16 step runs eagerly: the same layers and loss scaling.
    model.compile(
        optimizer=keras.optimizers.Adam(LEARNING_RATES.get(name, 1e-3)),
        run_eagerly=policy == "mixed_float16",
    )
    if policy == "mixed_float16":
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    before = [np.array(weight) for weight in model.trainable_weights]
    losses = model.fit(images, targets, batch_size=num_images, epochs=1, verbose=0).history["loss"]
    assert np.all(np.isfinite(losses))
    moved = [not np.array_equal(a, np.array(b)) for a, b in zip(before, model.trainable_weights)]
    if policy == "mixed_bfloat16":
        assert np.mean(moved) > 0.5


@pytest.mark.parametrize("name", ["ssd300_vgg16", "ssdlite320_mobilenet_v2", "ssd640_resnet50_fpn"])
def test_config_round_trip_and_keras_file_give_the_same_numbers(name, tmp_path):
    overrides, _, _ = SMALL[name]
    model = SSD.from_preset(name, num_classes=2, class_names=["a", "b"], **overrides)
    for weight in model.weights:  # not the initial values: BatchNorm statistics, L2 scales too
        weight.assign(weight + np.random.default_rng(0).uniform(0.0, 0.1, weight.shape))
    images, _ = render_batch(1, overrides["image_size"])
    revived = SSD.from_config(model.get_config())
    assert revived.get_config() == model.get_config()
    revived.set_weights(model.get_weights())
    np.testing.assert_array_equal(revived.anchors, model.anchors)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    expected = model(images)
    for other in (revived, loaded):
        for key in ("boxes", "classes"):
            np.testing.assert_array_equal(other(images)[key], expected[key])
