import math

import numpy as np
import pytest

from keras_ssd.metrics.coco_evaluation import DetectionReport
from keras_ssd.visualization import plot_per_class_ap


def _report(values):
    return DetectionReport(
        summary={},
        per_class=[
            {"class_id": i, "name": name, "num_boxes": 3, "AP": value, "AP50": min(1.0, 2 * value)}
            for i, (name, value) in enumerate(zip(["cat", "dog", "bird"], values))
        ],
    )


def test_two_runs_give_grouped_bars_of_their_values(tmp_path):
    figure = plot_per_class_ap(_report([0.2, 0.5, 0.1]), _report([0.3, 0.4, math.nan]),
                               labels=("unweighted", "weighted"))
    ax = figure.axes[0]
    assert len(ax.patches) == 6
    heights = [patch.get_height() for patch in ax.patches]
    np.testing.assert_allclose(heights, [0.2, 0.5, 0.1, 0.3, 0.4, 0.0])
    centres = [patch.get_x() + patch.get_width() / 2 for patch in ax.patches]
    np.testing.assert_allclose(centres, [-0.2, 0.8, 1.8, 0.2, 1.2, 2.2])
    assert [label.get_text() for label in ax.get_xticklabels()] == ["cat", "dog", "bird"]
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == ["unweighted (mean 0.267)", "weighted (mean 0.350)"]
    assert "n/a" in [text.get_text() for text in ax.texts]  # the NaN bar
    figure.savefig(tmp_path / "ap.png")


def test_one_run_from_a_dict_and_ap50_from_a_list():
    assert len(plot_per_class_ap({"a": 0.5, "b": 0.25}).axes[0].patches) == 2
    figure = plot_per_class_ap(_report([0.2, 0.5, 0.1]).per_class, metric="AP50")
    np.testing.assert_allclose([p.get_height() for p in figure.axes[0].patches], [0.4, 1.0, 0.2])
    assert figure.axes[0].get_ylabel() == "AP50"


def test_bad_input():
    with pytest.raises(ValueError, match="metric must be one of"):
        plot_per_class_ap({"a": 0.5}, metric="mAP")
    with pytest.raises(ValueError, match="the runs name different classes"):
        plot_per_class_ap({"a": 0.5}, {"b": 0.5})
    with pytest.raises(ValueError, match="must be a DetectionReport"):
        plot_per_class_ap([1, 2])
