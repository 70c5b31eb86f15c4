import math

import numpy as np
import pytest

from keras_ssd.anchors.anchor_generator import AnchorGenerator
from keras_ssd.anchors.presets import SSD300, SSD512


def test_ssd300_has_8732_anchors():
    generator = AnchorGenerator(**SSD300)
    assert generator().shape == (8732, 4)
    assert generator.num_anchors == 8732
    assert generator.num_anchors_per_location() == [4, 6, 6, 6, 4, 4]


def test_ssd512_has_the_papers_24564_anchors():
    generator = AnchorGenerator(**SSD512)
    assert generator().shape == (24564, 4)
    # 64² x 4 + (32² + 16² + 8² + 4²) x 6 + (2² + 1) x 4 (paper, Table 7)
    assert generator.num_anchors == 64 * 64 * 4 + (32 * 32 + 16 * 16 + 64 + 16) * 6 + 5 * 4


def test_explicit_box_shapes_replace_ratios_and_scales():
    generator = AnchorGenerator([2, 1], box_shapes=[[[0.1, 0.2]], [[0.5, 0.5], [0.25, 1.0]]])
    assert generator.num_anchors_per_location() == [1, 2]
    anchors = generator()
    assert anchors.shape == (6, 4)
    np.testing.assert_allclose(anchors[0], [0.2, 0.15, 0.3, 0.35], atol=1e-6)
    np.testing.assert_allclose(anchors[5], [0.375, 0.0, 0.625, 1.0], atol=1e-6)
    revived = AnchorGenerator.from_config(generator.get_config())
    np.testing.assert_array_equal(revived(), anchors)


def test_one_layer_by_hand():
    # A 2x2 map, scale 0.5, next scale 1.0, ratio 2: centres at 0.25 and 0.75.
    anchors = AnchorGenerator([2], aspect_ratios=[[2]], scales=[0.5, 1.0])()
    assert anchors.shape == (16, 4)
    first_cell = anchors[:4]
    root2 = math.sqrt(2.0)
    extra = math.sqrt(0.5 * 1.0)
    expected_hw = [(0.5, 0.5), (extra, extra), (0.5 / root2, 0.5 * root2), (0.5 * root2, 0.5 / root2)]
    for box, (height, width) in zip(first_cell, expected_hw):
        np.testing.assert_allclose(box, [0.25 - height / 2, 0.25 - width / 2, 0.25 + height / 2, 0.25 + width / 2], atol=1e-6)
    centres = (anchors[:, :2] + anchors[:, 2:]) / 2
    np.testing.assert_allclose(centres[::4], [[0.25, 0.25], [0.25, 0.75], [0.75, 0.25], [0.75, 0.75]], atol=1e-6)


def test_linear_scales_follow_the_paper():
    generator = AnchorGenerator([8, 4, 2, 1], min_scale=0.2, max_scale=0.9)
    np.testing.assert_allclose(generator.layer_scales(), [0.2, 0.2 + 0.7 / 3, 0.2 + 1.4 / 3, 0.9, 1.0])


def test_step_based_centres_match_caffe():
    anchors = AnchorGenerator(**SSD300)()
    # First box of the first 38x38 cell: centre 0.5 * 8 / 300, side 30 / 300.
    np.testing.assert_allclose(anchors[0], [4 / 300 - 15 / 300, 4 / 300 - 15 / 300, 4 / 300 + 15 / 300, 4 / 300 + 15 / 300], atol=1e-6)
    # The second box of the last (1x1) map is the extra box sqrt(264 * 315) / 300.
    side = math.sqrt(264 * 315) / 300
    np.testing.assert_allclose(anchors[-3], [0.5 - side / 2, 0.5 - side / 2, 0.5 + side / 2, 0.5 + side / 2], atol=1e-6)


def test_clip_keeps_boxes_inside():
    anchors = AnchorGenerator([2], scales=[0.9, 1.0], clip=True)()
    assert anchors.min() >= 0.0 and anchors.max() <= 1.0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"feature_map_sizes": []}, "at least one"),
        ({"feature_map_sizes": [4, 2], "aspect_ratios": [[2]]}, "one list of ratios per map"),
        ({"feature_map_sizes": [4], "aspect_ratios": [[0.5]]}, "must be > 1"),
        ({"feature_map_sizes": [4], "scales": [0.1]}, "needs 2 values"),
        ({"feature_map_sizes": [4], "steps": [8]}, "needs `image_size`"),
        ({"feature_map_sizes": [4], "min_scale": 0.9, "max_scale": 0.2}, "min_scale <= max_scale"),
        ({"feature_map_sizes": [4], "box_shapes": [[[0.1, 0.1]], [[0.2, 0.2]]]}, "2 entries for 1"),
        ({"feature_map_sizes": [4], "box_shapes": [[[0.1, -0.1]]]}, "positive numbers"),
    ],
)
def test_bad_configuration(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AnchorGenerator(**kwargs)
