"""Files that are either the old version or the new one, never half written.

A write goes to a temporary file in the target's folder, is flushed to disk,
and is then renamed over the target (`os.replace`, atomic on POSIX and
Windows within one file system). A process killed in the middle leaves the
previous file untouched and, at worst, a stray temporary file that
`remove_partial_files` deletes.
"""

import os
import tempfile

# Temporary names: ".model.keras.<random>.partial.keras". They keep the
# target's extension because `Model.save` refuses a path without ".keras".
_PARTIAL = ".partial"


def write_atomically(path, write):
    """Writes `path` through `write(temporary_path)`, then renames it into place.

    Args:
        path: str. The file to create or replace.
        write: callable taking the temporary path (in the same folder, with
            the same extension as `path`) and writing the whole file there.

    Returns:
        `path`.
    """
    folder, name = os.path.split(os.path.abspath(path))
    extension = os.path.splitext(name)[1]
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=_PARTIAL + extension)
    os.close(handle)
    try:
        # mkstemp makes the file private (0600); give it the mode open() would.
        os.chmod(temporary, 0o666 & ~_umask())
        write(temporary)
        _commit(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    return path


def write_text_atomically(path, text):
    """Writes the string `text` to `path` atomically (UTF-8).

    Args:
        path: str. The file to create or replace.
        text: str. Its whole new content.

    Returns:
        `path`.
    """

    def write(temporary):
        with open(temporary, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)

    return write_atomically(path, write)


def save_model_atomically(model, path):
    """`model.save(path)` (a `.keras` file) without ever leaving half a model.

    Args:
        model: a `keras.Model`.
        path: str. Ends in `.keras`.

    Returns:
        `path`.
    """
    if not str(path).endswith(".keras"):
        raise ValueError(f"path: expected a file name ending in '.keras', got {path!r}.")
    return write_atomically(path, lambda temporary: model.save(temporary, overwrite=True))


def save_figure_atomically(figure, path, **kwargs):
    """`figure.savefig(path)` (a matplotlib figure) without ever leaving half a picture.

    Args:
        figure: a `matplotlib.figure.Figure`.
        path: str. The picture file; its extension picks the format (`.png`).
        **kwargs: passed to `savefig` (`dpi=...`).

    Returns:
        `path`.
    """
    extension = os.path.splitext(str(path))[1].lstrip(".")
    # The temporary name ends in ".partial.png": name the format rather than trust it.
    return write_atomically(
        path, lambda temporary: figure.savefig(temporary, format=extension or None, **kwargs)
    )


def remove_partial_files(folder):
    """Deletes the temporary files that a killed `write_atomically` left in `folder`.

    Args:
        folder: str. A folder written by `write_atomically` (need not exist).

    Returns:
        The sorted list of removed file names.
    """
    if not os.path.isdir(folder):
        return []
    removed = sorted(
        name for name in os.listdir(folder) if name.startswith(".") and _PARTIAL + "." in name + "."
    )
    for name in removed:
        os.remove(os.path.join(folder, name))
    return removed


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _commit(temporary, path):
    """Flushes `temporary` to disk and renames it to `path` (the atomic step)."""
    with open(temporary, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    _sync_folder(os.path.dirname(os.path.abspath(path)))


def _sync_folder(folder):
    # The rename itself survives a power cut only once the folder is synced;
    # Windows cannot open a folder, and there the rename is all we have.
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)
