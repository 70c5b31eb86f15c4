"""Shared helpers of the pictures: class colours, displayable images, per-image detections."""

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure


def new_figure(width, height):
    """A `Figure` not registered with pyplot: no global state, freed with its last reference."""
    return Figure(figsize=(width, height), layout="constrained")


def class_color(class_id):
    """An RGBA colour for a 0-based class id (tab10, then tab20 beyond ten classes)."""
    palette = colormaps["tab10"] if class_id < 10 else colormaps["tab20"]
    return palette(int(class_id) % palette.N)


def display_image(image):
    """`[h, w]`, `[h, w, 1]` or `[h, w, 3]` pixels in `[0, 255]` as uint8 for `imshow`.

    Raises:
        ValueError: another shape.
    """
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] not in (3, 4)):
        raise ValueError(
            f"Expected an image [height, width], [height, width, 1] or [height, width, 3], "
            f"got shape {image.shape}."
        )
    if image.dtype != np.uint8:
        image = np.clip(np.nan_to_num(image.astype(np.float32)), 0, 255).astype(np.uint8)
    return image


def show_image(ax, image):
    """Draws the image without axes; returns its `(height, width)`."""
    image = display_image(image)
    ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=255)
    ax.set_axis_off()
    return image.shape[:2]


def class_name(class_id, class_names):
    if class_names is not None and 0 <= class_id < len(class_names):
        return str(class_names[class_id])
    return str(int(class_id))


def per_image(detections, num_images, where="detections"):
    """Detections as one dict per image: `boxes` `[n, 4]`, `classes` `[n]`, `scores` `[n]`.

    Accepts the batched keras-cv dict of `SSD.predict` (`boxes`, `classes`, `confidence`,
    optional `num_detections`), the ground-truth dict of `SSD.fit` (`boxes`, `classes`
    with -1 padding) or a list of per-image dicts with `boxes`, `classes` and optionally
    `confidence` or `scores`. Rows with class -1 (padding) are dropped.

    Raises:
        ValueError: the number of images differs or keys are missing.
    """
    if isinstance(detections, dict):
        boxes = np.asarray(detections.get("boxes"))
        if boxes.ndim == 2:  # one image
            detections = [detections]
        else:
            if "boxes" not in detections or "classes" not in detections:
                raise ValueError(f"{where}: needs 'boxes' and 'classes', got keys {sorted(detections)}.")
            counts = detections.get("num_detections")
            counts = (
                np.full(boxes.shape[0], boxes.shape[1])
                if counts is None
                else np.asarray(counts).reshape(-1).astype(int)
            )
            scores = detections.get("confidence", detections.get("scores"))
            detections = [
                {
                    "boxes": boxes[i, : counts[i]],
                    "classes": np.asarray(detections["classes"])[i, : counts[i]],
                    **({} if scores is None else {"scores": np.asarray(scores)[i, : counts[i]]}),
                }
                for i in range(boxes.shape[0])
            ]
    detections = list(detections)
    if len(detections) != num_images:
        raise ValueError(f"{where}: {len(detections)} entries for {num_images} images.")
    result = []
    for index, found in enumerate(detections):
        if "boxes" not in found or "classes" not in found:
            raise ValueError(f"{where}[{index}]: needs 'boxes' and 'classes', got keys {sorted(found)}.")
        boxes = np.asarray(found["boxes"], np.float32).reshape(-1, 4)
        classes = np.asarray(found["classes"]).reshape(-1).astype(np.int64)
        scores = found.get("confidence", found.get("scores"))
        scores = None if scores is None else np.asarray(scores, np.float32).reshape(-1)
        keep = classes >= 0
        result.append(
            {
                "boxes": boxes[keep],
                "classes": classes[keep],
                "scores": None if scores is None else scores[keep],
            }
        )
    return result


def as_image_batch(images):
    """One image or a batch as a list of images."""
    if isinstance(images, (list, tuple)):
        return list(images)
    images = np.asarray(images)
    if images.ndim == 4:
        return list(images)
    return [images]
