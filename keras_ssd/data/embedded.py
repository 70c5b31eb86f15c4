"""Loading the embedded default dataset, `synthetic_shapes`, without a network."""

import os
import re

import tensorflow_datasets as tfds

from keras_ssd.data.synthetic_shapes import CLASS_NAMES
from keras_ssd.data.synthetic_shapes import SyntheticShapes

DATA_DIR_ENV = "KERAS_SSD_DATA_DIR"
SPLITS = ("train", "validation", "test")
# A split name, optionally sliced the tfds way: "train", "train[:10%]", "test[5:]".
_SPLIT_PATTERN = re.compile(r"^\s*(\w+)\s*(\[[^\]]*\])?\s*$")

# Prepared builders, by (data_dir, config): preparing checks the disk once per process.
_BUILDERS = {}


def default_data_dir():
    """Returns where the embedded dataset is written and read.

    Returns:
        `$KERAS_SSD_DATA_DIR` when set, else `~/.cache/keras_ssd/tensorflow_datasets`.
    """
    return os.environ.get(DATA_DIR_ENV) or os.path.join(
        os.path.expanduser("~"), ".cache", "keras_ssd", "tensorflow_datasets"
    )


def _check_split(split):
    if not isinstance(split, str):
        raise ValueError(
            f"load_synthetic_shapes: split must be a string such as 'train', "
            f"got {split!r}."
        )
    for part in split.split("+"):
        match = _SPLIT_PATTERN.match(part)
        if match is None or match.group(1) not in SPLITS:
            raise ValueError(
                f"load_synthetic_shapes: unknown split {split!r}; expected one of "
                f"{', '.join(SPLITS)} (optionally sliced, e.g. 'train[:10%]')."
            )


def load_synthetic_shapes(split, data_dir=None, config="default"):
    """Loads a split of the embedded `synthetic_shapes` detection dataset.

    The first call for a `data_dir` renders and writes the dataset there (about
    20 s for the default config on 2 cores, no network: there is nothing to
    download and GCS is not queried); later calls, in this process or another,
    read what is on disk.

    Args:
        split: str. `"train"`, `"validation"` or `"test"`, optionally sliced or
            joined the tfds way (`"train[:100]"`, `"validation+test"`).
        data_dir: str. Root folder of the tfds data. Defaults to
            `$KERAS_SSD_DATA_DIR`, or `~/.cache/keras_ssd/tensorflow_datasets`.
        config: str. Builder config: `"default"` (2000 / 300 / 300 images) or
            `"tiny"` (20 / 8 / 8). Defaults to `"default"`.

    Returns:
        A tuple `(dataset, class_names)`: a `tf.data.Dataset` of unbatched tfds
        examples, dicts with `"image"` uint8 `[128, 128, 3]`, `"image/filename"`
        and `"objects"` (`"bbox"` float32 `[n, 4]` normalised yxyx, `"label"`
        int64 `[n]`, `"weight"` float32 `[n]`, `"area"` int64 `[n]`), in a fixed
        order; and the list of class names, indexed by label.

    Raises:
        ValueError: if `split` or `config` is unknown.

    Example:

    ```python
    dataset, class_names = load_synthetic_shapes("train")
    inputs = to_detection_inputs(dataset, image_size=128, max_boxes=8)
    ```
    """
    _check_split(split)
    if config not in SyntheticShapes.builder_configs:
        raise ValueError(
            f"load_synthetic_shapes: unknown config {config!r}; expected one of "
            f"{', '.join(sorted(SyntheticShapes.builder_configs))}."
        )
    data_dir = os.path.abspath(os.path.expanduser(data_dir or default_data_dir()))
    key = (data_dir, config)
    builder = _BUILDERS.get(key)
    if builder is None:
        builder = SyntheticShapes(data_dir=data_dir, config=config)
        # Does nothing when the data is already on disk.
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(try_download_gcs=False)
        )
        _BUILDERS[key] = builder
    dataset = builder.as_dataset(split=split, shuffle_files=False)
    return dataset, list(CLASS_NAMES)
