"""Distributed steps on TensorFlow's own engine equal the single-device step.

Each case runs in subprocesses: a strategy's devices must be configured before
TensorFlow starts, and multi-worker training needs one process per worker.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
LOGGED_LOSSES = ("loss", "classification_loss", "localization_loss")


def _environment(**extra):
    environment = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2", **extra)
    environment.pop("TF_CONFIG", None)
    environment.update(extra)
    return environment


def _start(mode, output, normalization, **environment):
    return subprocess.Popen(
        [sys.executable, "-m", "tests.models.distributed_steps", mode, str(output), normalization],
        cwd=ROOT, env=_environment(**environment), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process, timeout=300):
    _, stderr = process.communicate(timeout=timeout)
    assert process.returncode == 0, stderr[-3000:]


def _load(output):
    weights = np.load(str(output) + ".npz")
    report = json.loads(Path(str(output) + ".json").read_text())
    return [weights[f"arr_{index}"] for index in range(len(weights.files) - 1)], weights["start_0"], report


def _assert_same_step(single_output, distributed_output, replicas, keys=LOGGED_LOSSES):
    single_weights, start, single = _load(single_output)
    distributed_weights, distributed_start, distributed = _load(distributed_output)
    assert distributed["replicas"] == replicas
    np.testing.assert_array_equal(start, distributed_start)  # same initial weights
    assert max(float(np.abs(a - start).max()) for a in single_weights[:1]) > 1e-4  # it moved
    for single_weight, distributed_weight in zip(single_weights, distributed_weights):
        np.testing.assert_allclose(distributed_weight, single_weight, atol=2e-5)
    for key in keys:
        np.testing.assert_allclose(distributed["history"][key], single["history"][key], rtol=1e-4)


@pytest.mark.long_running(seconds=25)
@pytest.mark.parametrize("normalization", ["num_positives", "per_image"])
def test_mirrored_strategy_steps_equal_single_device_steps(tmp_path, normalization):
    # per_image runs 7 images in batches of 4: the last batch of 3 splits 2 + 1.
    single = _start("single", tmp_path / "single", normalization)
    mirrored = _start("mirrored", tmp_path / "mirrored", normalization)
    _finish(single)
    _finish(mirrored)
    # Keras' own "loss" weights each replica's value by its local batch size, which
    # is the global loss only when the replicas' batches are equal; the gradient and
    # the model's own loss trackers are exact either way.
    keys = LOGGED_LOSSES if normalization == "num_positives" else LOGGED_LOSSES[1:]
    _assert_same_step(tmp_path / "single", tmp_path / "mirrored", replicas=2, keys=keys)


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


@pytest.mark.long_running(seconds=30)
def test_two_worker_processes_equal_one_process_on_the_global_batch(tmp_path):
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    processes = [_start("single", tmp_path / "single", "num_positives")]
    for index in range(2):
        config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        processes.append(
            _start("worker", tmp_path / f"worker{index}", "num_positives", TF_CONFIG=json.dumps(config))
        )
    for process in processes:
        _finish(process)
    _assert_same_step(tmp_path / "single", tmp_path / "worker0", replicas=2)
    _assert_same_step(tmp_path / "single", tmp_path / "worker1", replicas=2)
