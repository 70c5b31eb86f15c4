"""Centre-size box encoding of SSD (variances 0.1, 0.1, 0.2, 0.2)."""

import keras

# Boxes are normalised yxyx; the encoding is scale-free, so Keras' absolute "yxyx"
# conversions apply unchanged and no image size is needed.
_BOX_FORMAT = "yxyx"
_ENCODING = "center_yxhw"


@keras.saving.register_keras_serializable(package="keras_ssd")
class BoxCoder:
    """Encodes boxes as offsets from anchors and decodes them back.

    `t_y = (y - y_a) / (h_a · v_0)`, `t_x = (x - x_a) / (w_a · v_1)`,
    `t_h = log(h / h_a) / v_2`, `t_w = log(w / w_a) / v_3` with centres
    `(y, x)` and sizes `(h, w)`; `decode` is its exact inverse. Built on
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
        return keras.utils.bounding_boxes.decode_deltas_to_boxes(
            anchors, deltas, _BOX_FORMAT, _BOX_FORMAT, _ENCODING, variance=self.variances
        )

    def get_config(self):
        return {"variances": list(self.variances)}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
