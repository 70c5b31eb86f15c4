"""The default boxes (anchors) of one feature map drawn on an image."""

import numpy as np
from matplotlib.patches import Rectangle

from keras_ssd.visualization._style import new_figure, show_image


def plot_anchors(model, level=0, image=None, locations=None):
    """Draws the anchors of some cells of one feature map, and all its cell centres.

    Args:
        model: a `keras_ssd.SSD` (its `anchor_generator` and `image_size`) or an
            `AnchorGenerator` (then pass `image` for the picture size).
        level: int. Feature map index, 0 = finest. Defaults to 0.
        image: optional image `[h, w, 3]` in `[0, 255]`; defaults to a grey image
            of the model's (or generator's) `image_size`, else 300 px square.
        locations: list of `(row, column)` cells whose anchors are drawn, or
            `"all"`. Defaults to the centre cell.

    Returns:
        A matplotlib `Figure` with one axis: one `Rectangle` per anchor drawn
        (`ax.patches`, `anchors per cell × len(locations)`) and one line of
        markers for the cell centres (`ax.lines`).

    Raises:
        ValueError: `level` or a location outside the feature map.
    """
    generator = getattr(model, "anchor_generator", model)
    sizes = generator.feature_map_sizes
    if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level < len(sizes):
        raise ValueError(f"level must be an int in [0, {len(sizes)}), got {level!r}.")
    size = sizes[level]
    map_height, map_width = (size, size) if isinstance(size, int) else size
    per_cell = generator.num_anchors_per_location()[level]
    anchors = generator.anchors_per_level()[level].reshape(map_height, map_width, per_cell, 4)
    if image is None:
        size = getattr(model, "image_size", None) or 300  # an AnchorGenerator's may be None
        height, width = (size, size) if isinstance(size, int) else size
        image = np.full((int(height), int(width), 3), 200, np.uint8)
    if locations is None:
        locations = [(map_height // 2, map_width // 2)]
    elif isinstance(locations, str):
        if locations != "all":
            raise ValueError(f"locations must be a list of (row, column) or 'all', got {locations!r}.")
        locations = [(row, column) for row in range(map_height) for column in range(map_width)]
    for row, column in locations:
        if not (0 <= row < map_height and 0 <= column < map_width):
            raise ValueError(
                f"Location ({row}, {column}) is outside feature map {level} of "
                f"{map_height}x{map_width} cells."
            )

    figure = new_figure(5.0, 5.0)
    ax = figure.add_subplot(1, 1, 1)
    height, width = show_image(ax, image)
    centres = (anchors[..., 0, :2] + anchors[..., 0, 2:]) / 2.0
    ax.plot(
        centres[..., 1].ravel() * width - 0.5,
        centres[..., 0].ravel() * height - 0.5,
        linestyle="none",
        marker=".",
        markersize=3,
        color="black",
    )
    colors = [f"C{index % 10}" for index in range(per_cell)]
    for row, column in locations:
        for index, (ymin, xmin, ymax, xmax) in enumerate(anchors[row, column]):
            ax.add_patch(
                Rectangle(
                    (xmin * width - 0.5, ymin * height - 0.5),
                    (xmax - xmin) * width,
                    (ymax - ymin) * height,
                    fill=False,
                    edgecolor=colors[index],
                    linewidth=1.5,
                )
            )
    # Anchors of border cells reach outside the image; show them whole.
    drawn = anchors[[r for r, _ in locations], [c for _, c in locations]].reshape(-1, 4)
    ax.set_xlim(min(-0.5, drawn[:, 1].min() * width - 0.5), max(width - 0.5, drawn[:, 3].max() * width - 0.5))
    ax.set_ylim(max(height - 0.5, drawn[:, 2].max() * height - 0.5), min(-0.5, drawn[:, 0].min() * height - 0.5))
    scale = generator.layer_scales()[level]
    ax.set_title(
        f"feature map {level}: {map_height}x{map_width} cells, {per_cell} anchors per cell, "
        f"scale {scale:.2f}",
        fontsize=9,
    )
    return figure
