import numpy as np

from keras_ssd.visualization import plot_ground_truth_vs_prediction


def test_ground_truth_left_predictions_right(tmp_path):
    images = np.zeros((2, 32, 32, 3), np.uint8)
    ground_truth = {  # the SSD.fit layout, -1 = padding
        "boxes": np.array([[[0.1, 0.1, 0.5, 0.5], [0.5, 0.5, 0.9, 0.9], [0, 0, 0, 0]],
                           [[0.2, 0.2, 0.6, 0.6], [0, 0, 0, 0], [0, 0, 0, 0]]], np.float32),
        "classes": np.array([[0, 1, -1], [2, -1, -1]]),
    }
    detections = [
        {"boxes": [[0.1, 0.1, 0.5, 0.5]], "classes": [0], "confidence": [0.9]},
        {"boxes": [[0.2, 0.2, 0.6, 0.6], [0.0, 0.0, 0.2, 0.2]], "classes": [2, 1], "confidence": [0.8, 0.1]},
    ]
    figure = plot_ground_truth_vs_prediction(images, ground_truth, detections, ["a", "b", "c"],
                                             score_threshold=0.5)
    assert len(figure.axes) == 4
    assert [len(ax.patches) for ax in figure.axes] == [2, 1, 1, 1]
    assert [ax.get_title() for ax in figure.axes] == [
        "ground truth (2)", "prediction (1)", "ground truth (1)", "prediction (1)"
    ]
    assert figure.axes[0].patches[0].get_linestyle() == "--"  # ground truth is dashed
    assert figure.axes[1].patches[0].get_linestyle() == "-"
    assert [text.get_text() for text in figure.axes[0].texts] == ["a", "b"]
    figure.savefig(tmp_path / "comparison.png")
    assert (tmp_path / "comparison.png").stat().st_size > 1000
