"""Extra SSD feature maps stacked on a backbone's last output (paper, section 2.1)."""

import keras


def extra_feature_block(filters, name, batch_norm_momentum=0.9):
    """A 1x1 bottleneck then a stride-2 3x3 depthwise-separable convolution (SSDLite).

    Args:
        filters: int. Output channels.
        name: str. Layer name prefix.
        batch_norm_momentum: float. BatchNorm moving-average momentum.

    Returns:
        A `keras.Sequential` halving the spatial size.
    """
    return keras.Sequential(
        [
            keras.layers.Conv2D(filters // 2, 1, use_bias=False, name=f"{name}_reduce"),
            keras.layers.BatchNormalization(momentum=batch_norm_momentum, name=f"{name}_reduce_bn"),
            keras.layers.ReLU(6.0),
            keras.layers.SeparableConv2D(
                filters, 3, strides=2, padding="same", use_bias=False, name=f"{name}_conv"
            ),
            keras.layers.BatchNormalization(momentum=batch_norm_momentum, name=f"{name}_conv_bn"),
            keras.layers.ReLU(6.0),
        ],
        name=name,
    )
