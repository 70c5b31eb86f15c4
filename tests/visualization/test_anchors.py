import numpy as np
import pytest

from keras_ssd.anchors.anchor_generator import AnchorGenerator
from keras_ssd.visualization import plot_anchors
from tests.conftest import tiny_ssd


def test_centre_cell_anchors_in_pixels(tmp_path):
    generator = AnchorGenerator([4, 2], aspect_ratios=[[2.0], [2.0, 3.0]], scales=[0.25, 0.5, 1.0])
    image = np.zeros((100, 100, 3), np.uint8)
    figure = plot_anchors(generator, level=0, image=image)
    ax = figure.axes[0]
    assert len(ax.patches) == 4  # 1:1, extra 1:1, 2 and 1/2 at cell (2, 2)
    first = ax.patches[0]  # 1:1 box of scale 0.25 centred at (0.625, 0.625)
    assert first.get_xy() == pytest.approx((0.5 * 100 - 0.5, 0.5 * 100 - 0.5))
    assert (first.get_width(), first.get_height()) == pytest.approx((25.0, 25.0))
    assert len(ax.lines) == 1 and len(ax.lines[0].get_xdata()) == 16  # every cell centre
    assert ax.get_title().startswith("feature map 0: 4x4 cells, 4 anchors per cell")
    figure.savefig(tmp_path / "anchors.png")


def test_all_cells_of_a_model_map():
    model = tiny_ssd(2)
    level = len(model.anchor_generator.feature_map_sizes) - 2  # the 2x2 map
    figure = plot_anchors(model, level=level, locations="all")
    per_cell = model.anchor_generator.num_anchors_per_location()[level]
    assert len(figure.axes[0].patches) == 4 * per_cell
    assert figure.axes[0].images[0].get_array().shape[:2] == (64, 64)


def test_bad_input():
    generator = AnchorGenerator([4])
    with pytest.raises(ValueError, match=r"level must be an int in \[0, 1\)"):
        plot_anchors(generator, level=1)
    with pytest.raises(ValueError, match=r"Location \(4, 0\) is outside feature map 0 of 4x4"):
        plot_anchors(generator, locations=[(4, 0)])
    with pytest.raises(ValueError, match="locations must be a list"):
        plot_anchors(generator, locations="centre")
