"""Tests of the class statistics, their table and chart, and `keras-ssd stats`."""

import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_ssd.cli import main
from keras_ssd.data.class_statistics import ClassStatistics
from keras_ssd.data.class_statistics import class_statistics
from keras_ssd.data.class_statistics import format_statistics_table
from keras_ssd.data.class_statistics import plot_class_counts
from keras_ssd.data.sources import load_examples
from keras_ssd.data.class_weights import compute_class_weights

CLASS_NAMES = ["cat", "dog", "bird"]
# (labels, difficult, iscrowd) per image.
IMAGES = [
    ([0, 0, 1], [False, True, False], [False, False, True]),
    ([], [], []),
    ([1], [False], [False]),
    ([0, 1, 1, 1], [False, False, False, True], [False, False, False, False]),
]


def _dataset(with_flags=True):
    def generate():
        for index, (labels, difficult, iscrowd) in enumerate(IMAGES):
            objects = {
                "bbox": np.full((len(labels), 4), [0.1, 0.1, 0.5, 0.5], np.float32),
                "label": np.asarray(labels, np.int64),
            }
            if with_flags:
                objects["difficult"] = np.asarray(difficult, bool)
                objects["iscrowd"] = np.asarray(iscrowd, bool)
            yield {"image/filename": f"{index}.jpg", "objects": objects}

    objects_signature = {
        "bbox": tf.TensorSpec((None, 4), tf.float32),
        "label": tf.TensorSpec((None,), tf.int64),
    }
    if with_flags:
        objects_signature["difficult"] = tf.TensorSpec((None,), tf.bool)
        objects_signature["iscrowd"] = tf.TensorSpec((None,), tf.bool)
    return tf.data.Dataset.from_generator(
        generate,
        output_signature={"image/filename": tf.TensorSpec((), tf.string), "objects": objects_signature},
    )


def test_counts_by_hand():
    stats = class_statistics(_dataset(), CLASS_NAMES, verbose=0)
    assert stats.class_names == CLASS_NAMES
    assert stats.num_boxes.tolist() == [3, 5, 0]
    assert stats.num_images.tolist() == [2, 3, 0]
    assert stats.num_difficult.tolist() == [1, 1, 0]
    assert stats.num_crowd.tolist() == [0, 1, 0]
    assert stats.num_images_total == 4 and stats.num_images_without_boxes == 1
    assert stats.num_boxes.dtype == np.int64


def test_flags_are_optional_and_the_progress_bar_shows(capsys):
    stats = class_statistics(_dataset(with_flags=False), CLASS_NAMES, verbose=1)
    assert stats.num_boxes.tolist() == [3, 5, 0]
    assert stats.num_difficult.tolist() == [0, 0, 0] and stats.num_crowd.tolist() == [0, 0, 0]
    assert "4/Unknown" in capsys.readouterr().out  # from_generator: no known size
    # A known size draws its bar to the end once, not a second identical one.
    known = _dataset(with_flags=False).apply(tf.data.experimental.assert_cardinality(4))
    class_statistics(known, CLASS_NAMES, verbose=1)
    assert capsys.readouterr().out.count("4/4") == 1


def test_bad_input_raises():
    with pytest.raises(ValueError, match=r"class_statistics: 0.jpg: label 1 is outside \[0, num_classes=1\) \(1 of 3 boxes\)"):
        class_statistics(_dataset(), ["cat"], verbose=0)
    with pytest.raises(ValueError, match=r"expected unbatched examples with example\['objects'\]\['label'\]"):
        class_statistics(tf.data.Dataset.range(3), CLASS_NAMES, verbose=0)


def _stats():
    return ClassStatistics(
        class_names=["cat", "dog"],
        num_boxes=np.int64([30, 10]),
        num_images=np.int64([5, 8]),
        num_difficult=np.int64([1, 0]),
        num_crowd=np.int64([0, 2]),
        num_images_total=12,
        num_images_without_boxes=2,
    )


def test_table_has_counts_shares_and_one_column_per_method():
    stats = _stats()
    weights = {method: compute_class_weights(stats.num_boxes, method=method) for method in ("inverse", "log")}
    table = format_statistics_table(stats, weights)
    lines = table.splitlines()
    assert lines[0].split() == ["class", "boxes", "%", "boxes", "images", "difficult", "crowd", "inverse", "log"]
    # inverse: 1/30 and 1/10 scaled to a box-weighted mean of 1 -> 2/3 and 2.
    assert lines[2].split() == ["cat", "30", "75.0", "5", "1", "0", "0.6667", f"{weights['log'][0]:.4g}"]
    assert lines[3].split() == ["dog", "10", "25.0", "8", "0", "2", "2", f"{weights['log'][1]:.4g}"]
    assert lines[5].split() == ["total", "40", "100.0", "10", "1", "2"]
    assert lines[6] == "12 images, 2 without boxes."
    assert format_statistics_table(stats).splitlines()[0].split()[-1] == "crowd"
    with pytest.raises(ValueError, match="method 'inverse' gives 1 weights for 2 classes"):
        format_statistics_table(stats, {"inverse": [1.0]})


def test_chart_has_two_bars_per_class(tmp_path):
    path = tmp_path / "counts.png"
    figure = plot_class_counts(_stats(), str(path))
    assert path.stat().st_size > 0
    assert Image.open(path).format == "PNG"
    (axes,) = figure.axes
    heights = [patch.get_height() for patch in axes.patches]
    assert heights == [30, 10, 5, 8]  # boxes, then images
    assert [label.get_text() for label in axes.get_xticklabels()] == ["cat", "dog"]
    plot_class_counts(_stats(), str(tmp_path / "log.png"), log_scale=True)
    assert (tmp_path / "log.png").exists()


def test_chart_shows_the_suggested_weights_on_a_second_axis(tmp_path):
    figure = plot_class_counts(_stats(), str(tmp_path / "weights.png"), weights=[0.4, 2.2])
    bars, weights = figure.axes
    assert len(bars.patches) == 4
    (line,) = weights.lines
    assert list(line.get_ydata()) == [0.4, 2.2]
    assert [text.get_text() for text in weights.texts] == ["0.40", "2.20"]
    with pytest.raises(ValueError, match="one weight per class"):
        plot_class_counts(_stats(), str(tmp_path / "bad.png"), weights=[1.0])


def _small_voc(root):
    os.makedirs(root / "Annotations")
    os.makedirs(root / "JPEGImages")
    objects = {"a": [("dog", 2, 2, 10, 10), ("cat", 1, 1, 5, 5), ("dog", 3, 3, 9, 9)], "b": [("dog", 4, 4, 12, 8)], "c": []}
    for stem, boxes in objects.items():
        Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(root / "JPEGImages" / f"{stem}.jpg")
        parts = "".join(
            f"<object><name>{name}</name><difficult>0</difficult><bndbox><xmin>{x0}</xmin>"
            f"<ymin>{y0}</ymin><xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>"
            for name, x0, y0, x1, y1 in boxes
        )
        (root / "Annotations" / f"{stem}.xml").write_text(
            f"<annotation><filename>{stem}.jpg</filename><size><width>16</width>"
            f"<height>16</height><depth>3</depth></size>{parts}</annotation>"
        )


def test_statistics_of_a_reader_dataset(tmp_path):
    _small_voc(tmp_path)
    dataset, class_names = load_examples(str(tmp_path), load_images=False)
    stats = class_statistics(dataset, class_names, verbose=0)
    assert class_names == ["cat", "dog"]
    assert stats.num_boxes.tolist() == [1, 3] and stats.num_images.tolist() == [1, 2]
    assert stats.num_images_without_boxes == 1


def test_cli_stats_prints_table_and_weights_and_saves_the_chart(tmp_path, capsys, monkeypatch):
    voc = tmp_path / "voc"
    _small_voc(voc)
    # Pixels are never read: a corrupt image does not matter to the statistics.
    (voc / "JPEGImages" / "b.jpg").write_bytes(b"not an image")
    monkeypatch.chdir(tmp_path)  # the chart's default place
    status = main(["stats", str(voc)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    lines = captured.out.splitlines()
    header = next(line for line in lines if line.startswith("class"))
    assert header.split()[-4:] == ["inverse", "sqrt_inverse", "effective_number", "log"]
    cat = next(line for line in lines if line.startswith("cat ")).split()
    dog = next(line for line in lines if line.startswith("dog ")).split()
    assert cat[:6] == ["cat", "1", "25.0", "1", "0", "0"] and dog[:4] == ["dog", "3", "75.0", "2"]
    # inverse: 1/1 and 1/3 at a box-weighted mean of 1 -> 2 and 2/3.
    assert cat[6] == "2" and dog[6] == "0.6667"
    assert "3 images, 1 without boxes." in captured.out
    # ... but the images train would refuse are named, with the flag that skips them.
    assert "note: load_voc_xml: unusable images, of 3 annotation files:" in captured.err
    assert "b.jpg is not a readable image" in captured.err and "--skip-invalid" in captured.err
    assert (tmp_path / "class_counts.png").stat().st_size > 0


def test_cli_stats_reports_bad_data_without_a_traceback(tmp_path, capsys):
    assert main(["stats", str(tmp_path / "nowhere.txt")]) == 1
    assert "keras-ssd stats: error: cannot tell what" in capsys.readouterr().err
    voc = tmp_path / "voc"
    _small_voc(voc)
    (voc / "Annotations" / "b.xml").write_text("<annotation>")
    assert main(["stats", str(voc), "--plot", str(tmp_path / "x.png")]) == 1
    assert "Annotations/b.xml: malformed XML" in capsys.readouterr().err
    with pytest.warns(UserWarning, match="1 malformed annotations"):
        assert main(["stats", str(voc), "--skip-invalid", "--plot", str(tmp_path / "x.png")]) == 0
    assert "2 images, 1 without boxes." in capsys.readouterr().out
