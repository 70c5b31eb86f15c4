"""Centre-size box encoding of SSD (variances 0.1, 0.1, 0.2, 0.2)."""

import math

import keras

# Boxes are normalised yxyx; the encoding is scale-free, so Keras' absolute "yxyx"
# conversions apply unchanged and no image size is needed.
_BOX_FORMAT = "yxyx"
_ENCODING = "center_yxhw"
# Largest log size ratio decoded, as torchvision's BoxCoder (`bbox_xform_clip`): a box at
# most 1000/16 times its anchor. Without it one huge delta overflows exp() and, even on
# an anchor of weight 0, turns the gradient of a loss on decoded boxes into NaN (inf * 0).
LOG_SCALE_CLIP = math.log(1000.0 / 16)


@keras.saving.register_keras_serializable(package="keras_ssd")
class BoxCoder:
    """Encodes boxes as offsets from anchors and decodes them back.

    `t_y = (y - y_a) / (h_a · v_0)`, `t_x = (x - x_a) / (w_a · v_1)`,
    `t_h = log(h / h_a) / v_2`, `t_w = log(w / w_a) / v_3` with centres
    `(y, x)` and sizes `(h, w)`; `decode` is its inverse for boxes at most
`1000 / 16` times their anchor (`t_h · v_2` and `t_w · v_3` are clamped at
`log(1000 / 16)` before `exp`, as in torchvision). Built on
    `keras.utils.bounding_boxes.encode_box_to_deltas` / `decode_deltas_to_boxes`.

    Args:
        variances: four floats `(v_0, v_1, v_2, v_3)`. Defaults to
            `(0.1, 0.1, 0.2, 0.2)` (Caffe SSD, TF OD API scale factors 10, 10, 5, 5).
    """

    def __init__(self, variances=(0.1, 0.1, 0.2, 0.2)):
        variances = [float(v) for v in variances]
        if len(variances) != 4 or min(variances) <= 0:
            raise ValueError(f"`variances` must be four positive floats, got {variances}.")
        self.variances = variances

    def encode(self, boxes, anchors):
        """Encodes boxes against anchors.

        Args:
            boxes: `[..., num_anchors, 4]` normalised yxyx boxes, one per anchor.
            anchors: `[num_anchors, 4]` normalised yxyx anchors.

        Returns:
            `[..., num_anchors, 4]` deltas in `[y, x, h, w]` order.
        """
        return keras.utils.bounding_boxes.encode_box_to_deltas(
            anchors, boxes, _BOX_FORMAT, _BOX_FORMAT, _ENCODING, variance=self.variances
        )

    def decode(self, deltas, anchors):
        """Decodes deltas back to normalised yxyx boxes (inverse of `encode`).

        Args:
            deltas: `[..., num_anchors, 4]` in `[y, x, h, w]` order.
            anchors: `[num_anchors, 4]` normalised yxyx anchors.

        Returns:
            `[..., num_anchors, 4]` normalised yxyx boxes.
        """
        deltas = keras.ops.cast(deltas, "float32")
        limits = keras.ops.convert_to_tensor(
            [math.inf, math.inf] + [LOG_SCALE_CLIP / v for v in self.variances[2:]], "float32"
        )
        deltas = keras.ops.minimum(deltas, limits)
        return keras.utils.bounding_boxes.decode_deltas_to_boxes(
            anchors, deltas, _BOX_FORMAT, _BOX_FORMAT, _ENCODING, variance=self.variances
        )

    def get_config(self):
        return {"variances": list(self.variances)}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
