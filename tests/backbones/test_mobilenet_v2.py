import keras
import pytest

from keras_ssd.backbones import mobilenet_v2
from keras_ssd.backbones.feature_extractor import build_feature_extractor
from keras_ssd.backbones.mobilenet_v2 import mobilenet_v2_features


def _batch_norm_momenta(model):
    return {
        layer.momentum
        for layer in model._flatten_layers(include_self=False)
        if isinstance(layer, keras.layers.BatchNormalization)
    }


def test_keras_applications_still_uses_momentum_0_999():
    # The trap we work around: with 0.999 a detector trained from scratch for a few
    # epochs predicts nothing in inference mode. If Keras changes it, revisit the default.
    base = keras.applications.MobileNetV2(input_shape=(64, 64, 3), alpha=0.35, include_top=False, weights=None)
    assert _batch_norm_momenta(base) == {0.999}


def test_our_backbone_lowers_the_momentum():
    features = mobilenet_v2_features(64, alpha=0.35)
    assert _batch_norm_momenta(features) == {0.9}
    extractor = build_feature_extractor("mobilenet_v2", 64, width_multiplier=0.35, batch_norm_momentum=0.8)
    assert _batch_norm_momenta(extractor) == {0.8}


def test_feature_maps_at_strides_8_16_32_then_extras_to_1x1():
    extractor = build_feature_extractor("mobilenet_v2", 128, width_multiplier=0.35, extra_filters=[64, 32])
    shapes = [tuple(output.shape[1:3]) for output in extractor.outputs]
    assert shapes == [(16, 16), (8, 8), (4, 4), (2, 2), (1, 1)]
    assert [output.shape[-1] for output in extractor.outputs[3:]] == [64, 32]


def test_imagenet_weights_are_requested_from_keras_applications(monkeypatch):
    # No download in tests: check the argument reaches keras.applications.
    seen = {}
    real = keras.applications.MobileNetV2

    def spy(**kwargs):
        seen.update(kwargs)
        return real(**{**kwargs, "weights": None})

    monkeypatch.setattr(mobilenet_v2.keras.applications, "MobileNetV2", spy)
    mobilenet_v2_features(96, alpha=0.35, weights="imagenet")
    assert seen["weights"] == "imagenet" and seen["alpha"] == 0.35


def test_bad_backbone_arguments():
    with pytest.raises(ValueError, match="batch_norm_momentum must be in"):
        mobilenet_v2_features(64, alpha=0.35, batch_norm_momentum=1.0)
    with pytest.raises(ValueError, match="must be a name in"):
        build_feature_extractor(42, 64)
