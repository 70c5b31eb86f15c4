"""A run's image sampling: the sampler of each choice, fixed-size epochs that resume exactly,
and `keras-ssd train --sampling`."""

import csv
import os
from collections import Counter

import numpy as np
import pytest
import tensorflow as tf

from keras_ssd.cli import main
from keras_ssd.cli.train import SAMPLINGS as CLI_SAMPLINGS
from keras_ssd.data.pipeline import training_epochs
from keras_ssd.data.repeat_factor_sampling import epoch_repeats
from keras_ssd.data.repeat_factor_sampling import repeat_factors
from keras_ssd.training.sampling import SAMPLINGS
from keras_ssd.training.sampling import epoch_sampler
from tests.conftest import tiny_backbone

# 8 images of 16 px: class 0 in six, class 1 in two; each image's id is its single box's xmin.
LABELS = [[0]] * 6 + [[1]] * 2


def _examples():
    def example(index):
        box = tf.stack([0.1, tf.cast(index, tf.float32) / 10.0, 0.9, tf.cast(index, tf.float32) / 10.0 + 0.1])
        label = tf.where(index < 6, 0, 1)
        return {"image": tf.zeros((16, 16, 3), tf.uint8),
                "objects": {"bbox": box[None], "label": tf.cast(label, tf.int64)[None]}}

    return tf.data.Dataset.range(8).map(example)


def _ids(batches):
    return [int(round(float(xmin) * 10)) for _, targets in batches for xmin in targets["boxes"][:, 0, 1].numpy()]


def test_the_command_line_knows_the_samplings():
    assert CLI_SAMPLINGS == SAMPLINGS


def test_each_sampling_says_what_an_epoch_holds():
    _, expected, line = epoch_sampler("repeat_factor", LABELS, seed=0, repeat_threshold=0.5)
    # f_1 = 2/8 -> r_1 = sqrt(0.5 / 0.25) = 1.414 for two images; six images of factor 1.
    assert expected == pytest.approx(6 + 2 * np.sqrt(2))
    assert line == ("Sampling: repeat_factor (threshold 0.5): about 8.8 images an epoch instead of 8 "
                    "(repeat factors 1.00 to 1.41).")  # fmt: skip
    _, expected, line = epoch_sampler("class_aware", LABELS, seed=0)
    assert expected == 8 and "every class drawn equally often" in line
    with pytest.raises(ValueError, match="sampling must be None or one of repeat_factor, class_aware"):
        epoch_sampler("oversample", LABELS, seed=0)


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_sampled_epochs_have_fixed_batches_and_a_resumed_run_replays_them(sampling):
    sampler, _, _ = epoch_sampler(sampling, LABELS, seed=4)
    options = {"seed": 4, "sampler": sampler, "steps_per_epoch": 3, "batch_size": 3, "shuffle": True}
    uninterrupted = list(training_epochs(_examples(), 16, epochs=4, **options))
    assert len(uninterrupted) == 12  # 4 epochs of exactly 3 batches
    resumed = list(training_epochs(_examples(), 16, epochs=4, initial_epoch=2, **options))
    assert _ids(resumed) == _ids(uninterrupted[6:])
    if sampling == "repeat_factor":
        # An epoch's batches hold the images its draw repeated, each at most as often as
        # drawn when the draw fills the 3 batches (9 images), all of them when it does not.
        for epoch in range(4):
            counts = epoch_repeats(repeat_factors(LABELS, 0.5), 4, epoch).numpy()
            seen = Counter(_ids(uninterrupted[3 * epoch : 3 * epoch + 3]))
            drawn = Counter({index: int(count) for index, count in enumerate(counts) if count})
            if counts.sum() >= 9:
                assert seen <= drawn and sum(seen.values()) == 9, (seen, drawn)
            else:
                assert set(seen) == set(drawn), (seen, drawn)
    else:
        # Class-aware: 8 draws an epoch, 4 of class 1's two images (ids 6 and 7).
        first_epoch = _ids(uninterrupted[:3])[:8]
        assert sum(index >= 6 for index in first_epoch) == 4


def test_keras_ssd_train_samples_class_aware(tmp_path, capsys):
    backbone = str(tmp_path / "tiny.keras")
    tiny_backbone().save(backbone)
    status = main([
        "train", "--data", "synthetic_shapes/tiny", "--data-dir", str(tmp_path / "data"),
        "--output-dir", str(tmp_path / "run"), "--epochs", "1", "--image-size", "64", "--batch-size", "10",
        "--backbone", backbone, "--sampling", "class_aware", "--no-augment",
    ])  # fmt: skip
    assert status == 0
    out = capsys.readouterr().out
    assert "Sampling: class_aware: 20 images an epoch, every class drawn equally often." in out
    with open(os.path.join(tmp_path, "run", "history.csv")) as file:
        assert np.isfinite(float(next(csv.DictReader(file))["loss"]))
