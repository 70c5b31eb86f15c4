"""The `keras-ssd` command line: thin argument parsing over the library."""

import argparse
import copy
import os
import sys

DATASETS = {"synthetic_shapes": "default", "synthetic_shapes/tiny": "tiny"}
CLASS_WEIGHT_METHODS = {"none": None, "balanced": "inverse", "effective": "effective_number"}


def _add_train_arguments(parser):
    parser.add_argument("--data", default="synthetic_shapes", choices=sorted(DATASETS),
                        help="Dataset to train on (default: the embedded synthetic_shapes; "
                             "synthetic_shapes/tiny has 20 training images).")
    parser.add_argument("--data-dir", default=None,
                        help="tensorflow-datasets data_dir (default: $KERAS_SSD_DATA_DIR or ~/.cache/keras_ssd).")
    parser.add_argument("--output-dir", default="runs/keras_ssd",
                        help="Where the model, logs and resume checkpoints go.")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--width", type=float, default=0.5,
                        help="MobileNetV2 width multiplier (alpha).")
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--class-weights", default="effective", choices=sorted(CLASS_WEIGHT_METHODS),
                        help="Class weights computed from the training split's box counts.")
    parser.add_argument("--max-boxes", type=int, default=16,
                        help="Ground-truth boxes kept per image (padding size).")
    parser.add_argument("--train-images", type=int, default=None,
                        help="Use only the first N training images (quick runs).")
    parser.add_argument("--seed", type=int, default=0)


def _run_train(args):
    from keras_ssd.training import train_and_evaluate

    report = train_and_evaluate(
        output_dir=args.output_dir,
        data_dir=args.data_dir,
        epochs=args.epochs,
        batch_size=args.batch_size,
        image_size=args.image_size,
        width_multiplier=args.width,
        learning_rate=args.learning_rate,
        class_weight_method=CLASS_WEIGHT_METHODS[args.class_weights],
        max_boxes=args.max_boxes,
        train_images=args.train_images,
        seed=args.seed,
        data_config=DATASETS[args.data],
    )
    print(report.format_table())
    print(f"Model saved to {os.path.join(args.output_dir, 'model.keras')}")
    return 0


def _fail(command, error):
    """Prints a user error (bad file, bad model) without a traceback; exit status 1."""
    print(f"keras-ssd {command}: error: {error}", file=sys.stderr)
    return 1


def _add_predict_arguments(parser):
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="Image files (PNG, JPEG, ...).")
    parser.add_argument("--model", required=True,
                        help="A .keras file or a SavedModel directory written by `keras-ssd export`.")
    parser.add_argument("--output-dir", default="predictions",
                        help="Where the annotated PNGs and detections.json go (default: predictions).")
    parser.add_argument("--score-threshold", type=float, default=0.5,
                        help="Minimum score of a drawn / listed detection (default: 0.5).")
    parser.add_argument("--class-names", default=None, metavar="FILE",
                        help="Text file with one class name per line, replacing the model's names.")


def _run_predict(args):
    from keras_ssd.export.predict import predict_files, read_class_names

    try:
        class_names = None if args.class_names is None else read_class_names(args.class_names)
        report = predict_files(args.images, args.model, args.output_dir,
                               score_threshold=args.score_threshold, class_names=class_names)
    except (FileNotFoundError, ValueError) as error:
        return _fail("predict", error)
    for image in report["images"]:
        print(f"{image['file']}: {len(image['detections'])} detections -> {image['output']}")
    print(f"Detections written to {os.path.join(args.output_dir, 'detections.json')}")
    return 0


def _add_export_arguments(parser):
    parser.add_argument("--model", required=True, help="The .keras file saved by training.")
    parser.add_argument("--out", required=True,
                        help="SavedModel directory; for tflite a .tflite file or a directory.")
    parser.add_argument("--format", default="saved_model", choices=["saved_model", "tflite"])
    parser.add_argument("--quantize", default=None, choices=["dynamic_range"],
                        help="TFLite only: int8 weights with float activations.")
    parser.add_argument("--score-threshold", type=float, default=None,
                        help="Minimum detection score kept by the export (default: the model's).")
    parser.add_argument("--iou-threshold", type=float, default=None,
                        help="NMS IoU threshold (default: the model's).")
    parser.add_argument("--max-detections", type=int, default=None,
                        help="Detections per image (default: the model's).")


def _run_export(args):
    from keras_ssd.export.predict import export_file

    options = {name: getattr(args, name) for name in ("score_threshold", "iou_threshold", "max_detections")
               if getattr(args, name) is not None}
    if args.quantize is not None:
        if args.format != "tflite":
            return _fail("export", "--quantize applies to --format tflite only.")
        options["quantize"] = args.quantize
    try:
        written = export_file(args.model, args.out, format=args.format, **options)
    except (FileNotFoundError, ValueError) as error:
        return _fail("export", error)
    print(f"Exported {args.model} ({args.format}) to {written}")
    return 0


def _add_stats_arguments(parser):
    parser.add_argument("data", metavar="DATA",
                        help="A Pascal VOC folder, a COCO .json, a .tfrecord file or glob, a tfds name "
                             "(voc/2007, coco/2017, ...) or synthetic_shapes[/tiny].")
    parser.add_argument("--split", default="train", help="Split of tfds / synthetic_shapes data (default: train).")
    parser.add_argument("--data-dir", default=None, help="tensorflow-datasets data_dir for those.")
    parser.add_argument("--label-map", default=None, help="TF OD API label map .pbtxt of TFRecords.")
    parser.add_argument("--image-dir", default=None, help="Image folder of a COCO .json (default: its folder).")
    parser.add_argument("--classes", default=None,
                        help="Comma-separated class names fixing the label order of a VOC folder.")
    parser.add_argument("--skip-invalid", action="store_true",
                        help="Skip (and count) unusable annotations instead of stopping at the first.")
    parser.add_argument("--plot", default="class_counts.png",
                        help="Where to save the bar chart (default: class_counts.png).")
    parser.add_argument("--log-scale", action="store_true", help="Logarithmic count axis in the chart.")


def _run_stats(args):
    import warnings

    from keras_ssd.data.class_statistics import class_statistics
    from keras_ssd.data.class_statistics import format_statistics_table
    from keras_ssd.data.class_statistics import plot_class_counts
    from keras_ssd.data.sources import load_examples
    from keras_ssd.losses.class_weights import METHODS
    from keras_ssd.losses.class_weights import compute_class_weights

    class_names = None if args.classes is None else [name.strip() for name in args.classes.split(",")]
    try:
        # Statistics need no pixels: no image is opened or decoded.
        dataset, class_names = load_examples(
            args.data, split=args.split, data_dir=args.data_dir, label_map_path=args.label_map,
            image_dir=args.image_dir, class_names=class_names, skip_invalid=args.skip_invalid,
            check_images=False, load_images=False,
        )
        stats = class_statistics(dataset, class_names)
    except (FileNotFoundError, ValueError) as error:
        return _fail("stats", error)
    weights_by_method = {}
    if stats.num_boxes.sum() > 0:
        for method in METHODS:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                weights_by_method[method] = compute_class_weights(stats.num_boxes, method=method)
            for warning in caught:
                print(f"note: {warning.message}", file=sys.stderr)
    print(format_statistics_table(stats, weights_by_method))
    if weights_by_method:
        print("Weight columns: compute_class_weights(counts, method=...), box-weighted mean 1.")
    plot_class_counts(
        stats, args.plot, log_scale=args.log_scale,
        weights=weights_by_method.get("effective_number"),
        weights_label="effective_number weight",
    )
    print(f"Bar chart saved to {args.plot}")
    return 0


def _add_evaluate_arguments(parser):
    parser.add_argument("--model", required=True, help="The .keras file saved by training.")
    parser.add_argument("--data", required=True,
                        help="A Pascal VOC folder, a COCO .json, a .tfrecord file or glob, a tfds name "
                             "(voc/2007, coco/2017, ...) or synthetic_shapes[/tiny].")
    parser.add_argument("--split", default="test", help="Split of tfds / synthetic_shapes data (default: test).")
    parser.add_argument("--data-dir", default=None, help="tensorflow-datasets data_dir for those.")
    parser.add_argument("--label-map", default=None, help="TF OD API label map .pbtxt of TFRecords.")
    parser.add_argument("--image-dir", default=None, help="Image folder of a COCO .json (default: its folder).")
    parser.add_argument("--classes", default=None,
                        help="Comma-separated class names fixing the label order of a VOC folder.")
    parser.add_argument("--skip-invalid", action="store_true",
                        help="Skip (and count) unusable annotations instead of stopping at the first.")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--voc", action="store_true",
                        help="Also print Pascal VOC AP50 per class (VOC2007 11-point and all-point).")


def _run_evaluate(args):
    import keras

    import keras_ssd.models.ssd  # noqa: F401  registers SSD and its parts for load_model
    from keras_ssd.data.sources import load_examples
    from keras_ssd.metrics.example_evaluation import evaluate_examples

    class_names = None if args.classes is None else [name.strip() for name in args.classes.split(",")]
    try:
        if not os.path.isfile(args.model) or not args.model.endswith(".keras"):
            raise FileNotFoundError(f"{args.model}: expected a .keras file saved by training.")
        examples, class_names = load_examples(
            args.data, split=args.split, data_dir=args.data_dir, label_map_path=args.label_map,
            image_dir=args.image_dir, class_names=class_names, skip_invalid=args.skip_invalid,
        )
        model = keras.saving.load_model(args.model)
        num_classes = getattr(model, "num_classes", None)
        if num_classes != len(class_names):
            raise ValueError(
                f"{args.model} has num_classes={num_classes} but {args.data} has "
                f"{len(class_names)} classes ({', '.join(class_names)})."
            )
        coco, voc = evaluate_examples(model, examples, class_names, batch_size=args.batch_size,
                                      voc=args.voc, progress=False)
    except (FileNotFoundError, ValueError) as error:
        return _fail("evaluate", error)
    print(coco.format_table())
    print("COCO: " + ", ".join(f"{key} {value:.3f}" for key, value in coco.summary.items()))
    if voc is not None:
        print()
        print(voc.format_table())
    return 0


# name: (help, add_arguments, run). Imports of TensorFlow stay inside `run`, so
# `keras-ssd --help` answers at once.
COMMANDS = {
    "train": (
        "Train an SSD and print its per-class AP on the test split.",
        _add_train_arguments,
        _run_train,
    ),
    "predict": (
        "Detect objects in image files; write annotated PNGs and detections.json.",
        _add_predict_arguments,
        _run_predict,
    ),
    "export": (
        "Export a .keras SSD as a SavedModel or TFLite model with decoding and NMS inside.",
        _add_export_arguments,
        _run_export,
    ),
    "stats": (
        "Count boxes and images per class; print suggested class weights; save a bar chart.",
        _add_stats_arguments,
        _run_stats,
    ),
    "evaluate": (
        "Print the per-class AP of a .keras SSD on a dataset (COCO metrics; --voc adds VOC AP).",
        _add_evaluate_arguments,
        _run_evaluate,
    ),
}


class _DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows every option's default in `--help`, unless its help text already states it.

    Options without a help text get one that is only their default; `None` and `False`
    defaults (optional paths, switches) are not shown.
    """

    def _get_help_string(self, action):
        help_text = action.help or ""
        if ("default" in help_text or not action.option_strings
                or action.default is argparse.SUPPRESS or action.default is None
                or action.default is False):
            return help_text
        return f"{help_text} (default: %(default)s)".lstrip()

    def _format_action(self, action):
        # argparse prints no help column for an option without help text.
        if action.help is None:
            action = copy.copy(action)
            action.help = self._get_help_string(action) or None
        return super()._format_action(action)


def build_parser():
    """Returns the `keras-ssd` argument parser."""
    from keras_ssd.version import __version__

    parser = argparse.ArgumentParser(prog="keras-ssd", description=__doc__,
                                     formatter_class=_DefaultsHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command")
    for name, (help_text, add_arguments, _) in COMMANDS.items():
        add_arguments(commands.add_parser(name, help=help_text, description=help_text,
                                          formatter_class=_DefaultsHelpFormatter))
    return parser


def main(argv=None):
    """Entry point of the `keras-ssd` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return COMMANDS[args.command][2](args)


if __name__ == "__main__":
    sys.exit(main())
