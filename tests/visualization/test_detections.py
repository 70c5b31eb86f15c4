import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from keras_ssd.visualization import draw_boxes, plot_detections

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _batched_detections():
    """The `SSD.predict` layout: 3 images, padded to 4 rows, 2, 0 and 3 valid."""
    boxes = np.full((3, 4, 4), -1.0, np.float32)
    classes = np.full((3, 4), -1, np.int32)
    confidence = np.full((3, 4), -1.0, np.float32)
    boxes[0, :2] = [[0.1, 0.1, 0.5, 0.5], [0.5, 0.5, 0.9, 0.9]]
    classes[0, :2], confidence[0, :2] = [0, 1], [0.9, 0.4]
    boxes[2, :3] = [[0.0, 0.0, 1.0, 1.0], [0.2, 0.2, 0.4, 0.4], [0.6, 0.1, 0.8, 0.3]]
    classes[2, :3], confidence[2, :3] = [2, 2, 0], [0.8, 0.7, 0.2]
    return {"boxes": boxes, "classes": classes, "confidence": confidence, "num_detections": np.array([2, 0, 3])}


def test_draw_boxes_places_rectangles_in_pixels():
    figure = Figure()
    ax = figure.add_subplot()
    ax.imshow(np.zeros((40, 80, 3), np.uint8))
    count = draw_boxes(ax, [[0.25, 0.5, 0.75, 1.0], [0.0, 0.0, 0.1, 0.1]], [1, -1], [0.5, 0.9], ["a", "b"])
    assert count == 1 and len(ax.patches) == 1
    rectangle = ax.patches[0]
    assert isinstance(rectangle, Rectangle)
    assert rectangle.get_xy() == pytest.approx((39.5, 9.5))  # 0.5 * 80 - 0.5, 0.25 * 40 - 0.5
    assert (rectangle.get_width(), rectangle.get_height()) == pytest.approx((40.0, 20.0))
    assert [text.get_text() for text in ax.texts] == ["b 0.50"]


def test_gallery_draws_one_rectangle_per_kept_detection(tmp_path):
    images = np.random.default_rng(0).uniform(0, 255, (3, 32, 48, 3)).astype("float32")
    figure = plot_detections(images, _batched_detections(), ["cat", "dog", "bird"], columns=2)
    assert len(figure.axes) == 3
    assert [len(ax.patches) for ax in figure.axes] == [2, 0, 3]
    assert [ax.get_title() for ax in figure.axes] == ["2 detections", "0 detections", "3 detections"]
    assert figure.axes[0].texts[0].get_text() == "cat 0.90"
    thresholded = plot_detections(images, _batched_detections(), score_threshold=0.5)
    assert [len(ax.patches) for ax in thresholded.axes] == [1, 0, 2]
    figure.savefig(tmp_path / "gallery.png")
    assert (tmp_path / "gallery.png").read_bytes()[:8] == PNG_SIGNATURE


def test_gallery_accepts_one_grayscale_image_and_a_list_of_dicts(tmp_path):
    image = np.full((20, 20), 128, np.uint8)
    detections = [{"boxes": [[0.1, 0.1, 0.9, 0.9]], "classes": [0], "scores": [0.6]}]
    figure = plot_detections(image, detections, titles=["gray"])
    assert len(figure.axes[0].patches) == 1
    assert figure.axes[0].get_title() == "gray (1 detection)"
    figure.savefig(tmp_path / "one.png")


def test_gallery_bad_input():
    with pytest.raises(ValueError, match="detections: 3 entries for 2 images"):
        plot_detections(np.zeros((2, 8, 8, 3)), _batched_detections())
    with pytest.raises(ValueError, match=r"Expected an image \[height, width\]"):
        plot_detections(np.zeros((8, 8, 5)), [{"boxes": [], "classes": []}])
    with pytest.raises(ValueError, match=r"detections\[0\]: needs 'boxes' and 'classes'"):
        plot_detections(np.zeros((8, 8, 3)), [{"boxes": []}])
