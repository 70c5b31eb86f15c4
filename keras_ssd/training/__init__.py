"""The training job around `fit`: what `keras-ssd train` runs.

`trainer.py` builds, compiles and fits the model (`train_detector`, `train_and_evaluate`);
`run_folder.py` resumes, continues or refuses a run folder; `checkpoint.py` writes one
resumable checkpoint per epoch; `devices.py` maps the precision and `tf.distribute`
choices; `callbacks.py` holds the job's Keras callbacks.
"""

from keras_ssd.training.trainer import train_and_evaluate
from keras_ssd.training.trainer import train_detector

__all__ = ["train_and_evaluate", "train_detector"]
