"""The main job: resume after a crash, and the command line end to end."""

import csv
import os
import subprocess
import sys

import keras
import pytest

from keras_ssd.training import train_and_evaluate
from tests.conftest import tiny_backbone

# MobileNetV2 runs end to end in the command-line test; the resume test needs two runs.
QUICK = {"data_config": "tiny", "image_size": 64, "batch_size": 8, "verbose": 0}


class _CrashInSecondEpoch(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == 1 and batch == 1:
            raise RuntimeError("simulated crash in the middle of epoch 2")


class _RecordEpochs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)


@pytest.mark.long_running(seconds=25)
def test_a_crashed_run_resumes_from_its_last_completed_epoch(tmp_path):
    output_dir = str(tmp_path / "run")
    data_dir = str(tmp_path / "data")
    with pytest.raises(RuntimeError, match="simulated crash"):
        train_and_evaluate(
            output_dir, data_dir, epochs=3, backbone=tiny_backbone(), callbacks=[_CrashInSecondEpoch()], **QUICK
        )
    assert not os.path.exists(os.path.join(output_dir, "model.keras"))
    recorder = _RecordEpochs()
    report = train_and_evaluate(
        output_dir, data_dir, epochs=3, backbone=tiny_backbone(), callbacks=[recorder], **QUICK
    )
    assert recorder.epochs == [1, 2]  # epoch 0 was complete and is not repeated
    with open(os.path.join(output_dir, "history.csv")) as handle:
        assert [row["epoch"] for row in csv.DictReader(handle)] == ["0", "1", "2"]
    assert len(report.per_class) == 5
    for picture in ("training_curves.png", "per_class_ap.png"):
        assert os.path.getsize(os.path.join(output_dir, picture)) > 1000
    loaded = keras.models.load_model(os.path.join(output_dir, "model.keras"))
    assert loaded.class_names == ["circle", "square", "triangle", "cross", "ring"]
    assert loaded.class_weights is not None and len(loaded.class_weights) == 5


@pytest.mark.long_running(seconds=50)
def test_command_line_trains_saves_and_prints_per_class_ap(tmp_path):
    command = [
        sys.executable, "-m", "keras_ssd", "train",
        "--data", "synthetic_shapes/tiny", "--data-dir", str(tmp_path / "data"),
        "--output-dir", str(tmp_path / "run"), "--epochs", "1", "--image-size", "64",
        "--width", "0.35", "--batch-size", "10", "--class-weights", "balanced",  # 20 images: one trace
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("circle", "square", "triangle", "cross", "ring", "AP50", "mean"):
        assert name in result.stdout
    assert os.path.exists(tmp_path / "run" / "model.keras")


def test_command_line_rejects_unknown_options():
    result = subprocess.run(
        [sys.executable, "-m", "keras_ssd", "train", "--class-weights", "magic"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert "invalid choice: 'magic'" in result.stderr
