"""Tests of loading the embedded dataset: default folder, reuse, no network."""

import os
import socket

import numpy as np
import pytest

from keras_ssd.data import embedded
from keras_ssd.data.embedded import default_data_dir
from keras_ssd.data.embedded import load_synthetic_shapes
from keras_ssd.data.pipeline import count_boxes_per_class
from keras_ssd.data.pipeline import to_detection_inputs
from keras_ssd.data.synthetic_shapes import CLASS_NAMES
from keras_ssd.data.synthetic_shapes import SyntheticShapes
from keras_ssd.data.synthetic_shapes import example_seed
from keras_ssd.data.synthetic_shapes import render_example


@pytest.fixture
def no_network(monkeypatch):
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access attempted in an offline test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield attempts
    assert attempts == [], f"tried to reach the network: {attempts}"


@pytest.fixture
def fresh_cache(monkeypatch):
    monkeypatch.setattr(embedded, "_BUILDERS", {})


def _filenames(dataset):
    return [example["image/filename"].numpy().decode() for example in dataset]


def test_default_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_SSD_DATA_DIR", str(tmp_path / "env"))
    assert default_data_dir() == str(tmp_path / "env")
    monkeypatch.delenv("KERAS_SSD_DATA_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_data_dir() == os.path.join(
        str(tmp_path / "home"), ".cache", "keras_ssd", "tensorflow_datasets"
    )


def test_load_prepares_once_into_the_env_data_dir(
    monkeypatch, tmp_path, no_network, fresh_cache
):
    monkeypatch.setenv("KERAS_SSD_DATA_DIR", str(tmp_path))
    dataset, class_names = load_synthetic_shapes("train", config="tiny")
    assert class_names == list(CLASS_NAMES)
    names = _filenames(dataset)
    assert sorted(names) == [f"train_{i:05d}.png" for i in range(20)]
    assert (tmp_path / "synthetic_shapes" / "tiny" / "1.0.0").is_dir()

    # Later calls, in this process or with a cold cache, read the disk.
    def must_not_generate(*args, **kwargs):
        raise AssertionError("the dataset was generated a second time")

    monkeypatch.setattr(SyntheticShapes, "_generate_examples", must_not_generate)
    again, _ = load_synthetic_shapes("train", data_dir=str(tmp_path), config="tiny")
    assert _filenames(again) == names  # a fixed order
    monkeypatch.setattr(embedded, "_BUILDERS", {})
    cold, _ = load_synthetic_shapes("validation[:3]", str(tmp_path), config="tiny")
    assert len(_filenames(cold)) == 3


def test_loaded_examples_feed_the_pipeline(tmp_path, no_network, fresh_cache):
    dataset, class_names = load_synthetic_shapes(
        "validation+test", data_dir=str(tmp_path), config="tiny"
    )
    example = next(iter(dataset))
    image, boxes, labels = render_example(
        example_seed(*example["image/filename"].numpy().decode()[:-4].split("_"))
    )
    np.testing.assert_array_equal(example["image"].numpy(), image)
    np.testing.assert_array_equal(example["objects"]["bbox"].numpy(), boxes)

    counts = count_boxes_per_class(dataset, len(class_names))
    assert counts.sum() == sum(
        len(render_example(example_seed(split, i))[2])
        for split in ("validation", "test")
        for i in range(8)
    )
    inputs = to_detection_inputs(dataset, 64, max_boxes=6, batch_size=16)
    batches = list(inputs)
    assert [len(batch[0]) for batch in batches] == [16]
    np.testing.assert_array_equal(count_boxes_per_class(inputs, 5), counts)
    assert batches[0][0].shape == (16, 64, 64, 3)


@pytest.mark.parametrize("split", ["training", "train[:5]+dev", 3])
def test_unknown_split(split, tmp_path):
    with pytest.raises(ValueError, match="split"):
        load_synthetic_shapes(split, data_dir=str(tmp_path), config="tiny")


def test_unknown_config(tmp_path):
    with pytest.raises(
        ValueError, match="unknown config 'huge'; expected one of default, tiny"
    ):
        load_synthetic_shapes("train", data_dir=str(tmp_path), config="huge")
