"""Checks that an output folder can be written, before any long work starts.

No TensorFlow here: the command line calls it first thing.
"""

import os


def _nearest_existing(path):
    """The path itself or its closest existing ancestor."""
    current = os.path.abspath(path)
    while not os.path.exists(current):
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    return current


def check_writable_dir(path, what="output folder"):
    """Checks that `path` is, or can be created as, a writable folder.

    Nothing is created: the closest existing ancestor must be a folder that the
    process may write into (`os.access`, which also sees read-only file
    systems), and `path` itself, if it exists, must be a writable folder.

    Args:
        path: str. The folder a command will write into.
        what: str. How the error names it. Defaults to `"output folder"`.

    Returns:
        `path`, unchanged.

    Raises:
        ValueError: naming `path` and the reason (a file is in the way, no write
            permission).
    """
    if not isinstance(path, str) or not path:
        raise ValueError(f"the {what} must be a non-empty path, got {path!r}.")
    existing = _nearest_existing(path)
    if not os.path.isdir(existing):
        raise ValueError(
            f"cannot write the {what} {path}: {existing} is a file, not a folder."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(
            f"cannot write the {what} {path}: no write permission in {existing}."
        )
    return path


def check_writable_file(path, what="output file"):
    """Checks that the file `path` can be written: its folder is writable.

    Args:
        path: str. The file a command will write.
        what: str. How the error names it. Defaults to `"output file"`.

    Returns:
        `path`, unchanged.

    Raises:
        ValueError: if `path` is a folder, or its folder cannot be written.
    """
    if not isinstance(path, str) or not path:
        raise ValueError(f"the {what} must be a non-empty path, got {path!r}.")
    if os.path.isdir(path):
        raise ValueError(f"cannot write the {what} {path}: it is a folder.")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise ValueError(f"cannot write the {what} {path}: no write permission.")
    check_writable_dir(os.path.dirname(os.path.abspath(path)), f"folder of the {what}")
    return path


def check_not_overwriting_export(path, is_tflite):
    """Refuses to write an export over something that is there already.

    A SavedModel is written into the folder `path`; a TFLite model to the file
    `path` (or `path/model.tflite` when `path` is a folder). An existing
    SavedModel, `.tflite` file or any non-empty folder (a dataset folder given by
    mistake, say) is refused, so that only an explicit `--overwrite` replaces it.

    Args:
        path: str. The `--out` of `keras-ssd export`.
        is_tflite: bool. Whether the format is TFLite.

    Raises:
        ValueError: naming `path`, what is there, and `--overwrite`.
    """
    hint = "give --overwrite to write over it, or another --out."
    if is_tflite:
        target = os.path.join(path, "model.tflite") if os.path.isdir(path) else path
        if os.path.isfile(target):
            raise ValueError(f"--out {target} is an existing TFLite file; {hint}")
        return
    if not os.path.isdir(path):
        return
    entries = sorted(os.listdir(path))
    if "saved_model.pb" in entries:
        raise ValueError(f"--out {path} already holds a SavedModel; {hint}")
    if entries:
        shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
        raise ValueError(
            f"--out {path} is a folder with {len(entries)} entries ({shown}), not an empty one "
            f"for the SavedModel; {hint}"
        )
