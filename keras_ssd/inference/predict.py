"""`keras-ssd predict` and `keras-ssd export`: inference and export on files."""

import json
import os

import numpy as np

from keras_ssd.data.image_files import warn_oriented_images
from keras_ssd.utils.atomic_files import save_figure_atomically
from keras_ssd.utils.atomic_files import write_text_atomically

DETECTIONS_FILE = "detections.json"


def read_image(path):
    """Reads an image file as uint8 RGB `[height, width, 3]`.

    Grayscale, palette and 16-bit images are converted to RGB; images with an alpha
    channel are composited over white. The EXIF orientation is not applied: the
    stored pixels, as in training (TensorFlow's decoders ignore the tag), so a
    deployed model sees what it was trained on (`predict_files` warns about tagged
    images).

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: `path` is not an image that Pillow can read.
    """
    from PIL import Image, UnidentifiedImageError

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such image file.")
    try:
        with Image.open(path) as opened:
            opened.load()
            image = opened.copy()
    except UnidentifiedImageError:
        raise ValueError(
            f"{path}: not an image (Pillow cannot identify it). Give PNG, JPEG, BMP, GIF, "
            "TIFF or WebP files."
        ) from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ValueError(f"{path}: a damaged or unsupported image ({error}).") from None
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        # 16-bit or float grayscale: stretch to 8 bits instead of clipping at 255.
        pixels = np.asarray(image, np.float64)
        low, high = float(pixels.min()), float(pixels.max())
        pixels = (pixels - low) * (255.0 / (high - low)) if high > low else np.zeros_like(pixels)
        image = Image.fromarray(np.rint(pixels).astype(np.uint8), "L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "La", "RGBa", "PA"):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    return np.asarray(image.convert("RGB"), np.uint8)


def predict_files(image_paths, model_path, output_dir, score_threshold=0.5, class_names=None):
    """Detects objects in image files; writes annotated PNGs and `detections.json`.

    Every image is read (and checked) before the model is loaded, so a bad file stops
    the run at once, naming it.

    Args:
        image_paths: list of image file paths.
        model_path: a `.keras` file or an exported SavedModel directory.
        output_dir: str. Receives `<image name>.png` per image and `detections.json`.
        score_threshold: float in `[0, 1]`. Detections under it are dropped. The
            model's own threshold (baked into an export) still applies below it.
            Defaults to 0.5.
        class_names: optional names replacing the model's (one per class).

    Returns:
        dict. The content of `detections.json`: `model`, `class_names`,
        `score_threshold` and `images`, a list of `{"file", "output", "width",
        "height", "detections"}` with one `{"class_id", "class_name", "score",
        "box"}` per detection (`class_id` 0-based, `box` normalised
        `[ymin, xmin, ymax, xmax]`, as in `docs/conventions.md`).

    Raises:
        FileNotFoundError: a missing image or model.
        ValueError: a file that is not an image, a bad model, a bad threshold.
    """
    from keras_ssd.inference.detector import Detector

    image_paths = [os.fspath(path) for path in image_paths]
    if not image_paths:
        raise ValueError("No image files given.")
    if not 0.0 <= score_threshold <= 1.0:
        raise ValueError(f"score_threshold must be in [0, 1], got {score_threshold}.")
    images = [read_image(path) for path in image_paths]
    warn_oriented_images("predict_files", image_paths, len(image_paths))
    detector = Detector(model_path, class_names=class_names)
    os.makedirs(output_dir, exist_ok=True)
    outputs = _output_names(image_paths, output_dir)
    report = {
        "model": os.fspath(model_path),
        "class_names": detector.class_names,
        "score_threshold": float(score_threshold),
        "images": [],
    }
    for path, image, output in zip(image_paths, images, outputs):
        found = detector.detect(image)
        keep = found["scores"] >= score_threshold
        found = {key: value[keep] for key, value in found.items()}
        save_annotated(output, image, found, detector.class_names)
        report["images"].append(
            {
                "file": path,
                "output": output,
                "width": int(image.shape[1]),
                "height": int(image.shape[0]),
                "detections": [
                    {
                        "class_id": int(class_id),
                        "class_name": detector.class_names[class_id],
                        "score": round(float(score), 6),
                        "box": [round(float(value), 6) for value in box],
                    }
                    for box, class_id, score in zip(found["boxes"], found["classes"], found["scores"])
                ],
            }
        )
    write_text_atomically(os.path.join(output_dir, DETECTIONS_FILE), json.dumps(report, indent=2))
    return report


def save_annotated(path, image, detections, class_names):
    """Saves the image at its own pixel size with its detections drawn on it."""
    from keras_ssd.visualization.detections import draw_boxes
    from keras_ssd.visualization._style import show_image
    from matplotlib.figure import Figure

    height, width = image.shape[:2]
    dpi = 100
    figure = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    ax = figure.add_axes((0.0, 0.0, 1.0, 1.0))
    show_image(ax, image)
    draw_boxes(
        ax, detections["boxes"], detections["classes"], detections["scores"], class_names,
        image_shape=(height, width),
    )
    save_figure_atomically(figure, path, dpi=dpi)


def _output_names(image_paths, output_dir):
    """`<stem>.png` per image, with `_2`, `_3` ... when two inputs share a stem."""
    names, used = [], set()
    for path in image_paths:
        stem = os.path.splitext(os.path.basename(path))[0]
        name, suffix = stem, 1
        while name.lower() in used:
            suffix += 1
            name = f"{stem}_{suffix}"
        used.add(name.lower())
        names.append(os.path.join(output_dir, f"{name}.png"))
    return names


def read_class_names(path):
    """Class names from a text file, one per line (the exported `labels.txt`)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such class-names file (one name per line).")
    with open(path, encoding="utf-8") as handle:
        names = [line.strip() for line in handle if line.strip()]
    if not names:
        raise ValueError(f"{path}: no class names in it (expected one name per line).")
    return names


def export_file(model_path, output, format="saved_model", **options):
    """Loads a `.keras` SSD and exports it (`keras-ssd export`).

    Args:
        model_path: a `.keras` file.
        output: directory for a SavedModel; for TFLite, a `.tflite` file path or a
            directory that receives `model.tflite`.
        format: `"saved_model"` or `"tflite"`.
        **options: passed to the exporter (`score_threshold`, `quantize`, ...).

    Returns:
        str. What was written.

    Raises:
        FileNotFoundError: `model_path` does not exist.
        ValueError: not a `.keras` SSD, or a bad format or option.
    """
    from keras_ssd.export import export_model
    from keras_ssd.inference.detector import Detector

    model_path = os.fspath(model_path)
    if os.path.isdir(model_path):
        raise ValueError(
            f"{model_path}: a directory; export needs the `.keras` file saved by `SSD.save` "
            "(it is already exported if it is a SavedModel)."
        )
    detector = Detector(model_path)
    output = os.fspath(output)
    if format == "tflite" and not output.endswith(".tflite"):
        output = os.path.join(output, "model.tflite")
    return export_model(detector.model, output, format=format, **options)
