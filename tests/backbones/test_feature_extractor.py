"""Named backbones: ImageNet weights that cannot be fetched are one clear line."""

import pytest
from keras.src.utils import file_utils

from keras_ssd.backbones.feature_extractor import build_feature_extractor


def _offline(*args, **kwargs):
    # What keras.utils.get_file raises without network (Keras 3.15).
    raise Exception(
        "URL fetch failure on https://storage.googleapis.com/tensorflow/keras-applications/"
        "mobilenet_v2/weights.h5: None -- [Errno -3] Temporary failure in name resolution"
    )


@pytest.mark.parametrize("backbone", ["mobilenet_v2", "ssdlite_mobilenet_v2"])
def test_imagenet_weights_without_network_are_one_clear_error(backbone, monkeypatch):
    monkeypatch.setattr(file_utils, "get_file", _offline)
    with pytest.raises(ValueError) as raised:
        build_feature_extractor(backbone, 96, backbone_weights="imagenet", width_multiplier=0.35,
                                extra_filters=[16])  # fmt: skip
    message = str(raised.value)
    assert message.startswith(f"backbone_weights='imagenet': the ImageNet weights of {backbone} could not")
    assert "Temporary failure in name resolution" in message and "give a weights file" in message
    assert raised.value.__suppress_context__  # no chained tracebacks behind it
