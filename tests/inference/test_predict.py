"""`keras-ssd predict` / `keras-ssd export` and the file helpers under them."""

import json
import os
import runpy
import sys

import numpy as np
import pytest
from PIL import Image

from keras_ssd.cli import main
from keras_ssd.inference.predict import export_file, predict_files, read_class_names, read_image
from tests.conftest import DETECTING_CLASS_NAMES as CLASS_NAMES
from tests.conftest import make_detecting_model, random_images


def _save(path, array, mode=None):
    Image.fromarray(array, mode).save(path) if mode else Image.fromarray(array).save(path)
    return str(path)


def test_read_image_converts_grayscale_rgba_palette_and_16_bit(tmp_path):
    gray = _save(tmp_path / "gray.png", np.full((4, 5), 100, np.uint8))
    np.testing.assert_array_equal(read_image(gray), np.full((4, 5, 3), 100, np.uint8))

    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = [255, 0, 0, 255]  # opaque red
    rgba[0, 1] = [255, 0, 0, 0]  # transparent: the white background
    rgba[1, 0] = [0, 0, 0, 128]  # half black over white
    rgba[1, 1] = [0, 0, 255, 255]
    image = read_image(_save(tmp_path / "rgba.png", rgba))
    assert image.shape == (2, 2, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image[0, 0], [255, 0, 0])
    np.testing.assert_array_equal(image[0, 1], [255, 255, 255])
    np.testing.assert_allclose(image[1, 0], [127, 127, 127], atol=1)
    np.testing.assert_array_equal(image[1, 1], [0, 0, 255])

    palette = Image.fromarray(np.array([[0, 1]], np.uint8), "P")
    palette.putpalette([10, 20, 30, 40, 50, 60])
    palette.save(tmp_path / "palette.png")
    np.testing.assert_array_equal(read_image(tmp_path / "palette.png"), [[[10, 20, 30], [40, 50, 60]]])

    deep = Image.fromarray(np.array([[0, 1000], [2000, 4000]], np.uint16))
    deep.save(tmp_path / "deep.png")
    np.testing.assert_array_equal(read_image(tmp_path / "deep.png")[..., 0], [[0, 64], [128, 255]])


def test_read_image_bad_files(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match=r"notes.txt: not an image \(Pillow cannot identify it\)"):
        read_image(tmp_path / "notes.txt")
    with pytest.raises(FileNotFoundError, match="missing.png: no such image file"):
        read_image(tmp_path / "missing.png")
    png = (tmp_path / "good.png")
    _save(png, random_images(1, 32, 32)[0])
    (tmp_path / "cut.png").write_bytes(png.read_bytes()[:1000])  # header intact, pixels cut
    with pytest.raises(ValueError, match="cut.png: a damaged or unsupported image"):
        read_image(tmp_path / "cut.png")


def test_predict_files_writes_pngs_and_json_for_both_model_kinds(tmp_path):
    model = make_detecting_model(confidence_threshold=0.7)
    model.save(tmp_path / "model.keras")
    export_dir = model.export(str(tmp_path / "exported"))
    (tmp_path / "sub").mkdir()
    images = [
        _save(tmp_path / "a.png", random_images(1, 48, 80, seed=1)[0]),
        _save(tmp_path / "gray.png", random_images(1, 40, 40, seed=2)[0, ..., 0]),
        # RGBA, and a second "a.png" (written as a_2.png).
        _save(tmp_path / "sub" / "a.png", np.dstack([random_images(1, 64, 64, seed=3)[0],
                                                     np.full((64, 64), 200, np.uint8)])),
    ]
    reports = {}
    for kind, model_path in (("keras", str(tmp_path / "model.keras")), ("saved_model", export_dir)):
        out = tmp_path / f"out_{kind}"
        reports[kind] = predict_files(images, model_path, str(out), score_threshold=0.75)
        assert sorted(os.listdir(out)) == ["a.png", "a_2.png", "detections.json", "gray.png"]
        with open(out / "detections.json", encoding="utf-8") as handle:
            assert json.load(handle) == reports[kind]
        for entry, path in zip(reports[kind]["images"], images):
            with Image.open(entry["output"]) as written:
                assert written.size == Image.open(path).size  # drawn at the image's own size
            assert (entry["width"], entry["height"]) == Image.open(path).size
            for found in entry["detections"]:
                assert found["score"] >= 0.75
                assert found["class_name"] == CLASS_NAMES[found["class_id"]]
                ymin, xmin, ymax, xmax = found["box"]
                assert 0 <= ymin <= ymax <= 1 and 0 <= xmin <= xmax <= 1
    first, second = reports["keras"]["images"], reports["saved_model"]["images"]
    assert sum(len(entry["detections"]) for entry in first) > 0
    for one, two in zip(first, second):
        assert [d["class_id"] for d in one["detections"]] == [d["class_id"] for d in two["detections"]]
        np.testing.assert_allclose(
            [d["box"] + [d["score"]] for d in one["detections"]],
            [d["box"] + [d["score"]] for d in two["detections"]],
            atol=1e-4,
        )


def test_cli_predict_and_export(tmp_path, capsys):
    model = make_detecting_model(confidence_threshold=0.7)
    model.save(tmp_path / "model.keras")
    assert main(["export", "--model", str(tmp_path / "model.keras"), "--out", str(tmp_path / "sm"),
                 "--score-threshold", "0.8"]) == 0
    assert os.path.exists(tmp_path / "sm" / "saved_model.pb")
    image = _save(tmp_path / "photo.png", random_images(1, seed=4)[0])
    labels = tmp_path / "labels.txt"
    labels.write_text("red\ngreen\nblue\n")
    assert main(["predict", image, "--model", str(tmp_path / "sm"), "--output-dir", str(tmp_path / "p"),
                 "--score-threshold", "0.1", "--class-names", str(labels)]) == 0
    report = json.loads((tmp_path / "p" / "detections.json").read_text())
    assert report["class_names"] == ["red", "green", "blue"]
    scores = [d["score"] for d in report["images"][0]["detections"]]
    assert scores and min(scores) >= 0.8  # the export's own threshold still applies
    assert "photo.png: " in capsys.readouterr().out

    assert main(["export", "--model", str(tmp_path / "model.keras"), "--out", str(tmp_path / "lite"),
                 "--format", "tflite", "--quantize", "dynamic_range"]) == 0
    assert sorted(os.listdir(tmp_path / "lite")) == ["model.labels.txt", "model.tflite"]


def test_cli_export_refuses_to_write_over_a_model_or_a_full_folder_without_overwrite(tmp_path, capsys):
    model = make_detecting_model()
    model.save(tmp_path / "model.keras")
    export = ["export", "--model", str(tmp_path / "model.keras")]
    assert main([*export, "--out", str(tmp_path / "sm")]) == 0
    dataset = tmp_path / "my_voc"
    (dataset / "Annotations").mkdir(parents=True)
    (dataset / "a.jpg").write_bytes(b"not touched")
    (tmp_path / "old.tflite").write_bytes(b"an older model")
    capsys.readouterr()
    cases = [
        ([*export, "--out", str(tmp_path / "sm")], "sm already holds a SavedModel; give --overwrite"),
        ([*export, "--out", str(dataset)], "my_voc is a folder with 2 entries (Annotations, a.jpg), not an empty"),
        ([*export, "--out", str(tmp_path / "old.tflite"), "--format", "tflite"],
         "old.tflite is an existing TFLite file; give --overwrite"),
    ]
    for argv, message in cases:
        assert main(argv) == 1, argv
        error = capsys.readouterr().err
        assert message in error and error.count("\n") == 1, (argv, error)
    assert sorted(os.listdir(dataset)) == ["Annotations", "a.jpg"]
    assert (tmp_path / "old.tflite").read_bytes() == b"an older model"
    modified = os.path.getmtime(tmp_path / "sm" / "saved_model.pb")
    assert main([*export, "--out", str(tmp_path / "sm"), "--overwrite"]) == 0
    assert os.path.getmtime(tmp_path / "sm" / "saved_model.pb") >= modified
    assert main([*export, "--out", str(tmp_path / "old.tflite"), "--format", "tflite", "--overwrite"]) == 0
    assert (tmp_path / "old.tflite").read_bytes() != b"an older model"
    (tmp_path / "empty").mkdir()
    assert main([*export, "--out", str(tmp_path / "empty")]) == 0  # an empty folder is fine


def test_cli_reports_bad_input_without_traceback(tmp_path, capsys):
    model = make_detecting_model()
    export_dir = model.export(str(tmp_path / "sm"))
    image = _save(tmp_path / "ok.png", random_images(1)[0])
    (tmp_path / "report.pdf").write_text("%PDF-1.4 not really")
    five = tmp_path / "five.txt"
    five.write_text("a\nb\nc\nd\ne\n")
    cases = [
        (["predict", image, str(tmp_path / "report.pdf"), "--model", export_dir],
         "report.pdf: not an image"),
        (["predict", image, "--model", str(tmp_path / "nowhere")], "nowhere: no such file or directory"),
        (["predict", image, "--model", export_dir, "--class-names", str(five)],
         "5 class names were given but the model at"),
        (["predict", image, "--model", export_dir, "--score-threshold", "2"],
         "score_threshold must be in [0, 1]"),
        (["export", "--model", export_dir, "--out", str(tmp_path / "x")], "sm: a directory; export needs"),
        (["export", "--model", str(tmp_path / "m.keras"), "--out", str(tmp_path / "x")],
         "m.keras: no such file or directory"),
        (["export", "--model", export_dir, "--out", str(tmp_path / "x"), "--quantize", "dynamic_range"],
         "--quantize applies to --format tflite only"),
    ]
    for argv, message in cases:
        assert main(argv) == 1, argv
        error = capsys.readouterr().err
        assert message in error, (argv, error)
        assert "Traceback" not in error
    assert not (tmp_path / "predictions").exists()


def test_console_script_exit_status_for_a_non_image(tmp_path, monkeypatch, capsys):
    # `python -m keras_ssd` in this process: its exit status is what a shell sees.
    (tmp_path / "notes.txt").write_text("hello")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["keras-ssd", "predict", str(tmp_path / "notes.txt"),
                                      "--model", str(tmp_path / "model.keras")])
    with pytest.raises(SystemExit) as stopped:
        runpy.run_module("keras_ssd", run_name="__main__")
    assert stopped.value.code == 1
    error = capsys.readouterr().err
    assert "notes.txt: not an image" in error
    assert "Traceback" not in error


def test_read_class_names_and_export_file_paths(tmp_path):
    (tmp_path / "names.txt").write_text("cat\n\n dog \n")
    assert read_class_names(tmp_path / "names.txt") == ["cat", "dog"]
    (tmp_path / "blank.txt").write_text("\n")
    with pytest.raises(ValueError, match="blank.txt: no class names in it"):
        read_class_names(tmp_path / "blank.txt")
    model = make_detecting_model()
    model.save(tmp_path / "model.keras")
    written = export_file(str(tmp_path / "model.keras"), str(tmp_path / "ssd.tflite"), format="tflite")
    assert written == str(tmp_path / "ssd.tflite")
    assert os.path.exists(tmp_path / "ssd.labels.txt")


def test_cli_predict_takes_a_folders_images_and_names_a_damaged_model_file(tmp_path, capsys):
    model = make_detecting_model()
    model.save(tmp_path / "model.keras")
    photos = tmp_path / "photos"
    photos.mkdir()
    for index in range(2):
        _save(photos / f"p{index}.png", random_images(1, seed=index)[0])
    (photos / "notes.txt").write_text("not an image, not taken")
    assert main(["predict", str(photos), "--model", str(tmp_path / "model.keras"),
                 "--output-dir", str(tmp_path / "out")]) == 0  # fmt: skip
    report = json.loads((tmp_path / "out" / "detections.json").read_text())
    assert [os.path.basename(image["file"]) for image in report["images"]] == ["p0.png", "p1.png"]
    (tmp_path / "empty").mkdir()
    (tmp_path / "garbage.keras").write_text("not a zip")
    capsys.readouterr()
    for argv, message in [
        (["predict", str(tmp_path / "empty"), "--model", str(tmp_path / "model.keras")],
         "empty: a folder without image files"),
        (["predict", str(photos), "--model", str(tmp_path / "garbage.keras")],
         "garbage.keras: not a .keras file (not a zip archive"),
    ]:
        assert main([*argv, "--output-dir", str(tmp_path / "out2")]) == 1
        error = capsys.readouterr().err
        assert message in error and "File not found" not in error, error
