"""The backbone options of a run (`--backbone`, `--backbone-weights`, `--freeze-backbone`), checked
before any long work starts: one clear line instead of a traceback after the data is read."""

import os
import zipfile

WEIGHT_FILE_ENDINGS = (".weights.h5", ".h5", ".keras")


def check_backbone_options(backbone, backbone_weights, freeze_backbone):
    """Refuses backbone options that cannot work, naming the file and what was expected.

    Args:
        backbone: `"mobilenet_v2"`, a `.keras` file of a backbone model, or a
            `keras.Model`.
        backbone_weights: None, `"imagenet"` or a Keras weights file.
        freeze_backbone: bool.

    Raises:
        ValueError: a weights file that is missing or not a Keras weights file (an
            HDF5 `.weights.h5` / `.h5`, or a `.keras` zip), or a frozen backbone that
            would keep its random initial values.
    """
    if backbone_weights not in (None, "imagenet"):
        _check_weights_file(str(backbone_weights))
    has_own_weights = not isinstance(backbone, str) or backbone.endswith(".keras")
    if freeze_backbone and backbone_weights is None and not has_own_weights:
        raise ValueError(
            "freeze_backbone (--freeze-backbone) without backbone_weights (--backbone-weights) "
            "would freeze a randomly initialised backbone; give --backbone-weights imagenet or a "
            "weights file, or a --backbone .keras model that holds trained weights."
        )


def _check_weights_file(path):
    expected = (
        "expected 'imagenet' or a Keras weights file of the backbone (.weights.h5 from "
        "Model.save_weights, or a .keras model)"
    )
    if not os.path.isfile(path):
        raise ValueError(f"backbone_weights: {path} is not a file; {expected}.")
    if not path.endswith(WEIGHT_FILE_ENDINGS):
        raise ValueError(f"backbone_weights: {path} is not a weights file by its name; {expected}.")
    if path.endswith(".keras"):
        if not zipfile.is_zipfile(path):
            raise ValueError(f"backbone_weights: {path} is not a .keras file (not a zip archive); {expected}.")
        return
    import h5py

    if not h5py.is_hdf5(path):
        raise ValueError(f"backbone_weights: {path} is not an HDF5 file; {expected}.")
