"""`keras-ssd train` killed with SIGKILL, then started again with the same command.

Each run is the real command line in a fresh process (tests/training_faults_launcher.py, with the
four-convolution test backbone). The launcher stops at a fault point and creates a marker file;
the test waits for the marker, kills the process and starts the command again without the fault.
"""

import csv
import os
import signal
import subprocess
import sys
import time

import keras

import keras_ssd  # noqa: F401  (registers the classes that load_model revives)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# 20 training images in batches of 8: 3 optimizer steps per epoch.
STEPS_PER_EPOCH = 3
EPOCHS = 2
# Generous: the processes trace a train step, and CI machines are shared.
TIMEOUT_SECONDS = 600


def _command(tmp_path, *fault):
    return [
        sys.executable, "-m", "tests.training_faults_launcher", *fault, "--",
        "train", "--data", "synthetic_shapes/tiny", "--data-dir", str(tmp_path / "data"),
        "--output-dir", str(tmp_path / "run"), "--epochs", str(EPOCHS), "--image-size", "64",
        "--width", "0.35", "--batch-size", "8",
    ]


def _environment():
    return {**os.environ, "PYTHONPATH": ROOT, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "2"}


def _log_tail(path):
    with open(path, errors="replace") as handle:
        return handle.read()[-3000:]


def _run_until_fault_and_kill(tmp_path, *fault):
    """Starts the command with a fault point, waits until it stops there, SIGKILLs it."""
    marker = tmp_path / "stopped_at_fault"
    log = tmp_path / "killed_run.log"
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


def _check_completed_run(tmp_path, stdout, history_before_kill):
    assert f"1 epochs done, optimizer step {STEPS_PER_EPOCH}." in stdout
    rows = _history_rows(tmp_path)
    assert [row["epoch"] for row in rows] == ["0", "1"]  # none twice, none lost
    assert rows[0] == history_before_kill[0]  # epoch 1 was not trained again
    assert _backup_files(tmp_path) == ["epoch-2.keras", "state.json"]
    assert not [name for name in os.listdir(tmp_path / "run") if name.startswith(".")]
    # A counter restarted at 0 would read 3: the learning-rate schedule would start again.
    assert _optimizer_step(tmp_path / "run" / "model.keras") == EPOCHS * STEPS_PER_EPOCH


def test_killed_mid_epoch_resumes_without_repeating_or_losing_an_epoch(tmp_path):
    _run_until_fault_and_kill(tmp_path, "--pause-in-epoch", "2")

    assert _backup_files(tmp_path) == ["epoch-1.keras", "state.json"]
    history_before_kill = _history_rows(tmp_path)
    assert [row["epoch"] for row in history_before_kill] == ["0"]
    assert not os.path.exists(tmp_path / "run" / "model.keras")

    _check_completed_run(tmp_path, _restart(tmp_path), history_before_kill)


def test_killed_while_writing_a_checkpoint_keeps_the_previous_one(tmp_path):
    _run_until_fault_and_kill(tmp_path, "--pause-before-commit", "epoch-2.keras")

    backup = tmp_path / "run" / "backup"
    partial = [name for name in _backup_files(tmp_path) if name.startswith(".")]
    assert len(partial) == 1 and partial[0].startswith(".epoch-2.keras.")
    assert os.path.getsize(backup / partial[0]) > 0
    assert [name for name in _backup_files(tmp_path) if not name.startswith(".")] == [
        "epoch-1.keras", "state.json"
    ]
    assert _optimizer_step(backup / "epoch-1.keras") == STEPS_PER_EPOCH
    history_before_kill = _history_rows(tmp_path)
    assert [row["epoch"] for row in history_before_kill] == ["0"]

    _check_completed_run(tmp_path, _restart(tmp_path), history_before_kill)
