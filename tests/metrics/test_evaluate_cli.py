"""`keras-ssd evaluate`: a tiny saved model on the embedded synthetic_shapes/tiny data."""

import os
import subprocess
import sys

import numpy as np

from keras_ssd.cli import main
from keras_ssd.data.synthetic_shapes import CLASS_NAMES
from keras_ssd.models.ssd import SSD
from tests.conftest import tiny_backbone

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _save_tiny_model(path, num_classes):
    model = SSD(num_classes=num_classes, backbone=tiny_backbone(), image_size=64, extra_filters=[16])
    # Random class biases: scores spread over (0, 1), so there are detections to score.
    rng = np.random.default_rng(0)
    for variable in model.head.variables:
        if "bias" in variable.path:
            variable.assign(rng.normal(0.0, 2.0, variable.shape).astype("float32"))
    model.save(path)


def test_evaluate_prints_the_per_class_and_voc_tables(tmp_path):
    model_path = str(tmp_path / "model.keras")
    _save_tiny_model(model_path, len(CLASS_NAMES))
    command = [
        sys.executable, "-m", "keras_ssd.cli", "evaluate", "--model", model_path,
        "--data", "synthetic_shapes/tiny", "--data-dir", str(tmp_path / "data"), "--voc",
        "--batch-size", "4",
    ]  # fmt: skip
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
    result = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("class") and "AP50" in line)
    assert lines[header].split() == ["class", "boxes", "AP50", "AP"]
    rows = lines[header + 2 : header + 2 + len(CLASS_NAMES)]
    assert [row.split()[0] for row in rows] == list(CLASS_NAMES)
    for row in rows:
        values = [float(v) for v in row.split()[2:] if v != "-"]
        assert all(0.0 <= v <= 1.0 for v in values)
    assert any(line.startswith("COCO: AP ") for line in lines)
    voc_header = next(i for i, line in enumerate(lines) if "VOC07 AP50" in line)
    assert lines[voc_header].split() == ["class", "boxes", "VOC07", "AP50", "VOC", "AP50"]
    assert lines[-1].startswith("mean")


def test_evaluate_reports_user_errors(tmp_path, capsys):
    assert main(["evaluate", "--model", str(tmp_path / "missing.keras"), "--data", "synthetic_shapes"]) == 1
    assert "expected a .keras file" in capsys.readouterr().err
    model_path = str(tmp_path / "three.keras")
    _save_tiny_model(model_path, 3)
    data = ["--data", "synthetic_shapes/tiny", "--data-dir", str(tmp_path / "data")]
    assert main(["evaluate", "--model", model_path, *data]) == 1
    assert "num_classes=3" in capsys.readouterr().err
    assert main(["evaluate", "--model", model_path, "--data", str(tmp_path / "nothing.json")]) == 1
    assert "error" in capsys.readouterr().err
