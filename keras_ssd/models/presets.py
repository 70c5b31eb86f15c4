"""The published SSD architectures as `SSD` arguments: `SSD.from_preset(name, num_classes)`.

Paper defaults live here, not in `SSD.__init__`. Each preset maps an image size
(and width) to constructor arguments, so that anchors and layers that depend on
the size follow an `image_size` override. `docs/presets.md` has the table.
"""

import dataclasses
import math
from typing import Callable

from keras_ssd.anchors.presets import SSD300, SSD512
from keras_ssd.backbones.ssdlite_mobilenet_v2 import SSDLITE_EXTRA_FILTERS
from keras_ssd.losses import (
    HardExampleMiner,
    SigmoidFocalClassificationLoss,
    SmoothL1LocalizationLoss,
    WeightedSigmoidClassificationLoss,
)


@dataclasses.dataclass(frozen=True)
class Preset:
    """One architecture: its native input size, a description and its arguments.

    Attributes:
        image_size: int. The published input side in pixels.
        description: str. One line: what it is and where it comes from.
        arguments: callable `(image_size, width_multiplier) -> dict` of `SSD`
            arguments (everything but `num_classes` and `backbone_weights`).
    """

    image_size: int
    description: str
    arguments: Callable


def _caffe_vgg16(anchors, backbone):
    """Caffe SSD300/SSD512: its scales and aspect ratios; its steps at the native size."""

    def arguments(image_size, width_multiplier):
        native = image_size == anchors["image_size"]
        return {
            "backbone": backbone,
            "aspect_ratios": anchors["aspect_ratios"],
            "anchor_scales": anchors["scales"],
            # Caffe's steps (8, 16, ..., 100, 300) describe the native size only; at
            # another size the centres are at (j + 0.5) / map size.
            "anchor_steps": anchors["steps"] if native else None,
        }

    return arguments


def tf_ssd_box_shapes(num_layers, min_scale=0.2, max_scale=0.95,
                      aspect_ratios=(1.0, 2.0, 0.5, 3.0, 1.0 / 3.0)):
    """Box shapes of the TF OD API's `ssd_anchor_generator` with `reduce_boxes_in_lowest_layer`.

    The lowest layer has 3 boxes, `(0.1, 1)`, `(min_scale, 2)` and
    `(min_scale, 0.5)`; layer `k` has each ratio at scale `s_k` and one 1:1 box
    at `sqrt(s_k s_{k+1})` (`s_{m+1} = 1`). Height `s / sqrt(r)`, width `s sqrt(r)`.

    Args:
        num_layers: int. Number of feature maps.
        min_scale: float. Scale of the first layer. Defaults to 0.2.
        max_scale: float. Scale of the last layer. Defaults to 0.95.
        aspect_ratios: widths over heights. Defaults to TF's 1, 2, 1/2, 3, 1/3.

    Returns:
        list of `num_layers` lists of `[height, width]`.
    """
    scales = [
        min_scale + (max_scale - min_scale) * layer / (num_layers - 1) for layer in range(num_layers)
    ] + [1.0]
    shapes = []
    for layer in range(num_layers):
        if layer == 0:
            pairs = [(0.1, 1.0), (scales[0], 2.0), (scales[0], 0.5)]
        else:
            pairs = [(scales[layer], ratio) for ratio in aspect_ratios]
            pairs.append((math.sqrt(scales[layer] * scales[layer + 1]), 1.0))
        shapes.append([[scale / math.sqrt(ratio), scale * math.sqrt(ratio)] for scale, ratio in pairs])
    return shapes


def multiscale_box_shapes(image_size, min_level=3, max_level=7, anchor_scale=4.0,
                          scales_per_octave=2, aspect_ratios=(1.0, 2.0, 0.5)):
    """Box shapes of the TF OD API's `multiscale_anchor_generator` (RetinaNet).

    Level `l` (stride `2^l`) has a base side `anchor_scale * 2^l` pixels and
    one box per octave scale `2^(i / scales_per_octave)` and ratio `r`
    (height `base 2^(i/n) / sqrt(r)`, width `base 2^(i/n) sqrt(r)`).

    Args:
        image_size: int. Side of the input in pixels (the shapes are fractions of it).
        min_level: int. Finest pyramid level. Defaults to 3.
        max_level: int. Coarsest pyramid level. Defaults to 7.
        anchor_scale: float. Base side in strides. Defaults to 4.
        scales_per_octave: int. Defaults to 2.
        aspect_ratios: widths over heights. Defaults to 1, 2, 1/2.

    Returns:
        list of lists of `[height, width]`, one list per level.
    """
    shapes = []
    for level in range(min_level, max_level + 1):
        base = anchor_scale * 2**level / image_size
        shapes.append(
            [
                [base * 2 ** (octave / scales_per_octave) / math.sqrt(ratio),
                 base * 2 ** (octave / scales_per_octave) * math.sqrt(ratio)]
                for octave in range(scales_per_octave)
                for ratio in aspect_ratios
            ]
        )
    return shapes


def _ssd_mobilenet_v2(image_size, width_multiplier):
    return {"backbone": "mobilenet_v2"}


def _ssdlite_mobilenet_v2(image_size, width_multiplier):
    # TF OD API ssdlite_mobilenet_v2_coco: sigmoid loss, the hard-example miner with
    # NMS at 0.99 and 3 negatives per positive.
    return {
        "backbone": "ssdlite_mobilenet_v2",
        "extra_filters": list(SSDLITE_EXTRA_FILTERS),
        "anchor_box_shapes": tf_ssd_box_shapes(6),
        "head": "separable",
        "classification_loss": HardExampleMiner(
            WeightedSigmoidClassificationLoss(),
            num_hard_examples=3000,
            iou_threshold=0.99,
            max_negatives_per_positive=3.0,
            min_negatives_per_image=3,
        ),
        "localization_loss": SmoothL1LocalizationLoss(),
    }


def _resnet50_fpn(image_size, width_multiplier):
    depth = max(8, int(round(256 * width_multiplier)))
    return {
        "backbone": "resnet50_fpn",
        "anchor_box_shapes": multiscale_box_shapes(image_size),
        "head": "weight_shared",
        "head_options": {"depth": depth, "num_layers": 4},
        "classification_loss": SigmoidFocalClassificationLoss(gamma=2.0, alpha=0.25),
        "localization_loss": SmoothL1LocalizationLoss(),
    }


PRESETS = {
    "ssd_mobilenet_v2": Preset(
        300,
        "MobileNetV2 (strides 8, 16, 32) + SSDLite-style extras to 1x1, regular 3x3 heads; "
        "keras_ssd's default",
        _ssd_mobilenet_v2,
    ),
    "ssd300_vgg16": Preset(
        300,
        "SSD300 (Liu et al. 2016; Caffe SSD, torchvision ssd300_vgg16): VGG16, 8732 anchors",
        _caffe_vgg16(SSD300, "vgg16_ssd300"),
    ),
    "ssd512_vgg16": Preset(
        512,
        "SSD512 (Liu et al. 2016, Table 7; Caffe SSD): VGG16, 24564 anchors",
        _caffe_vgg16(SSD512, "vgg16_ssd512"),
    ),
    "ssdlite320_mobilenet_v2": Preset(
        320,
        "SSDLite (Sandler et al. 2018; TF OD API ssdlite_mobilenet_v2) at 320 px: "
        "depthwise-separable extras and heads",
        _ssdlite_mobilenet_v2,
    ),
    "ssd640_resnet50_fpn": Preset(
        640,
        "TF OD API SSD ResNet50 V1 FPN 640x640 (RetinaNet-style P3-P7, shared heads, "
        "6 anchors per cell, focal loss)",
        _resnet50_fpn,
    ),
}


def preset_arguments(name, **overrides):
    """`SSD` arguments of a preset, with `overrides` applied last.

    Args:
        name: str. A key of `PRESETS`.
        **overrides: `SSD` arguments; `image_size` and `width_multiplier`
            also reshape what depends on them (anchors, head depth).

    Returns:
        dict of `SSD` arguments (without `num_classes` and `backbone_weights`).

    Raises:
        ValueError: for an unknown name.
    """
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}; known: {sorted(PRESETS)}.")
    preset = PRESETS[name]
    image_size = int(overrides.get("image_size", preset.image_size))
    width_multiplier = float(overrides.get("width_multiplier", 1.0))
    arguments = {"image_size": image_size, **preset.arguments(image_size, width_multiplier)}
    arguments.update(overrides)
    return arguments
