"""The SSD prediction heads: one 3x3 convolution per feature map for classes and boxes."""

import math

import keras


@keras.saving.register_keras_serializable(package="keras_ssd")
class SSDHead(keras.layers.Layer):
    """Predicts class logits and box deltas for every anchor of every map.

    Args:
        num_anchors_per_location: list of ints, one per feature map.
        num_logits: int. Class logits per anchor.
        prior_probability: float. Initial foreground probability of each class
            logit (RetinaNet, section 4.1), which keeps early training from
            being swamped by background. Defaults to 0.01.
        background_logit: bool. Whether logit 0 is a background slot (softmax
            losses); it then starts at the complementary probability.

    Returns (from `call`):
        `(box_deltas [batch, num_anchors, 4], class_logits
        [batch, num_anchors, num_logits])`, both float32.
    """

    def __init__(
        self,
        num_anchors_per_location,
        num_logits,
        prior_probability=0.01,
        background_logit=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_anchors_per_location = list(num_anchors_per_location)
        self.num_logits = int(num_logits)
        self.prior_probability = float(prior_probability)
        self.background_logit = bool(background_logit)
        bias = -math.log((1.0 - self.prior_probability) / self.prior_probability)
        self.class_convs = []
        self.box_convs = []
        for level, count in enumerate(self.num_anchors_per_location):
            class_bias = [bias] * (count * self.num_logits)
            if self.background_logit:
                for anchor in range(count):
                    class_bias[anchor * self.num_logits] = -bias
            self.class_convs.append(
                keras.layers.Conv2D(
                    count * self.num_logits,
                    3,
                    padding="same",
                    bias_initializer=keras.initializers.Constant(class_bias),
                    name=f"class_conv_{level}",
                )
            )
            self.box_convs.append(
                keras.layers.Conv2D(count * 4, 3, padding="same", name=f"box_conv_{level}")
            )

    def build(self, feature_shapes):
        for shape, class_conv, box_conv in zip(feature_shapes, self.class_convs, self.box_convs):
            class_conv.build(shape)
            box_conv.build(shape)

    def call(self, features):
        boxes, classes = [], []
        for feature, class_conv, box_conv in zip(features, self.class_convs, self.box_convs):
            batch = keras.ops.shape(feature)[0]
            boxes.append(keras.ops.reshape(box_conv(feature), (batch, -1, 4)))
            classes.append(keras.ops.reshape(class_conv(feature), (batch, -1, self.num_logits)))
        # Losses and decoding run in float32 whatever the compute policy.
        box_deltas = keras.ops.cast(keras.ops.concatenate(boxes, axis=1), "float32")
        class_logits = keras.ops.cast(keras.ops.concatenate(classes, axis=1), "float32")
        return box_deltas, class_logits

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_anchors_per_location": self.num_anchors_per_location,
                "num_logits": self.num_logits,
                "prior_probability": self.prior_probability,
                "background_logit": self.background_logit,
            }
        )
        return config
