"""MobileNetV2 feature extractor from `keras.applications`."""

import keras

# Outputs at strides 8, 16 and 32: the expansion of the first block of each new stride
# (SSDLite taps block_13_expand_relu and out_relu; the stride-8 tap helps small objects).
MOBILENET_V2_FEATURE_LAYERS = ("block_6_expand_relu", "block_13_expand_relu", "out_relu")

# keras.applications keeps BatchNorm statistics with momentum 0.999: after a few epochs
# from scratch the moving statistics still describe the random initial network and the
# detector predicts nothing in inference mode. 0.9 tracks the learned network.
DEFAULT_BATCH_NORM_MOMENTUM = 0.9


def mobilenet_v2_features(
    image_size,
    alpha=1.0,
    weights=None,
    feature_layers=MOBILENET_V2_FEATURE_LAYERS,
    batch_norm_momentum=DEFAULT_BATCH_NORM_MOMENTUM,
):
    """Builds MobileNetV2 returning several feature maps.

    Args:
        image_size: int. Side of the square input in pixels.
        alpha: float. Width multiplier. Defaults to 1.0.
        weights: None or `"imagenet"` (downloads the ImageNet weights once
            through `keras.applications`). Defaults to None.
        feature_layers: names of the layers whose outputs are returned, finest
            first.
        batch_norm_momentum: float. Momentum of every BatchNorm moving average.
            Defaults to 0.9 (see the module comment).

    Returns:
        A `keras.Model` mapping `[batch, size, size, 3]` images in `[-1, 1]`
        to a list of feature maps.
    """
    base = keras.applications.MobileNetV2(
        input_shape=(image_size, image_size, 3),
        alpha=alpha,
        include_top=False,
        weights=weights,
    )
    set_batch_norm_momentum(base, batch_norm_momentum)
    outputs = [base.get_layer(name).output for name in feature_layers]
    return keras.Model(base.input, outputs, name=f"mobilenet_v2_{alpha}")


def set_batch_norm_momentum(model, momentum):
    """Sets the moving-average momentum of every BatchNormalization layer."""
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"batch_norm_momentum must be in [0, 1), got {momentum}.")
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = momentum
