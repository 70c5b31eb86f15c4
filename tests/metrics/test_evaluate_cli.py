"""`keras-ssd evaluate`: a tiny saved model on the embedded synthetic_shapes/tiny data."""

import json
import os

import numpy as np

from keras_ssd.cli import main
from keras_ssd.data.synthetic_shapes import CLASS_NAMES
from tests.conftest import tiny_ssd
from tests.data.test_voc_xml import VocFolder, _xml



def _save_tiny_model(path, num_classes):
    model = tiny_ssd(num_classes)
    # Random class biases: scores spread over (0, 1), so there are detections to score.
    rng = np.random.default_rng(0)
    for variable in model.head.variables:
        if "bias" in variable.path:
            variable.assign(rng.normal(0.0, 2.0, variable.shape).astype("float32"))
    model.save(path)


def _confusion_rows(lines, names=CLASS_NAMES):
    header = next(i for i, line in enumerate(lines) if line.startswith("truth \\ detected"))
    assert lines[header].split()[3:] == [*names, "missed"]
    rows = lines[header + 2 : header + 3 + len(names)]
    assert [row.split()[0] for row in rows] == [*names, "background"]
    return np.array([[int(v) if v != "-" else 0 for v in row.split()[1:]] for row in rows])


def test_evaluate_prints_tables_and_writes_figures(tmp_path, capsys):
    model_path = str(tmp_path / "model.keras")
    _save_tiny_model(model_path, len(CLASS_NAMES))
    output_dir = tmp_path / "evaluation"
    # In this process (a fresh one proves nothing more; `python -m keras_ssd` runs in
    # tests/inference/test_predict.py and tests/cli/).
    status = main([
        "evaluate", "--model", model_path,
        "--data", "synthetic_shapes/tiny", "--data-dir", str(tmp_path / "data"), "--voc",
        "--batch-size", "4", "--score-threshold", "0.2", "--output-dir", str(output_dir),
    ])  # fmt: skip
    captured = capsys.readouterr()
    assert status == 0, captured.err[-2000:]
    lines = captured.out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("class") and "AP50" in line)
    assert lines[header].split() == ["class", "boxes", "AP50", "AP", "recall50", "AR100"]
    rows = lines[header + 2 : header + 2 + len(CLASS_NAMES)]
    assert [row.split()[0] for row in rows] == list(CLASS_NAMES)
    for row in rows:
        values = [float(v) for v in row.split()[2:] if v != "-"]
        assert all(0.0 <= v <= 1.0 for v in values)
    assert any(line.startswith("COCO: AP ") for line in lines)
    voc_header = next(i for i, line in enumerate(lines) if "VOC07 AP50" in line)
    assert lines[voc_header].split() == ["class", "boxes", "VOC07", "AP50", "VOC", "AP50"]
    # The confusion matrix: each class's row holds each of its boxes once.
    matrix = _confusion_rows(lines)
    report = json.loads((output_dir / "report.json").read_text())
    np.testing.assert_array_equal(matrix, report["confusion_matrix"])
    boxes = [int(row.split()[1]) for row in rows]
    np.testing.assert_array_equal(matrix[:-1].sum(axis=1), boxes)
    assert report["score_threshold"] == 0.2 and report["class_names"] == list(CLASS_NAMES)
    for name in ("confusion_matrix.png", "precision_recall.png"):
        assert (output_dir / name).read_bytes()[:4] == b"\x89PNG"


def test_evaluate_reads_a_saved_model_and_matches_classes_by_name(tmp_path, capsys):
    from keras_ssd.export import export_saved_model

    names = ["circle", "square"]
    model = tiny_ssd(2, class_names=names)
    export_dir = export_saved_model(model, str(tmp_path / "exported"))
    # A VOC folder read with its classes in the other order: 3 circles and 1 square.
    voc = VocFolder(tmp_path / "voc")
    for stem, objects in (("a", [("circle", (4, 4, 30, 30)), ("square", (34, 34, 60, 60)),
                                 ("circle", (34, 4, 60, 30))]),
                          ("b", [("circle", (10, 10, 50, 50))])):  # fmt: skip
        voc.image(f"{stem}.jpg", width=64, height=64)
        voc.annotation(stem, _xml(f"{stem}.jpg", [(n, box, False) for n, box in objects], size=(64, 64)))
    os.makedirs(voc.root / "ImageSets" / "Main")
    (voc.root / "ImageSets" / "Main" / "test.txt").write_text("a\nb\n")
    data = ["--data", str(voc.root), "--classes", "square,circle", "--output-dir", str(tmp_path / "out")]
    assert main(["evaluate", "--model", export_dir, *data]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("class") and "AP50" in line)
    rows = [line.split()[:2] for line in lines[header + 2 : header + 4]]
    assert rows == [["circle", "3"], ["square", "1"]]  # the model's order, the right counts
    # An untrained head scores about 0.01: nothing reaches 0.5, every box is missed.
    assert _confusion_rows(lines, names).tolist() == [[0, 0, 3], [0, 0, 1], [0, 0, 0]]
    assert (tmp_path / "out" / "confusion_matrix.png").exists()
    assert main(["evaluate", "--model", export_dir, *data[:2], "--classes", "square,circle,disc"]) == 1
    assert "the data has ['disc'], which the model does not know" in capsys.readouterr().err


def test_evaluate_reports_user_errors(tmp_path, capsys):
    out = ["--output-dir", str(tmp_path / "out")]
    missing = ["--model", str(tmp_path / "missing.keras"), "--data", "synthetic_shapes", *out]
    assert main(["evaluate", *missing]) == 1
    assert "missing.keras: no such file or directory. Expected a `.keras` file" in capsys.readouterr().err
    model_path = str(tmp_path / "three.keras")
    _save_tiny_model(model_path, 3)
    data = ["--data", "synthetic_shapes/tiny", "--data-dir", str(tmp_path / "data"), *out]
    assert main(["evaluate", "--model", model_path, *data]) == 1
    assert "num_classes=3 (and no class names to match by) but the data has 5" in capsys.readouterr().err
    assert main(["evaluate", "--model", model_path, *data, "--score-threshold", "1.5"]) == 1
    assert "score_threshold must lie in [0, 1], got 1.5" in capsys.readouterr().err
    (tmp_path / "a_file").write_text("")
    assert main(["evaluate", "--model", model_path, *data, "--output-dir", str(tmp_path / "a_file")]) == 1
    assert "cannot write the output folder" in capsys.readouterr().err
    assert main(["evaluate", "--model", model_path, "--data", str(tmp_path / "nothing.json"), *out]) == 1
    assert "error" in capsys.readouterr().err


def test_evaluate_names_an_image_that_fails_to_decode(tmp_path, capsys):
    from tests.data.test_image_integrity import _baseline, _undefined_quantization_table

    model_path = str(tmp_path / "model.keras")
    _save_tiny_model(model_path, 1)
    folder = VocFolder(tmp_path / "voc")
    for index, data in enumerate([_baseline(), _undefined_quantization_table()]):
        (folder.root / "JPEGImages" / f"{index}.jpg").write_bytes(data)
        folder.annotation(str(index), _xml(f"{index}.jpg", [("cat", (4, 4, 30, 30), False)], size=(64, 48)))
    args = ["evaluate", "--model", model_path, "--data", str(folder.root), "--output-dir", str(tmp_path / "out")]
    assert main(args) == 1
    error = capsys.readouterr().err
    assert error.startswith("keras-ssd evaluate: error: ")
    assert "JPEGImages/1.jpg could not be read or decoded as an image" in error
    assert "Traceback" not in error and len(error.strip().splitlines()) == 1
