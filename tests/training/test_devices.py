"""`keras-ssd train --architecture/--mixed-precision/--jit-compile/--distribute`."""

import csv
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssd import cli
from keras_ssd.cli.train import ARCHITECTURES
from keras_ssd.data.embedded import load_synthetic_shapes
from keras_ssd.models.ssd import SSD
from keras_ssd.training import train_detector
from keras_ssd.training.devices import make_strategy, set_precision, worker_output_dir
from tests.conftest import tiny_backbone


@pytest.fixture
def restore_dtype_policy():
    policy = keras.config.dtype_policy()
    yield
    keras.config.set_dtype_policy(policy)


def _history(output_dir):
    with open(os.path.join(output_dir, "history.csv")) as file:
        return list(csv.DictReader(file))


def test_the_command_line_knows_every_preset():
    # cli/train.py names them itself so that `keras-ssd --help` imports no TensorFlow.
    assert ARCHITECTURES == tuple(SSD.presets())


@pytest.mark.long_running(seconds=60)
def test_train_builds_the_chosen_architecture(tmp_path):
    output_dir = str(tmp_path / "run")
    status = cli.main([
        "train", "--data", "synthetic_shapes/tiny", "--data-dir", str(tmp_path / "data"),
        "--output-dir", output_dir, "--epochs", "1", "--image-size", "96", "--width", "0.35",
        "--batch-size", "10", "--architecture", "ssdlite320_mobilenet_v2", "--no-augment",
    ])  # fmt: skip
    assert status == 0
    model = keras.saving.load_model(os.path.join(output_dir, "model.keras"), compile=False)
    reference = SSD.from_preset("ssdlite320_mobilenet_v2", num_classes=5, image_size=96,
                                width_multiplier=0.35)  # fmt: skip
    assert model.head_name == "separable"
    assert model.count_params() == reference.count_params()
    assert model.anchors.shape == reference.anchors.shape
    assert np.isfinite(float(_history(output_dir)[0]["loss"]))


@pytest.mark.long_running(seconds=50)
def test_mixed_bfloat16_xla_and_mirrored_strategy_train_together(tmp_path, restore_dtype_policy):
    examples, names = load_synthetic_shapes("train", str(tmp_path / "data"), "tiny")
    # A backbone file is loaded inside the strategy's scope, as its variables must be.
    backbone_file = str(tmp_path / "backbone.keras")
    tiny_backbone().save(backbone_file)
    model, _ = train_detector(
        examples.take(16), names, str(tmp_path / "run"), epochs=2, batch_size=8, image_size=64,
        backbone=backbone_file, augment=False, mixed_precision="bfloat16", jit_compile=True,
        distribute="mirrored", verbose=0,
    )  # fmt: skip
    assert isinstance(model.distribute_strategy, tf.distribute.MirroredStrategy)
    assert model.jit_compile is True
    assert model.dtype_policy.name == "mixed_bfloat16"
    assert model.dtype_policy.compute_dtype == "bfloat16"
    outputs = model(tf.zeros((1, 64, 64, 3)))
    assert outputs["classes"].dtype == tf.float32  # heads' outputs stay float32
    losses = [float(row["loss"]) for row in _history(str(tmp_path / "run"))]
    assert len(losses) == 2 and np.all(np.isfinite(losses))


def test_run_eagerly_reaches_compile(tmp_path):
    examples, names = load_synthetic_shapes("train", str(tmp_path / "data"), "tiny")
    model, _ = train_detector(
        examples.take(8), names, str(tmp_path / "run"), epochs=1, batch_size=4, image_size=64,
        backbone=tiny_backbone(), augment=False, run_eagerly=True, verbose=0,
    )  # fmt: skip
    assert model.run_eagerly is True
    # Keras wraps the step in a tf.function only when it traces.
    assert not isinstance(model.train_function, tf.types.experimental.PolymorphicFunction)
    assert np.isfinite(float(_history(str(tmp_path / "run"))[0]["loss"]))


def test_device_choices_are_checked(monkeypatch, restore_dtype_policy):
    with pytest.raises(ValueError, match="mixed_precision must be None or one of float16, bfloat16"):
        set_precision("float8")
    assert set_precision(None) == keras.config.dtype_policy().name  # left as it is
    assert set_precision("float16") == "mixed_float16"
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="needs the TF_CONFIG environment variable"):
        make_strategy("multi_worker")
    with pytest.raises(ValueError, match="distribute must be None or one of mirrored"):
        make_strategy("horovod")


def test_only_the_chief_worker_writes_the_output_folder(monkeypatch):
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 0}}))
    assert worker_output_dir("run") == "run"
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 1}}))
    assert worker_output_dir("run") == os.path.join("run", "worker_1")
