"""Caffe-style input scaling of VGG16 and ResNet50 (`keras.applications`' "caffe" mode)."""

import keras
from keras import ops

# ImageNet channel means in BGR order, as the Caffe weights expect.
IMAGENET_MEAN_BGR = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="keras_ssd")
class CaffePreprocessing(keras.layers.Layer):
    """RGB pixels in `[0, 255]` to BGR with the ImageNet mean subtracted.

    The same numbers as `keras.applications.vgg16.preprocess_input`, as a
    layer so that the SSD takes raw pixels and the scaling is saved with it.

    Returns (from `call`):
        `[batch, height, width, 3]` BGR values, mean-centred.
    """

    def call(self, images):
        bgr = ops.flip(images, axis=-1)
        return bgr - ops.cast(ops.convert_to_tensor(IMAGENET_MEAN_BGR), bgr.dtype)
