"""VGG16 with the SSD changes (Liu et al. 2016, section 3, "Base network"), and its extra layers."""

import keras

from keras_ssd.backbones.caffe_preprocessing import CaffePreprocessing
from keras_ssd.backbones.l2_normalization import L2Normalization

# The 13 convolutions of VGG16, block by block, named as in keras.applications.VGG16
# so that its ImageNet weights load by name.
VGG16_BLOCKS = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))

# Extra layers after conv7, (bottleneck, output, kernel, stride, padding) as in Caffe SSD:
# "pad1" is an explicit 1-pixel pad then VALID, as Caffe and torchvision do.
SSD300_EXTRAS = (
    (256, 512, 3, 2, "pad1"),
    (128, 256, 3, 2, "pad1"),
    (128, 256, 3, 1, "valid"),
    (128, 256, 3, 1, "valid"),
)
SSD512_EXTRAS = (
    (256, 512, 3, 2, "pad1"),
    (128, 256, 3, 2, "pad1"),
    (128, 256, 3, 2, "pad1"),
    (128, 256, 3, 2, "pad1"),
    (128, 256, 4, 1, "pad1"),
)
VARIANTS = {"ssd300": SSD300_EXTRAS, "ssd512": SSD512_EXTRAS}


def _width(channels, width_multiplier):
    return max(8, int(round(channels * width_multiplier)))


def vgg16_ssd_features(image_size, variant="ssd300", weights=None, width_multiplier=1.0):
    """Builds SSD's VGG16: conv4_3 (L2-normalised), conv7 and the extra maps.

    VGG16's pool3 rounds up (Caffe's ceil mode: 75 -> 38 at 300 px), pool5 is
    3x3 with stride 1, fc6/fc7 become conv6 (3x3, dilation 6, 1024) and conv7
    (1x1, 1024); the extras are 1x1 bottlenecks then 3x3 convolutions.

    Args:
        image_size: int. Side of the square input in pixels.
        variant: `"ssd300"` (maps 38, 19, 10, 5, 3, 1 at 300 px) or
            `"ssd512"` (64, 32, 16, 8, 4, 2, 1 at 512 px).
        weights: None, `"imagenet"` or a path to VGG16 weights (loaded
            through `keras.applications.VGG16`, by layer name).
        width_multiplier: float. Scales every channel count (tests use
            small widths); ImageNet weights need 1.0.

    Returns:
        A `keras.Model` from RGB pixels in `[0, 255]` to the list of maps.

    Raises:
        ValueError: for an unknown variant, weights with a width other than
            1, or an image too small for the last VALID convolutions.
    """
    if variant not in VARIANTS:
        raise ValueError(f"`variant` must be one of {sorted(VARIANTS)}, got {variant!r}.")
    if weights is not None and width_multiplier != 1.0:
        raise ValueError(
            f"Pretrained VGG16 weights need width_multiplier=1.0, got {width_multiplier}."
        )
    # The 13 convolutions form a nested model, as the other backbones' keras.applications
    # networks do (the training job finds the backbone that way).
    trunk_input = keras.Input((image_size, image_size, 3), name="bgr_images")
    hidden = trunk_input
    conv4_3 = None
    for block, channels in enumerate(VGG16_BLOCKS, start=1):
        for index, filters in enumerate(channels, start=1):
            hidden = keras.layers.Conv2D(
                _width(filters, width_multiplier), 3, padding="same", activation="relu",
                name=f"block{block}_conv{index}",
            )(hidden)
        if block == 4:
            conv4_3 = hidden
        if block == 5:
            pool = keras.layers.MaxPooling2D(3, strides=1, padding="same", name="pool5")
        else:
            # "same" on a stride-2 2x2 pool rounds up like Caffe's ceil mode (pool3 only).
            padding = "same" if block == 3 else "valid"
            pool = keras.layers.MaxPooling2D(2, padding=padding, name=f"block{block}_pool")
        hidden = pool(hidden)
    trunk = keras.Model(trunk_input, [conv4_3, hidden], name="vgg16")
    images = keras.Input((image_size, image_size, 3), name="images")
    conv4_3, hidden = trunk(CaffePreprocessing(name="caffe_preprocessing")(images))
    hidden = keras.layers.Conv2D(
        _width(1024, width_multiplier), 3, dilation_rate=6, padding="same", activation="relu",
        name="conv6",
    )(hidden)
    conv7 = keras.layers.Conv2D(
        _width(1024, width_multiplier), 1, activation="relu", name="conv7"
    )(hidden)
    features = [L2Normalization(20.0, name="conv4_3_norm")(conv4_3), conv7]
    for index, (bottleneck, filters, kernel, stride, padding) in enumerate(VARIANTS[variant]):
        name = f"conv{8 + index}"
        if features[-1].shape[1] + (2 if padding == "pad1" else 0) < kernel:
            raise ValueError(
                f"image_size={image_size} is too small for the {variant} VGG16: {name}_2 "
                f"gets a {features[-1].shape[1]}x{features[-1].shape[2]} map."
            )
        hidden = keras.layers.Conv2D(
            _width(bottleneck, width_multiplier), 1, activation="relu", name=f"{name}_1"
        )(features[-1])
        if padding == "pad1":
            hidden = keras.layers.ZeroPadding2D(1, name=f"{name}_pad")(hidden)
        features.append(
            keras.layers.Conv2D(
                _width(filters, width_multiplier), kernel, strides=stride, activation="relu",
                name=f"{name}_2",
            )(hidden)
        )
    model = keras.Model(images, features, name=f"vgg16_{variant}")
    if weights is not None:
        _load_vgg16_weights(trunk, image_size, weights)
    return model


def _load_vgg16_weights(model, image_size, weights):
    """Copies the 13 convolutions of `keras.applications.VGG16(weights=...)` by name."""
    base = keras.applications.VGG16(
        include_top=False, weights=weights, input_shape=(image_size, image_size, 3)
    )
    for block, channels in enumerate(VGG16_BLOCKS, start=1):
        for index in range(1, len(channels) + 1):
            name = f"block{block}_conv{index}"
            model.get_layer(name).set_weights(base.get_layer(name).get_weights())
