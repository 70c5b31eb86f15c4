import keras
import numpy as np
import pytest

from keras_ssd.backbones.caffe_preprocessing import CaffePreprocessing
from keras_ssd.backbones.l2_normalization import L2Normalization


def test_unit_norm_times_the_initial_scale_20():
    layer = L2Normalization()
    values = np.array([[[[3.0, 4.0]]]], "float32")  # norm 5
    np.testing.assert_allclose(np.asarray(layer(values)), [[[[12.0, 16.0]]]], rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(layer.gamma), [20.0, 20.0])


def test_float16_inputs_whose_squares_overflow_stay_finite():
    keras.config.set_dtype_policy("mixed_float16")
    layer = L2Normalization()
    values = np.full((1, 2, 2, 512), 300.0, "float16")  # 512 x 300² overflows float16
    outputs = np.asarray(layer(values))
    assert outputs.dtype == np.float16
    np.testing.assert_allclose(outputs, 20.0 / np.sqrt(512), rtol=1e-3)


def test_config_round_trip_and_bad_scale():
    layer = L2Normalization(scale=10.0, name="norm")
    revived = L2Normalization.from_config(layer.get_config())
    assert revived.scale == 10.0 and revived.name == "norm"
    with pytest.raises(ValueError, match="`scale` must be > 0"):
        L2Normalization(scale=0.0)


def test_caffe_preprocessing_equals_keras_applications_vgg16():
    images = np.random.default_rng(0).uniform(0, 255, (2, 4, 4, 3)).astype("float32")
    expected = keras.applications.vgg16.preprocess_input(images.copy())
    np.testing.assert_allclose(np.asarray(CaffePreprocessing()(images)), expected, rtol=1e-6)
