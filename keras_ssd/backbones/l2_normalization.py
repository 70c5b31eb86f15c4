"""SSD's L2 normalisation of conv4_3 with a learned per-channel scale (ParseNet)."""

import keras
from keras import ops

# Under a squared sum of ~512 channels float16 overflows; the norm is taken in float32.
EPSILON = 1e-10


@keras.saving.register_keras_serializable(package="keras_ssd")
class L2Normalization(keras.layers.Layer):
    """Scales each position's channel vector to unit L2 norm, then by `gamma`.

    conv4_3 of VGG16 has a larger scale than the later maps; SSD (paper,
    section 3.1, "PASCAL VOC2007") normalises it to unit norm and learns a
    per-channel scale initialised to 20 (Liu et al. 2016, ParseNet).

    Args:
        scale: float. Initial value of every channel's scale. Defaults to 20.

    Returns (from `call`):
        The input's shape and compute dtype.
    """

    def __init__(self, scale=20.0, **kwargs):
        super().__init__(**kwargs)
        if not scale > 0:
            raise ValueError(f"`scale` must be > 0, got {scale}.")
        self.scale = float(scale)

    def build(self, input_shape):
        self.gamma = self.add_weight(
            shape=(input_shape[-1],),
            initializer=keras.initializers.Constant(self.scale),
            name="gamma",
        )

    def call(self, inputs):
        values = ops.cast(inputs, "float32")
        squared = ops.sum(ops.square(values), axis=-1, keepdims=True)
        normalized = values * ops.rsqrt(ops.maximum(squared, EPSILON))
        return ops.cast(normalized * ops.cast(self.gamma, "float32"), self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config["scale"] = self.scale
        return config
