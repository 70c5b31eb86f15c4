"""SSDLite's prediction heads: a depthwise 3x3 then a pointwise 1x1 per map (MobileNetV2, section 6.2)."""

import keras

from keras_ssd.models.ssd_head import class_bias, flatten_predictions


def _separable_predictor(filters, name, batch_norm_momentum, bias_initializer="zeros"):
    return keras.Sequential(
        [
            keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False, name=f"{name}_depthwise"),
            keras.layers.BatchNormalization(momentum=batch_norm_momentum, name=f"{name}_bn"),
            keras.layers.ReLU(6.0),
            keras.layers.Conv2D(filters, 1, bias_initializer=bias_initializer, name=f"{name}_pointwise"),
        ],
        name=name,
    )


@keras.saving.register_keras_serializable(package="keras_ssd")
class SeparableSSDHead(keras.layers.Layer):
    """SSDLite heads: each map's 3x3 convolutions become depthwise-separable.

    As the TF Object Detection API's `ssdlite_mobilenet_v2` box predictor
    (`use_depthwise: true`): per map and per output, a 3x3 depthwise
    convolution, BatchNorm and ReLU6, then a 1x1 convolution to the anchors'
    logits or box deltas.

    Args:
        num_anchors_per_location: list of ints, one per feature map.
        num_logits: int. Class logits per anchor.
        prior_probability: float. Initial foreground probability of each
            class logit. Defaults to 0.01.
        background_logit: bool. Whether logit 0 is a background slot.
        batch_norm_momentum: float. Defaults to 0.9.

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
        batch_norm_momentum=0.9,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_anchors_per_location = list(num_anchors_per_location)
        self.num_logits = int(num_logits)
        self.prior_probability = float(prior_probability)
        self.background_logit = bool(background_logit)
        self.batch_norm_momentum = float(batch_norm_momentum)
        self.class_predictors, self.box_predictors = [], []
        for level, count in enumerate(self.num_anchors_per_location):
            biases = class_bias(count, self.num_logits, self.prior_probability, self.background_logit)
            self.class_predictors.append(
                _separable_predictor(
                    count * self.num_logits, f"class_predictor_{level}", self.batch_norm_momentum,
                    keras.initializers.Constant(biases),
                )
            )
            self.box_predictors.append(
                _separable_predictor(count * 4, f"box_predictor_{level}", self.batch_norm_momentum)
            )

    def build(self, feature_shapes):
        for shape, class_predictor, box_predictor in zip(
            feature_shapes, self.class_predictors, self.box_predictors
        ):
            class_predictor.build(shape)
            box_predictor.build(shape)

    def call(self, features, training=None):
        return flatten_predictions(
            [p(f, training=training) for f, p in zip(features, self.box_predictors)],
            [p(f, training=training) for f, p in zip(features, self.class_predictors)],
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
                "batch_norm_momentum": self.batch_norm_momentum,
            }
        )
        return config
