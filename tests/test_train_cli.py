"""`keras-ssd train` on your own data: VOC, COCO JSON and TFRecords, then `evaluate`."""

import csv
import json
import os
import sys

import keras
import numpy as np
import pytest
from PIL import Image

from keras_ssd.cli import main
from keras_ssd.data.synthetic_shapes import render_example
from keras_ssd.data.label_map import write_label_map
from keras_ssd.data.tfrecord_writer import write_tfrecord
from tests.conftest import tiny_backbone

NAMES = ["circle", "square", "triangle", "cross", "ring"]
NUM_IMAGES = 8
QUICK = ["--epochs", "1", "--image-size", "64", "--batch-size", "4", "--val-fraction", "0.25"]


@pytest.fixture(scope="module")
def backbone_file(tmp_path_factory):
    """A four-convolution backbone saved as .keras: `--backbone` keeps the tests fast."""
    path = str(tmp_path_factory.mktemp("backbone") / "tiny.keras")
    tiny_backbone().save(path)
    return path


def _images():
    """Eight 64 px synthetic_shapes images with their pixel boxes (xmin, ymin, xmax, ymax)."""
    for index in range(NUM_IMAGES):
        image, boxes, labels = render_example(index, image_size=64)
        yield f"img{index}", image, boxes, labels


def write_voc(folder):
    os.makedirs(folder / "Annotations")
    os.makedirs(folder / "JPEGImages")
    for name, image, boxes, labels in _images():
        Image.fromarray(image).save(folder / "JPEGImages" / f"{name}.png")
        objects = "".join(
            f"<object><name>{NAMES[label]}</name><bndbox><xmin>{box[1] * 64:g}</xmin>"
            f"<ymin>{box[0] * 64:g}</ymin><xmax>{box[3] * 64:g}</xmax><ymax>{box[2] * 64:g}</ymax>"
            "</bndbox></object>"
            for box, label in zip(boxes, labels)
        )
        (folder / "Annotations" / f"{name}.xml").write_text(
            f"<annotation><filename>{name}.png</filename><size><width>64</width><height>64</height>"
            f"<depth>3</depth></size>{objects}</annotation>"
        )
    return str(folder)


def write_coco(folder):
    os.makedirs(folder)
    coco = {"images": [], "annotations": [], "categories": [{"id": i + 1, "name": n} for i, n in enumerate(NAMES)]}
    for index, (name, image, boxes, labels) in enumerate(_images()):
        Image.fromarray(image).save(folder / f"{name}.png")
        coco["images"].append({"id": index, "file_name": f"{name}.png", "width": 64, "height": 64})
        for box, label in zip(boxes, labels):
            ymin, xmin, ymax, xmax = (float(v) * 64 for v in box)
            coco["annotations"].append({
                "id": len(coco["annotations"]) + 1, "image_id": index, "category_id": int(label) + 1,
                "bbox": [xmin, ymin, xmax - xmin, ymax - ymin], "iscrowd": 0,
            })  # fmt: skip
    (folder / "train.json").write_text(json.dumps(coco))
    return str(folder / "train.json")


def write_records(folder):
    os.makedirs(folder)
    examples = [
        {"image": image, "image/filename": name,
         "objects": {"bbox": boxes, "label": labels.astype("int64"),
                     "weight": np.where(labels == 0, 0.5, 1.0).astype("float32")}}
        for name, image, boxes, labels in _images()
    ]  # fmt: skip
    write_tfrecord(str(folder / "train-00000-of-00001.tfrecord"), examples, NAMES)
    write_label_map(str(folder / "label_map.pbtxt"), NAMES)
    return str(folder / "train-*.tfrecord"), str(folder / "label_map.pbtxt")


def _event_tags(folder):
    """The summary tags written to the TensorBoard event files in `folder`."""
    import tensorflow as tf

    tags = set()
    for name in os.listdir(folder):
        for record in tf.data.TFRecordDataset(os.path.join(folder, name)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            tags.update(value.tag for value in event.summary.value)
    return tags


def _history(output_dir):
    with open(os.path.join(output_dir, "history.csv")) as file:
        return list(csv.DictReader(file))


@pytest.mark.long_running(seconds=30)
@pytest.mark.parametrize("source", ["voc", "coco", "tfrecord"])
def test_train_one_epoch_from_own_data_then_evaluate(tmp_path, capsys, monkeypatch, backbone_file, source):
    extra = []
    if source == "voc":
        data = ["--data", write_voc(tmp_path / "voc"), "--classes", ",".join(NAMES)]
    elif source == "coco":
        data = ["--data", write_coco(tmp_path / "coco")]
        # A backbone weights file on disk, frozen: the trained model keeps its values.
        backbone = keras.saving.load_model(backbone_file)
        for variable in backbone.weights:
            variable.assign(np.full(variable.shape, 0.01, "float32"))
        backbone.save_weights(str(tmp_path / "backbone.weights.h5"))
        extra = ["--backbone-weights", str(tmp_path / "backbone.weights.h5"), "--freeze-backbone"]
    else:
        records, label_map = write_records(tmp_path / "records")
        data = ["--data", records, "--label-map", label_map]
        extra = ["--loss", "focal", "--tensorboard"]
        with monkeypatch.context() as patch:  # without the package: an error before any work
            patch.setitem(sys.modules, "tensorboard", None)
            assert main(["train", *data, "--output-dir", str(tmp_path / "tb"), "--tensorboard"]) == 1
            assert "need the tensorboard package" in capsys.readouterr().err
            assert not os.path.exists(tmp_path / "tb" / "history.csv")
    output_dir = str(tmp_path / "run")
    command = ["train", *data, "--output-dir", output_dir, *QUICK, "--backbone", backbone_file, *extra]
    assert main([*command, "--class-weights", "circle=2,ring=0.5"]) == 0
    out = capsys.readouterr().out
    # The statistics table of the 6 training images (2 of 8 held out), with the weights.
    assert "class weight" in out and "6 images" in out
    assert "\nepoch 1 val AP50: circle" in out  # a line of its own, after the progress bar
    assert "Validation: 2 of 8 images held out (--val-fraction 0.25, seed 0), stratified by class" in out
    assert f"the best by validation AP50 to {os.path.join(output_dir, 'best_model.keras')}" in out
    rows = _history(output_dir)
    assert [row["epoch"] for row in rows] == ["0"]
    assert {"loss", "val_loss", "val_AP", "val_AP50", "val_AP50/circle", "val_AP50/ring"} <= set(rows[0])
    assert os.path.getsize(os.path.join(output_dir, "best_model.keras")) > 1000
    model = keras.saving.load_model(os.path.join(output_dir, "model.keras"))
    assert model.class_names == NAMES and model.image_size == 64
    assert model.class_weights == [2.0, 1.0, 1.0, 1.0, 0.5]
    if "--tensorboard" in extra:
        # TensorBoard events: the training loss, and the per-class AP with the validation logs.
        assert "epoch_loss" in _event_tags(os.path.join(output_dir, "logs", "train"))
        assert {"epoch_AP50", "epoch_AP50/circle"} <= _event_tags(os.path.join(output_dir, "logs", "validation"))
    if source == "tfrecord":
        assert type(model.classification_loss).__name__ == "SigmoidFocalClassificationLoss"
    if source == "coco":
        backbone = next(layer for layer in model.feature_extractor.layers if isinstance(layer, keras.Model))
        for variable in backbone.weights:
            np.testing.assert_array_equal(variable.numpy(), np.full(variable.shape, 0.01, "float32"))
    # evaluate reads the result on the same data.
    evaluation = ["--output-dir", str(tmp_path / "evaluation")]
    assert main(["evaluate", "--model", os.path.join(output_dir, "model.keras"), *data, "--batch-size", "4",
                 *evaluation]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "COCO: AP " in out and all(name in out for name in NAMES)
    if source == "tfrecord":
        # More epochs in total continue the finished run from model.keras, in the same history.
        assert main([*command, "--epochs", "2"]) == 0
        assert "Continuing the finished run" in capsys.readouterr().out
        assert [row["epoch"] for row in _history(output_dir)] == ["0", "1"]
    if source == "voc":
        # A finished run is never trained over: an error saying how to go on, nothing changed.
        assert main(command) == 1
        err = capsys.readouterr().err
        assert "holds a finished run of 1 epochs" in err and "--epochs 11" in err
        assert len(_history(output_dir)) == 1


def test_every_writing_command_refuses_an_unwritable_output_before_work(tmp_path, capsys):
    blocker = tmp_path / "file.txt"
    blocker.write_text("a file where a folder should be")
    inside = str(blocker / "out")
    commands = {
        "train": ["train", "--output-dir", inside, "--data", str(tmp_path / "missing")],
        "stats": ["stats", "synthetic_shapes", "--plot", str(blocker / "counts.png")],
        "evaluate": ["evaluate", "--model", "m.keras", "--data", "synthetic_shapes", "--output-dir", inside],
        "predict": ["predict", "x.png", "--model", "m.keras", "--output-dir", inside],
        "export": ["export", "--model", "m.keras", "--out", inside],
        "export tflite": ["export", "--model", "m.keras", "--out", inside + ".tflite", "--format", "tflite"],
    }
    for name, argv in commands.items():
        assert main(argv) == 1, name
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "is a file, not a folder" in lines[0], (name, err)
        assert lines[0].startswith(f"keras-ssd {argv[0]}: error: cannot write")
    if os.geteuid() != 0:  # root writes into read-only folders
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        assert main(["train", "--output-dir", str(locked / "run")]) == 1
        assert "no write permission" in capsys.readouterr().err


def test_train_data_errors_are_one_line(tmp_path, capsys):
    folder = write_voc(tmp_path / "voc")
    assert main(["train", "--data", folder, "--split", "val", "--output-dir", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert "has no split 'val': it has no ImageSets/Main/<split>.txt" in err and "Traceback" not in err
    assert main(["train", "--data", folder, "--val-fraction", "0.2", "--val-data", folder,
                 "--output-dir", str(tmp_path / "run")]) == 1  # fmt: skip
    assert "not both" in capsys.readouterr().err
    assert main(["train", "--data", folder, "--class-weights", "circle=1,2", "--output-dir", str(tmp_path / "run")]) == 1
    assert "mix named (name=value) and positional values" in capsys.readouterr().err
    # Validation data must have the training data's classes, in the same order.
    other = tmp_path / "other"
    os.makedirs(other)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(other / "a.png")
    (other / "a.xml").write_text(
        "<annotation><filename>a.png</filename><object><name>ring</name><bndbox><xmin>1</xmin>"
        "<ymin>1</ymin><xmax>4</xmax><ymax>4</ymax></bndbox></object></annotation>"
    )
    assert main(["train", "--data", folder, "--val-data", str(other), "--output-dir", str(tmp_path / "run")]) == 1
    assert "has classes ['ring'], the training data ['circle', 'cross', 'ring', 'square', 'triangle']" in (
        capsys.readouterr().err
    )
    assert not os.path.exists(tmp_path / "run" / "history.csv")


def test_val_fraction_holds_out_the_same_images_as_split_by_fraction(tmp_path):
    from keras_ssd.cli import build_parser
    from keras_ssd.cli.train import _train_and_validation_data
    from keras_ssd.data.splits import split_by_fraction
    from keras_ssd.data.voc_xml import load_voc_xml

    folder = write_voc(tmp_path / "voc")
    args = build_parser().parse_args(
        ["train", "--data", folder, "--classes", ",".join(NAMES), "--val-fraction", "0.25", "--seed", "3"]
    )
    _, _, _, validation, _ = _train_and_validation_data(args)
    examples, _ = load_voc_xml(folder, class_names=NAMES, load_images=False)
    _, held_out = split_by_fraction(examples, 0.25, seed=3)  # the labels read from the examples

    def names(dataset):
        return [name.decode() for name in dataset.map(lambda e: e["image/filename"]).as_numpy_iterator()]

    assert names(validation) == names(held_out) and len(names(held_out)) == 2
