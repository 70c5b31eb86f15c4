"""Backbone + extra layers: images in, the SSD feature maps out."""

import contextlib

import keras

from keras_ssd.backbones.extra_feature_layers import extra_feature_block
from keras_ssd.backbones.mobilenet_v2 import mobilenet_v2_features
from keras_ssd.backbones.resnet50_fpn import resnet50_fpn_features
from keras_ssd.backbones.ssdlite_mobilenet_v2 import ssdlite_mobilenet_v2_features
from keras_ssd.backbones.vgg16 import vgg16_ssd_features

# Backbones that get generic extra blocks until their last map is 1x1.
BACKBONES = {"mobilenet_v2": mobilenet_v2_features}


def _vgg16_ssd300(image_size, weights, width_multiplier, batch_norm_momentum, extra_filters):
    return vgg16_ssd_features(image_size, "ssd300", weights, width_multiplier)


def _vgg16_ssd512(image_size, weights, width_multiplier, batch_norm_momentum, extra_filters):
    return vgg16_ssd_features(image_size, "ssd512", weights, width_multiplier)


def _ssdlite_mobilenet_v2(image_size, weights, width_multiplier, batch_norm_momentum, extra_filters):
    return ssdlite_mobilenet_v2_features(
        image_size, weights, width_multiplier, batch_norm_momentum, extra_filters
    )


def _resnet50_fpn(image_size, weights, width_multiplier, batch_norm_momentum, extra_filters):
    return resnet50_fpn_features(image_size, weights, width_multiplier, batch_norm_momentum)


# Complete feature extractors of the published architectures, their extra layers or
# pyramid included (`extra_filters` is used by ssdlite_mobilenet_v2 only).
FEATURE_EXTRACTORS = {
    "vgg16_ssd300": _vgg16_ssd300,
    "vgg16_ssd512": _vgg16_ssd512,
    "ssdlite_mobilenet_v2": _ssdlite_mobilenet_v2,
    "resnet50_fpn": _resnet50_fpn,
}


@contextlib.contextmanager
def _download_failures_named(backbone, weights):
    """One line instead of Keras' chained tracebacks when ImageNet weights cannot be fetched."""
    try:
        yield
    except Exception as error:  # keras.utils.get_file raises a bare Exception
        if weights != "imagenet" or "URL fetch failure" not in str(error):
            raise
        reason = str(error).strip().splitlines()[0][:200]
        raise ValueError(
            f"backbone_weights='imagenet': the ImageNet weights of {backbone} could not be "
            f"downloaded ({reason}). Run once with network access (Keras keeps them in "
            "~/.keras/models), or give a weights file."
        ) from None


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

    Names in `FEATURE_EXTRACTORS` build a published architecture whole
    (VGG16 for SSD300/SSD512, SSDLite's MobileNetV2, ResNet50-FPN).

    Args:
        backbone: a name in `BACKBONES` or `FEATURE_EXTRACTORS`, or a `keras.Model`.
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
    if isinstance(backbone, str) and backbone in FEATURE_EXTRACTORS:
        with _download_failures_named(backbone, backbone_weights):
            return FEATURE_EXTRACTORS[backbone](
                image_size,
                weights=backbone_weights,
                width_multiplier=width_multiplier,
                batch_norm_momentum=batch_norm_momentum,
                extra_filters=extra_filters,
            )
    images = keras.Input((image_size, image_size, 3), name="images")
    known = sorted({*BACKBONES, *FEATURE_EXTRACTORS})
    if isinstance(backbone, str):
        if backbone not in BACKBONES:
            raise ValueError(
                f"Unknown backbone {backbone!r}; known: {known}, or pass a keras.Model."
            )
        with _download_failures_named(backbone, backbone_weights):
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
            f"`backbone` must be a name in {known} or a keras.Model, got {backbone!r}."
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
