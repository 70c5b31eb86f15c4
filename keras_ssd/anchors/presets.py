"""Anchor configurations of the published SSD models, kept in one place."""

# Caffe SSD300 (Liu et al. 2016, VGG16): min sizes 30..264 px and the last max size 315 px
# on a 300 px image, written as fractions of the image side.
SSD300 = {
    "feature_map_sizes": [38, 19, 10, 5, 3, 1],
    "aspect_ratios": [[2], [2, 3], [2, 3], [2, 3], [2], [2]],
    "scales": [s / 300.0 for s in (30, 60, 111, 162, 213, 264, 315)],
    "steps": [8, 16, 32, 64, 100, 300],
    "image_size": 300,
}

# Caffe SSD512: min sizes 35.84..460.8 px and the last max size 537.6 px on 512 px;
# {2, 3} on the 4x4 map too: 24564 boxes (paper, Table 7).
SSD512 = {
    "feature_map_sizes": [64, 32, 16, 8, 4, 2, 1],
    "aspect_ratios": [[2], [2, 3], [2, 3], [2, 3], [2, 3], [2], [2]],
    "scales": [s / 512.0 for s in (35.84, 76.8, 153.6, 230.4, 307.2, 384.0, 460.8, 537.6)],
    "steps": [8, 16, 32, 64, 128, 256, 512],
    "image_size": 512,
}

ANCHOR_PRESETS = {"ssd300": SSD300, "ssd512": SSD512}
