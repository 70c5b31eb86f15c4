"""Box-aware SSD augmentation inside `tf.data` (Liu et al. 2016, section 2.2)."""

from keras_ssd.augment.crop_sampling import sample_crop
from keras_ssd.augment.photometric import photometric_distortion
from keras_ssd.augment.ssd_augmentation import SSDAugmentation

__all__ = ["SSDAugmentation", "photometric_distortion", "sample_crop"]
