"""`keras-ssd predict`: detect objects in image files."""

import os

from keras_ssd.cli.failures import _fail
from keras_ssd.cli.failures import check_output


def add_arguments(parser):
    """Adds the arguments of `keras-ssd predict` to its parser."""
    parser.add_argument("images", nargs="+", metavar="IMAGE",
                        help="Image files (PNG, JPEG, ...), or folders: their image files.")
    parser.add_argument("--model", required=True,
                        help="A .keras file or a SavedModel directory written by `keras-ssd export`.")
    parser.add_argument("--output-dir", default="predictions",
                        help="Where the annotated PNGs and detections.json go (default: predictions).")
    parser.add_argument("--score-threshold", type=float, default=0.5,
                        help="Minimum score of a drawn / listed detection (default: 0.5).")
    parser.add_argument("--class-names", default=None, metavar="FILE",
                        help="Text file with one class name per line, replacing the model's names.")


def run(args):
    """Runs `keras-ssd predict` with parsed `args`; returns the exit status."""
    if not check_output("predict", args.output_dir):
        return 1
    from keras_ssd.inference.predict import predict_files, read_class_names

    try:
        images = _image_files(args.images)
        class_names = None if args.class_names is None else read_class_names(args.class_names)
        report = predict_files(images, args.model, args.output_dir,
                               score_threshold=args.score_threshold, class_names=class_names)
    except (FileNotFoundError, ValueError) as error:
        return _fail("predict", error)
    for image in report["images"]:
        print(f"{image['file']}: {len(image['detections'])} detections -> {image['output']}")
    print(f"Detections written to {os.path.join(args.output_dir, 'detections.json')}")
    return 0


IMAGE_ENDINGS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def _image_files(paths):
    """The given files, with each folder replaced by its image files (sorted, not recursive)."""
    files = []
    for path in paths:
        if not os.path.isdir(path):
            files.append(path)
            continue
        found = sorted(
            os.path.join(path, name) for name in os.listdir(path)
            if name.lower().endswith(IMAGE_ENDINGS) and os.path.isfile(os.path.join(path, name))
        )
        if not found:
            raise ValueError(f"{path}: a folder without image files ({', '.join(IMAGE_ENDINGS)}).")
        files += found
    return files
