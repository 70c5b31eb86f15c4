"""Backbone + extra layers: images in, the SSD feature maps out."""

import keras

from keras_ssd.backbones.extra_feature_layers import extra_feature_block
from keras_ssd.backbones.mobilenet_v2 import mobilenet_v2_features

BACKBONES = {"mobilenet_v2": mobilenet_v2_features}


def build_feature_extractor(
    backbone,
    image_size,
    backbone_weights=None,
    width_multiplier=1.0,
    extra_filters=(256, 256, 128, 128, 128),
    batch_norm_momentum=0.9,
):
    """Builds the network that maps images to SSD feature maps.

    Named backbones include their input scaling, so the result takes pixel
    values in `[0, 255]`. A user's `keras.Model` receives the images as they
    are and must return one or several feature maps, finest first.
    Extra blocks are stacked on the last map until it is 1x1.

    Args:
        backbone: a name in `BACKBONES` or a `keras.Model`.
        image_size: int. Side of the square input in pixels.
        backbone_weights: None or "imagenet", for named backbones.
        width_multiplier: float. Width (alpha) of a named backbone.
        extra_filters: channels of the extra blocks, used in order (the last
            value repeats).
        batch_norm_momentum: float. For the named backbone and the extras.

    Returns:
        A `keras.Model` from `[batch, image_size, image_size, 3]` to a list of
        feature maps.
    """
    images = keras.Input((image_size, image_size, 3), name="images")
    if isinstance(backbone, str):
        if backbone not in BACKBONES:
            raise ValueError(
                f"Unknown backbone {backbone!r}; known: {sorted(BACKBONES)}, "
                "or pass a keras.Model."
            )
        network = BACKBONES[backbone](
            image_size,
            alpha=width_multiplier,
            weights=backbone_weights,
            batch_norm_momentum=batch_norm_momentum,
        )
        features = network(keras.layers.Rescaling(1.0 / 127.5, offset=-1.0)(images))
    elif isinstance(backbone, keras.Model):
        features = backbone(images)
    else:
        raise ValueError(
            f"`backbone` must be a name in {sorted(BACKBONES)} or a keras.Model, got {backbone!r}."
        )
    features = list(features) if isinstance(features, (list, tuple)) else [features]
    if not extra_filters:
        raise ValueError("`extra_filters` needs at least one value.")
    extra_index = 0
    while features[-1].shape[1] > 1 or features[-1].shape[2] > 1:
        filters = extra_filters[min(extra_index, len(extra_filters) - 1)]
        block = extra_feature_block(filters, f"extra_{extra_index}", batch_norm_momentum)
        features.append(block(features[-1]))
        extra_index += 1
    return keras.Model(images, features, name="feature_extractor")
