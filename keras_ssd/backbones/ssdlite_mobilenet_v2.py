"""SSDLite's MobileNetV2 feature maps (Sandler et al. 2018, section 6.2; TF OD API `ssdlite_mobilenet_v2`)."""

import keras

from keras_ssd.backbones.extra_feature_layers import extra_feature_block
from keras_ssd.backbones.mobilenet_v2 import mobilenet_v2_features

# TF OD API's layer_15/expansion_output (stride 16) and layer_19 (stride 32, 1280 channels).
SSDLITE_FEATURE_LAYERS = ("block_13_expand_relu", "out_relu")
SSDLITE_EXTRA_FILTERS = (512, 256, 256, 128)
MIN_DEPTH = 16


def ssdlite_mobilenet_v2_features(
    image_size, weights=None, width_multiplier=1.0, batch_norm_momentum=0.9,
    extra_filters=SSDLITE_EXTRA_FILTERS,
):
    """MobileNetV2 at strides 16 and 32, then four depthwise-separable extra maps.

    Unlike the `"mobilenet_v2"` backbone (extras until the map is 1x1), the
    number of extra blocks is fixed as in the TF OD API, so the number of maps
    (6) does not depend on the image size; their channels are scaled by the
    width multiplier with a floor of 16 (TF's `min_depth`).

    Args:
        image_size: int. Side of the square input in pixels.
        weights: None, `"imagenet"` or a path, for `keras.applications.MobileNetV2`.
        width_multiplier: float. MobileNetV2's alpha, also applied to the extras.
        batch_norm_momentum: float. Defaults to 0.9.
        extra_filters: channels of the extra blocks. Defaults to 512, 256, 256, 128.

    Returns:
        A `keras.Model` from RGB pixels in `[0, 255]` to six feature maps.
    """
    network = mobilenet_v2_features(
        image_size, alpha=width_multiplier, weights=weights,
        feature_layers=SSDLITE_FEATURE_LAYERS, batch_norm_momentum=batch_norm_momentum,
    )
    images = keras.Input((image_size, image_size, 3), name="images")
    features = list(network(keras.layers.Rescaling(1.0 / 127.5, offset=-1.0)(images)))
    for index, filters in enumerate(extra_filters):
        filters = max(MIN_DEPTH, int(round(filters * width_multiplier)))
        block = extra_feature_block(filters, f"extra_{index}", batch_norm_momentum)
        features.append(block(features[-1]))
    return keras.Model(images, features, name="ssdlite_mobilenet_v2")
