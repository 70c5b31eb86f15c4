"""Using a saved detector: a `.keras` file or an exported SavedModel, on images and files.

`Detector` loads either kind and detects objects in uint8 images of any size;
`predict_files` and `export_file` are what `keras-ssd predict` and `keras-ssd export` run.
"""

from keras_ssd.inference.detector import Detector
from keras_ssd.inference.predict import predict_files, read_image

__all__ = ["Detector", "predict_files", "read_image"]
