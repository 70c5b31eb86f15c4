"""`keras-ssd train` killed with SIGKILL, then started again with the same command.

Each run is the real command line in a fresh process (tests/training/faults_launcher.py), with
the four-convolution test backbone saved as a `.keras` file (`--backbone`). The launcher stops at
a fault point and creates a marker file; the test waits for the marker (polling, no fixed sleep),
kills the process and starts the command again.
"""

import csv
import os
import signal
import subprocess
import sys
import time

import keras
import pytest

import keras_ssd  # noqa: F401  (registers the classes that load_model revives)
from keras_ssd.training.trainer import _backbone_network
from tests.conftest import tiny_backbone

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# 20 training images in batches of 5: 4 optimizer steps per epoch, all of one shape
# (a last batch of another size would cost each process a second trace of the step).
STEPS_PER_EPOCH = 4
EPOCHS = 2
IMAGE_SIZE = 64
# Generous: the processes trace a train step, and CI machines are shared.
TIMEOUT_SECONDS = 600


def _command(tmp_path, *fault):
    backbone = tmp_path / "tiny_backbone.keras"
    if not backbone.exists():
        tiny_backbone(IMAGE_SIZE).save(backbone)
    return [
        sys.executable, "-m", "tests.training.faults_launcher", *fault, "--",
        "train", "--data", "synthetic_shapes/tiny", "--data-dir", str(tmp_path / "data"),
        "--output-dir", str(tmp_path / "run"), "--epochs", str(EPOCHS), "--image-size", str(IMAGE_SIZE),
        "--backbone", str(backbone), "--batch-size", "5",
    ]


def _environment():
    return {**os.environ, "PYTHONPATH": ROOT, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONUNBUFFERED": "1"}  # a killed process loses its buffered output


def _log_tail(path, size=3000):
    with open(path, errors="replace") as handle:
        return handle.read()[-size:]


def _run_until_fault_and_kill(tmp_path, *fault):
    """Starts the command with a fault point, waits until it stops there, SIGKILLs it."""
    run = len(list(tmp_path.glob("killed_run_*.log")))
    marker, log = tmp_path / f"stopped_at_fault_{run}", tmp_path / f"killed_run_{run}.log"
    with open(log, "w") as output:
        process = subprocess.Popen(
            _command(tmp_path, *fault, "--marker", str(marker)), cwd=ROOT, env=_environment(),
            stdout=output, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while not marker.exists():
            assert process.poll() is None, f"exited with {process.returncode} before the fault:\n{_log_tail(log)}"
            assert time.monotonic() < deadline, f"no fault point after {TIMEOUT_SECONDS} s:\n{_log_tail(log)}"
            time.sleep(0.1)
        # The marker holds the pid once written: wait until it is complete.
        while marker.read_text() != str(process.pid):
            assert time.monotonic() < deadline, "the marker file names another process"
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    return _log_tail(log, size=100_000)


def _restart(tmp_path):
    result = subprocess.run(
        _command(tmp_path), cwd=ROOT, env=_environment(), capture_output=True, text=True,
        timeout=TIMEOUT_SECONDS,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result.stdout


def _history_rows(tmp_path):
    with open(tmp_path / "run" / "history.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def _backup_files(tmp_path):
    return sorted(os.listdir(tmp_path / "run" / "backup"))


def _optimizer_step(path):
    return int(keras.models.load_model(path).optimizer.iterations.numpy())


@pytest.mark.long_running(seconds=90)
def test_killed_mid_epoch_then_while_writing_a_checkpoint_resumes_each_time(tmp_path):
    # Three runs of the same command (one process start less than two separate cases).
    # 1. Killed in the middle of epoch 2: epoch 1 is committed, nothing of epoch 2 is.
    _run_until_fault_and_kill(tmp_path, "--pause-in-epoch", "2")
    backup = tmp_path / "run" / "backup"
    assert _backup_files(tmp_path) == ["epoch-1.keras", "state.json"]
    history_before_kills = _history_rows(tmp_path)
    assert [row["epoch"] for row in history_before_kills] == ["0"]
    assert not os.path.exists(tmp_path / "run" / "model.keras")

    # 2. Restarted, it resumes after epoch 1 and is killed once the temporary file of the
    # epoch-2 checkpoint is written, before its rename: epoch 1 stays the loadable checkpoint.
    log = _run_until_fault_and_kill(tmp_path, "--pause-before-commit", "epoch-2.keras")
    assert f"1 epochs done, optimizer step {STEPS_PER_EPOCH}." in log
    partial = [name for name in _backup_files(tmp_path) if name.startswith(".")]
    assert len(partial) == 1 and partial[0].startswith(".epoch-2.keras.")
    assert os.path.getsize(backup / partial[0]) > 0
    assert [name for name in _backup_files(tmp_path) if not name.startswith(".")] == [
        "epoch-1.keras", "state.json"
    ]
    assert _optimizer_step(backup / "epoch-1.keras") == STEPS_PER_EPOCH
    assert _history_rows(tmp_path) == history_before_kills

    # 3. Restarted again, it trains epoch 2 once more (its checkpoint was never committed) and ends.
    stdout = _restart(tmp_path)
    assert f"1 epochs done, optimizer step {STEPS_PER_EPOCH}." in stdout
    rows = _history_rows(tmp_path)
    assert [row["epoch"] for row in rows] == ["0", "1"]  # none twice, none lost
    assert rows[0] == history_before_kills[0]  # epoch 1 was not trained again
    assert _backup_files(tmp_path) == ["epoch-2.keras", "state.json"]
    assert not [name for name in os.listdir(tmp_path / "run") if name.startswith(".")]
    model = keras.models.load_model(tmp_path / "run" / "model.keras")
    # A counter restarted at 0 would read 4: the learning-rate schedule would start again.
    assert int(model.optimizer.iterations.numpy()) == EPOCHS * STEPS_PER_EPOCH
    assert _backbone_network(model).name == "tiny_backbone"  # the --backbone file, not MobileNetV2
