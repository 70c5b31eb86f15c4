import keras
import pytest

from keras_ssd.backbones import resnet50_fpn
from keras_ssd.backbones.resnet50_fpn import resnet50_fpn_features


def test_pyramid_p3_to_p7_and_weights_reach_keras_applications(monkeypatch):
    seen = {}
    real = keras.applications.ResNet50

    def spy(**kwargs):
        seen.update(kwargs)
        return real(**{**kwargs, "weights": None})

    monkeypatch.setattr(resnet50_fpn.keras.applications, "ResNet50", spy)
    model = resnet50_fpn_features(128, weights="/path/to/resnet50.h5", width_multiplier=0.25)
    assert seen["weights"] == "/path/to/resnet50.h5"
    assert [tuple(output.shape[1:]) for output in model.outputs] == [
        (16, 16, 64), (8, 8, 64), (4, 4, 64), (2, 2, 64), (1, 1, 64)
    ]


def test_image_size_must_be_a_multiple_of_32():
    with pytest.raises(ValueError, match="multiple of 32"):
        resnet50_fpn_features(100)
