import keras
import numpy as np
import pytest

from keras_ssd.backbones import vgg16
from keras_ssd.backbones.vgg16 import vgg16_ssd_features


def test_imagenet_weights_are_copied_by_layer_name(monkeypatch):
    # No download in tests: keras.applications gets weights=None, then known values.
    seen = {}
    real = keras.applications.VGG16

    def spy(**kwargs):
        seen.update(kwargs)
        base = real(**{**kwargs, "weights": None})
        for layer in base.layers:
            for weight in layer.weights:
                weight.assign(np.full(weight.shape, 0.5, "float32"))
        return base

    monkeypatch.setattr(vgg16.keras.applications, "VGG16", spy)
    model = vgg16_ssd_features(272, weights="imagenet")
    assert seen["weights"] == "imagenet" and seen["include_top"] is False
    trunk = model.get_layer("vgg16")  # nested, as the other backbones' networks
    np.testing.assert_array_equal(np.asarray(trunk.get_layer("block5_conv3").kernel), 0.5)
    assert not np.all(np.asarray(model.get_layer("conv6").kernel) == 0.5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"image_size": 300, "weights": "imagenet", "width_multiplier": 0.5}, "width_multiplier=1.0"),
        ({"image_size": 160, "width_multiplier": 0.125}, "too small"),
        ({"image_size": 300, "variant": "ssd321"}, "`variant` must be one of"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        vgg16_ssd_features(**kwargs)
