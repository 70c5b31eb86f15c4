"""RetinaNet-style heads: one convolutional tower shared by every pyramid level."""

import keras

from keras_ssd.models.ssd_head import class_bias, flatten_predictions


@keras.saving.register_keras_serializable(package="keras_ssd")
class WeightSharedSSDHead(keras.layers.Layer):
    """Class and box towers whose convolutions are shared across FPN levels.

    As the TF Object Detection API's `WeightSharedConvolutionalBoxPredictor`
    (SSD ResNet50 V1 FPN; Lin et al. 2017, "Focal Loss", section 4): per
    output, `num_layers` 3x3 convolutions of `depth` channels, each followed
    by a BatchNorm *per level* (statistics differ between levels) and ReLU6,
    then a shared 3x3 prediction convolution. Every level must have the same
    channels and the same number of anchors per location.

    Args:
        num_anchors_per_location: list of ints, one per level, all equal.
        num_logits: int. Class logits per anchor.
        depth: int. Channels of the tower convolutions. Defaults to 256.
        num_layers: int. Tower convolutions before the predictor. Defaults to 4.
        prior_probability: float. Initial foreground probability of each
            class logit (TF's `class_prediction_bias_init: -4.6`). Defaults
            to 0.01.
        background_logit: bool. Whether logit 0 is a background slot.
        batch_norm_momentum: float. Defaults to 0.9.

    Returns (from `call`):
        `(box_deltas [batch, num_anchors, 4], class_logits
        [batch, num_anchors, num_logits])`, both float32.

    Raises:
        ValueError: if the levels have different numbers of anchors.
    """

    def __init__(
        self,
        num_anchors_per_location,
        num_logits,
        depth=256,
        num_layers=4,
        prior_probability=0.01,
        background_logit=False,
        batch_norm_momentum=0.9,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_anchors_per_location = list(num_anchors_per_location)
        if len(set(self.num_anchors_per_location)) != 1:
            raise ValueError(
                "WeightSharedSSDHead shares its predictor across levels, so every level needs "
                f"the same number of anchors per location; got {self.num_anchors_per_location}."
            )
        self.num_logits = int(num_logits)
        self.depth = int(depth)
        self.num_layers = int(num_layers)
        self.prior_probability = float(prior_probability)
        self.background_logit = bool(background_logit)
        self.batch_norm_momentum = float(batch_norm_momentum)
        count = self.num_anchors_per_location[0]
        self.num_levels = len(self.num_anchors_per_location)
        # Flat lists of layers: Keras' .keras format saves layers held in lists, not in
        # nested containers. Norm of (layer, level) is at layer * num_levels + level.
        self.box_tower, self.class_tower, self.box_norms, self.class_norms = (
            self._tower("box"), self._tower("class"), self._norms("box"), self._norms("class")
        )
        biases = class_bias(count, self.num_logits, self.prior_probability, self.background_logit)
        self.box_predictor = keras.layers.Conv2D(count * 4, 3, padding="same", name="box_predictor")
        self.class_predictor = keras.layers.Conv2D(
            count * self.num_logits, 3, padding="same",
            bias_initializer=keras.initializers.Constant(biases), name="class_predictor",
        )

    def _tower(self, output):
        return [
            keras.layers.Conv2D(
                self.depth, 3, padding="same", use_bias=False, name=f"{output}_tower_{layer}"
            )
            for layer in range(self.num_layers)
        ]

    def _norms(self, output):
        return [
            keras.layers.BatchNormalization(
                momentum=self.batch_norm_momentum, name=f"{output}_tower_{layer}_bn_{level}"
            )
            for layer in range(self.num_layers)
            for level in range(self.num_levels)
        ]

    def _parts(self, output):
        if output == "box":
            return self.box_tower, self.box_norms, self.box_predictor
        return self.class_tower, self.class_norms, self.class_predictor

    def build(self, feature_shapes):
        for output in ("box", "class"):
            tower, norms, predictor = self._parts(output)
            shape = tuple(feature_shapes[0])
            for layer, conv in enumerate(tower):
                conv.build(shape)
                shape = shape[:-1] + (self.depth,)
                for level in range(self.num_levels):
                    norms[layer * self.num_levels + level].build(shape)
            predictor.build(shape)

    def _predict(self, output, feature, level, training):
        tower, norms, predictor = self._parts(output)
        hidden = feature
        for layer, conv in enumerate(tower):
            norm = norms[layer * self.num_levels + level]
            hidden = keras.ops.relu6(norm(conv(hidden), training=training))
        return predictor(hidden)

    def call(self, features, training=None):
        return flatten_predictions(
            [self._predict("box", f, level, training) for level, f in enumerate(features)],
            [self._predict("class", f, level, training) for level, f in enumerate(features)],
            self.num_logits,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_anchors_per_location": self.num_anchors_per_location,
                "num_logits": self.num_logits,
                "depth": self.depth,
                "num_layers": self.num_layers,
                "prior_probability": self.prior_probability,
                "background_logit": self.background_logit,
                "batch_norm_momentum": self.batch_norm_momentum,
            }
        )
        return config
