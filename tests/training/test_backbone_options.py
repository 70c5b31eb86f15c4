"""The backbone options of a run: one clear line, before any long work, for what cannot work."""

import os

import keras
import pytest

from keras_ssd.cli import main
from keras_ssd.training.backbone_options import check_backbone_options
from tests.conftest import tiny_backbone

QUICK = ["train", "--data", "synthetic_shapes/tiny", "--epochs", "1", "--image-size", "64"]


def test_freezing_a_backbone_without_weights_is_refused():
    with pytest.raises(ValueError, match="would freeze a randomly initialised backbone"):
        check_backbone_options("mobilenet_v2", None, freeze_backbone=True)
    # A backbone model of one's own brings its weights; ImageNet or a file are weights.
    check_backbone_options("my_backbone.keras", None, freeze_backbone=True)
    check_backbone_options(tiny_backbone(), None, freeze_backbone=True)
    check_backbone_options("mobilenet_v2", "imagenet", freeze_backbone=True)


def test_weight_files_are_checked_by_existence_name_and_format(tmp_path):
    (tmp_path / "notamodel.keras").write_text("hello")
    (tmp_path / "notes.weights.h5").write_text("hello")
    (tmp_path / "weights.txt").write_text("hello")
    cases = [
        ("missing.weights.h5", "missing.weights.h5 is not a file"),
        ("notamodel.keras", "notamodel.keras is not a .keras file (not a zip archive)"),
        ("notes.weights.h5", "notes.weights.h5 is not an HDF5 file"),
        ("weights.txt", "weights.txt is not a weights file by its name"),
    ]
    for name, message in cases:
        with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
            check_backbone_options("mobilenet_v2", str(tmp_path / name), freeze_backbone=False)
    good = tmp_path / "good.weights.h5"
    tiny_backbone().save_weights(str(good))
    check_backbone_options("mobilenet_v2", str(good), freeze_backbone=True)


def test_the_command_line_says_it_in_one_line_before_reading_any_data(tmp_path, capsys):
    (tmp_path / "notamodel.keras").write_text("hello")
    data_dir = tmp_path / "data"
    for extra, message in [
        (["--freeze-backbone"], "would freeze a randomly initialised backbone"),
        (["--backbone-weights", str(tmp_path / "notamodel.keras")], "is not a .keras file"),
        (["--train-images", "0"], None),
    ]:
        command = [*QUICK, "--data-dir", str(data_dir), "--output-dir", str(tmp_path / "run"), *extra]
        if message is None:
            with pytest.raises(SystemExit):  # argparse: usage and one error line
                main(command)
            assert "--train-images: must be at least 1, got 0" in capsys.readouterr().err
            continue
        assert main(command) == 1
        error = capsys.readouterr().err
        assert message in error and error.count("\n") == 1, error
    assert not data_dir.exists()  # nothing was read or generated


def test_weights_of_another_backbone_give_one_short_line(tmp_path, capsys):
    weights = str(tmp_path / "other.weights.h5")
    keras.applications.MobileNetV2(input_shape=(64, 64, 3), alpha=0.35, include_top=False,
                                   weights=None).save_weights(weights)  # fmt: skip
    data_dir = tmp_path / "data"
    status = main([*QUICK, "--data-dir", str(data_dir), "--output-dir", str(tmp_path / "run"),
                   "--width", "0.5", "--backbone-weights", weights])  # fmt: skip
    assert status == 1
    assert not data_dir.exists()  # refused before the embedded dataset was rendered
    error = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(error) == 1 and len(error[0]) < 600, error
    assert "other.weights.h5 does not fit the backbone mobilenet_v2_0.5" in error[0]
    assert "(A total of 76 objects could not be loaded); were they saved from a backbone of another width" in error[0]
    assert not os.path.exists(tmp_path / "run" / "model.keras")


def test_imagenet_weights_that_cannot_be_downloaded_stop_the_run_before_the_data(tmp_path, capsys, monkeypatch):
    from keras.src.utils import file_utils

    from tests.backbones.test_feature_extractor import _offline

    monkeypatch.setattr(file_utils, "get_file", _offline)
    data_dir = tmp_path / "data"
    status = main([*QUICK, "--data-dir", str(data_dir), "--output-dir", str(tmp_path / "run"),
                   "--width", "0.35", "--backbone-weights", "imagenet"])  # fmt: skip
    assert status == 1
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "the ImageNet weights of mobilenet_v2 could not be downloaded" in error
    assert not data_dir.exists()
