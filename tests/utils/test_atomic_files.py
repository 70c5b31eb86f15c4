"""Atomic writes: the old file or the new one, never half of either."""

import os
import stat

import keras
import numpy as np
import pytest

from keras_ssd.utils import atomic_files
from keras_ssd.utils.atomic_files import (
    remove_partial_files,
    save_model_atomically,
    write_atomically,
    write_text_atomically,
)


def test_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("old\n")
    assert write_text_atomically(str(path), "epoch\n0\n") == str(path)
    assert path.read_text() == "epoch\n0\n"
    assert os.listdir(tmp_path) == ["history.csv"]


def test_the_temporary_file_is_in_the_same_folder_with_the_same_extension(tmp_path):
    seen = []

    def write(temporary):
        seen.append(temporary)
        with open(temporary, "w") as handle:
            handle.write("new")

    write_atomically(str(tmp_path / "model.keras"), write)
    folder, name = os.path.split(seen[0])
    assert folder == str(tmp_path)
    assert name.startswith(".model.keras.") and name.endswith(".partial.keras")


def test_a_failing_writer_keeps_the_old_file_and_removes_its_temporary(tmp_path):
    path = tmp_path / "state.json"
    path.write_text('{"epoch": 1}')

    def write(temporary):
        with open(temporary, "w") as handle:
            handle.write('{"ep')
        raise KeyboardInterrupt  # BaseException too: Ctrl-C in the middle of a save

    with pytest.raises(KeyboardInterrupt):
        write_atomically(str(path), write)
    assert path.read_text() == '{"epoch": 1}'
    assert os.listdir(tmp_path) == ["state.json"]


def test_a_writer_stopped_before_the_rename_leaves_the_old_file(tmp_path, monkeypatch):
    # What a SIGKILL between write and rename leaves (tests/training/test_faults.py kills for real).
    path = tmp_path / "state.json"
    path.write_text("old")

    def killed(temporary, target):
        raise SystemExit("killed")

    monkeypatch.setattr(atomic_files, "_commit", killed)
    with pytest.raises(SystemExit):
        write_text_atomically(str(path), "new")
    assert path.read_text() == "old"


def test_the_new_file_gets_the_mode_of_open_not_mkstemp(tmp_path):
    old = os.umask(0o022)
    try:
        write_text_atomically(str(tmp_path / "history.csv"), "epoch\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "history.csv").st_mode) == 0o644


def test_remove_partial_files_removes_only_temporaries(tmp_path):
    for name in (".model.keras.x1.partial.keras", ".history.csv.x2.partial.csv", "model.keras", ".hidden"):
        (tmp_path / name).write_text("x")
    assert remove_partial_files(str(tmp_path)) == [".history.csv.x2.partial.csv", ".model.keras.x1.partial.keras"]
    assert sorted(os.listdir(tmp_path)) == [".hidden", "model.keras"]
    assert remove_partial_files(str(tmp_path / "missing")) == []


def test_save_model_atomically_writes_a_loadable_model(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, kernel_initializer="ones")])
    path = save_model_atomically(model, str(tmp_path / "model.keras"))
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(np.array([[1.0, 2.0]]), verbose=0), [[3.0]])
    assert os.listdir(tmp_path) == ["model.keras"]


def test_save_model_atomically_wants_a_keras_file(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="path: expected a file name ending in '.keras'"):
        save_model_atomically(model, str(tmp_path / "model.h5"))


def test_a_figure_is_saved_as_a_png_with_no_temporary_left(tmp_path):
    from matplotlib.figure import Figure

    from keras_ssd.utils.atomic_files import save_figure_atomically

    path = tmp_path / "per_class_ap.png"
    path.write_bytes(b"old picture")
    figure = Figure(figsize=(2, 1))
    figure.add_subplot().plot([0, 1], [1, 0])
    assert save_figure_atomically(figure, str(path), dpi=50) == str(path)
    # The temporary name ends in ".partial.png"; the format comes from the target's name.
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert os.listdir(tmp_path) == ["per_class_ap.png"]
    with pytest.raises(ValueError):  # a failing save keeps the old picture
        save_figure_atomically(figure, str(path), dpi=-1)
    assert path.read_bytes().startswith(b"\x89PNG") and os.listdir(tmp_path) == ["per_class_ap.png"]
