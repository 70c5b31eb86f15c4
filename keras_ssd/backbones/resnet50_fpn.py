"""ResNet50 V1 with a feature pyramid P3-P7, as the TF OD API's SSD ResNet50 V1 FPN."""

import keras

from keras_ssd.backbones.caffe_preprocessing import CaffePreprocessing
from keras_ssd.backbones.mobilenet_v2 import set_batch_norm_momentum

# C3, C4, C5: the last block of each stage of keras.applications.ResNet50 (strides 8, 16, 32).
RESNET50_FEATURE_LAYERS = ("conv3_block4_out", "conv4_block6_out", "conv5_block3_out")
FPN_DEPTH = 256


def _conv_bn_relu6(hidden, depth, strides, name, batch_norm_momentum):
    hidden = keras.layers.Conv2D(
        depth, 3, strides=strides, padding="same", use_bias=False, name=name
    )(hidden)
    hidden = keras.layers.BatchNormalization(momentum=batch_norm_momentum, name=f"{name}_bn")(hidden)
    return keras.layers.ReLU(6.0, name=f"{name}_relu6")(hidden)


def resnet50_fpn_features(image_size, weights=None, width_multiplier=1.0, batch_norm_momentum=0.9):
    """Builds ResNet50 + FPN: five 256-channel maps at strides 8 to 128.

    TF OD API `ssd_resnet50_v1_fpn` (Lin et al. 2017, "Feature Pyramid
    Networks"; RetinaNet's P3-P7): 1x1 lateral projections of C3-C5, a
    nearest-neighbour top-down pathway, a 3x3 conv + BatchNorm + ReLU6
    smoothing P3 and P4, then P6 and P7 by stride-2 3x3 conv + BatchNorm +
    ReLU6 on P5.

    Args:
        image_size: int. Side of the square input, a multiple of 32.
        weights: None, `"imagenet"` or a path, for `keras.applications.ResNet50`.
        width_multiplier: float. Scales the pyramid's 256 channels (the
            ResNet is unchanged). Defaults to 1.0.
        batch_norm_momentum: float. For ResNet50 and the pyramid. Defaults to 0.9.

    Returns:
        A `keras.Model` from RGB pixels in `[0, 255]` to `[P3, P4, P5, P6, P7]`.

    Raises:
        ValueError: if `image_size` is not a multiple of 32.
    """
    if image_size % 32:
        raise ValueError(
            f"resnet50_fpn needs image_size to be a multiple of 32 (the top-down "
            f"pathway doubles C5), got {image_size}."
        )
    depth = max(8, int(round(FPN_DEPTH * width_multiplier)))
    base = keras.applications.ResNet50(
        include_top=False, weights=weights, input_shape=(image_size, image_size, 3)
    )
    set_batch_norm_momentum(base, batch_norm_momentum)
    backbone = keras.Model(
        base.input, [base.get_layer(name).output for name in RESNET50_FEATURE_LAYERS],
        name="resnet50",
    )
    images = keras.Input((image_size, image_size, 3), name="images")
    c3, c4, c5 = backbone(CaffePreprocessing(name="caffe_preprocessing")(images))
    laterals = [
        keras.layers.Conv2D(depth, 1, name=f"fpn_lateral_{level}")(feature)
        for level, feature in zip((3, 4, 5), (c3, c4, c5))
    ]
    top_down = laterals[2]
    pyramid = [top_down]
    for level, lateral in ((4, laterals[1]), (3, laterals[0])):
        top_down = keras.layers.Add(name=f"fpn_add_{level}")(
            [lateral, keras.layers.UpSampling2D(2, name=f"fpn_upsample_{level}")(top_down)]
        )
        pyramid.insert(0, _conv_bn_relu6(top_down, depth, 1, f"fpn_smooth_{level}", batch_norm_momentum))
    for level in (6, 7):
        pyramid.append(_conv_bn_relu6(pyramid[-1], depth, 2, f"fpn_p{level}", batch_norm_momentum))
    return keras.Model(images, pyramid, name="resnet50_fpn")
