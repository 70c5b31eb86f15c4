"""The SSD prediction heads: one 3x3 convolution per feature map for classes and boxes."""

import math

import keras


def class_bias(num_anchors, num_logits, prior_probability, background_logit):
    """Initial class biases of one location: every logit at `prior_probability`.

    With a background logit (softmax) that slot starts at the complementary
    probability. Returns a list of `num_anchors * num_logits` floats.
    """
    bias = -math.log((1.0 - prior_probability) / prior_probability)
    biases = [bias] * (num_anchors * num_logits)
    if background_logit:
        for anchor in range(num_anchors):
            biases[anchor * num_logits] = -bias
    return biases


def flatten_predictions(box_maps, class_maps, num_logits):
    """Per-map outputs to `(box_deltas [batch, anchors, 4], logits [batch, anchors, num_logits])`.

    Losses and decoding run in float32 whatever the compute policy.
    """
    boxes, classes = [], []
    for box_map, class_map in zip(box_maps, class_maps):
        batch = keras.ops.shape(box_map)[0]
        boxes.append(keras.ops.reshape(box_map, (batch, -1, 4)))
        classes.append(keras.ops.reshape(class_map, (batch, -1, num_logits)))
    box_deltas = keras.ops.cast(keras.ops.concatenate(boxes, axis=1), "float32")
    class_logits = keras.ops.cast(keras.ops.concatenate(classes, axis=1), "float32")
    return box_deltas, class_logits


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
        self.class_convs = []
        self.box_convs = []
        for level, count in enumerate(self.num_anchors_per_location):
            biases = class_bias(
                count, self.num_logits, self.prior_probability, self.background_logit
            )
            self.class_convs.append(
                keras.layers.Conv2D(
                    count * self.num_logits,
                    3,
                    padding="same",
                    bias_initializer=keras.initializers.Constant(biases),
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
        return flatten_predictions(
            [conv(feature) for feature, conv in zip(features, self.box_convs)],
            [conv(feature) for feature, conv in zip(features, self.class_convs)],
            self.num_logits,
        )

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
