"""Ground truth next to predictions, one row per image."""

from keras_ssd.visualization._style import as_image_batch, new_figure, per_image, show_image
from keras_ssd.visualization.detections import draw_boxes


def plot_ground_truth_vs_prediction(
    images, ground_truth, detections, class_names=None, score_threshold=0.0
):
    """Ground-truth boxes (left, dashed) and detections (right), one row per image.

    Args:
        images: one image or a batch / list of images, pixels in `[0, 255]`.
        ground_truth: the `SSD.fit` targets (`boxes` `[n, max_boxes, 4]` normalised
            yxyx, `classes` with -1 padding) or a list of per-image dicts.
        detections: the `SSD.predict` dict or a list of per-image dicts.
        class_names: optional list of names.
        score_threshold: float. Detections under it are not drawn. Defaults to 0.

    Returns:
        A matplotlib `Figure` with `2 × images` axes in row order (ground truth,
        prediction, ground truth, ...), one `Rectangle` per drawn box.
    """
    images = as_image_batch(images)
    if not images:
        raise ValueError("plot_ground_truth_vs_prediction: no images.")
    truth = per_image(ground_truth, len(images), where="ground_truth")
    found = per_image(detections, len(images), where="detections")
    figure = new_figure(6.4, 3.2 * len(images))
    for row, image in enumerate(images):
        left = figure.add_subplot(len(images), 2, 2 * row + 1)
        shape = show_image(left, image)
        count = draw_boxes(
            left, truth[row]["boxes"], truth[row]["classes"], None, class_names,
            image_shape=shape, linestyle="--",
        )
        left.set_title(f"ground truth ({count})", fontsize=9)
        right = figure.add_subplot(len(images), 2, 2 * row + 2)
        show_image(right, image)
        count = draw_boxes(
            right, found[row]["boxes"], found[row]["classes"], found[row]["scores"], class_names,
            image_shape=shape, score_threshold=score_threshold,
        )
        right.set_title(f"prediction ({count})", fontsize=9)
    return figure
