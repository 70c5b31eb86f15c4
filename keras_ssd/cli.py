"""The `keras-ssd` command line: thin argument parsing over the library."""

import argparse
import copy
import os
import sys

# SSD.presets(), named here so that `keras-ssd --help` imports no TensorFlow
# (a test checks that the two agree).
ARCHITECTURES = (
    "ssd_mobilenet_v2", "ssd300_vgg16", "ssd512_vgg16", "ssdlite320_mobilenet_v2",
    "ssd640_resnet50_fpn",
)

# training.class_weight_choice.CLASS_WEIGHT_ALIASES, named here without importing TensorFlow
# (a test checks that the two agree).
CLASS_WEIGHT_ALIASES = ("balanced", "effective")

DATA_HELP = (
    "A Pascal VOC folder (or a flat folder of LabelImg .xml files and images), a COCO .json, "
    "a .tfrecord file or glob (TF OD API), a tfds name (voc/2007, coco/2017, ...) or "
    "synthetic_shapes[/tiny]."
)


def add_data_arguments(parser, positional=False, default=None, split_help="train"):
    """Adds the data arguments that `train`, `evaluate` and `stats` share.

    Args:
        parser: the sub-command's `argparse` parser.
        positional: bool. DATA is a positional argument (`stats DATA`) instead
            of `--data DATA`.
        default: optional str. Default of `--data` (None: required).
        split_help: str. The split read by default from tfds / synthetic_shapes.
    """
    if positional:
        parser.add_argument("data", metavar="DATA", help=DATA_HELP)
    else:
        parser.add_argument("--data", default=default, required=default is None, metavar="DATA",
                            help=DATA_HELP + (f" Default: {default}." if default else ""))
    parser.add_argument("--split", default=None,
                        help=f"Split to read: tfds / synthetic_shapes (default: {split_help}); a VOC "
                             "folder's ImageSets/Main/<split>.txt (default: every annotation). COCO "
                             "JSON and TFRecords have none. A split the data lacks is an error.")
    parser.add_argument("--data-dir", default=None,
                        help="tensorflow-datasets data_dir (default: $KERAS_SSD_DATA_DIR or ~/.cache/keras_ssd).")
    parser.add_argument("--label-map", default=None, help="TF OD API label map .pbtxt of TFRecords.")
    parser.add_argument("--image-dir", default=None, help="Image folder of a COCO .json (default: its folder).")
    parser.add_argument("--annotations-subdir", default=None,
                        help="XML folder inside a VOC folder (default: Annotations, or the folder itself).")
    parser.add_argument("--images-subdir", default=None,
                        help="Image folder inside a VOC folder (default: JPEGImages, or the folder itself).")
    parser.add_argument("--classes", default=None,
                        help="Comma-separated class names fixing the label order of a VOC folder.")
    parser.add_argument("--skip-invalid", action="store_true",
                        help="Skip (and count) unusable annotations instead of stopping at the first.")


def load_data(args, data=None, split=None, split_default="train", **options):
    """`load_examples` with the shared data arguments; returns `(dataset, class_names)`.

    `data` and `split` replace `args.data` and `args.split` (validation data).
    """
    from keras_ssd.data.sources import default_split
    from keras_ssd.data.sources import load_examples

    if data is None:
        data, split = args.data, args.split
    if split is None:
        split = default_split(data, split_default)  # files: all of their images
    class_names = None if args.classes is None else [name.strip() for name in args.classes.split(",")]
    return load_examples(
        data, split=split, data_dir=args.data_dir, label_map_path=args.label_map,
        image_dir=args.image_dir, class_names=class_names,
        annotations_subdir=args.annotations_subdir, images_subdir=args.images_subdir,
        skip_invalid=args.skip_invalid, **options,
    )


def check_output(command, path, kind="dir"):
    """A one-line error (and None) if `path` cannot be written; else True."""
    from keras_ssd.utils.output_paths import check_writable_dir
    from keras_ssd.utils.output_paths import check_writable_file

    try:
        (check_writable_dir if kind == "dir" else check_writable_file)(path)
    except ValueError as error:
        _fail(command, error)
        return None
    return True


def _class_weight_choice(text):
    """Checks the form of --class-weights at parse time (names are checked against the data)."""
    methods = ("none", "inverse", "sqrt_inverse", "effective_number", "log", *CLASS_WEIGHT_ALIASES)
    if text in methods:
        return text
    try:
        for part in text.split(","):
            float(part.split("=", 1)[1] if "=" in part else part)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid choice: {text!r} (choose from {', '.join(methods)}, or give values: "
            "'1.0,0.2' in label order or 'top=1.0,dress=0.2')"
        ) from None
    return text


def _add_train_arguments(parser):
    add_data_arguments(parser, default="synthetic_shapes")
    parser.add_argument("--val-data", default=None, metavar="DATA",
                        help="Validation data (any form of --data, read with the same options; "
                             "tfds / synthetic_shapes: its validation split).")
    parser.add_argument("--val-split", default=None,
                        help="Split of --val-data (default: validation for tfds / synthetic_shapes, "
                             "every image of files).")
    parser.add_argument("--val-fraction", type=float, default=None, metavar="F",
                        help="Hold out this share of the training images for validation "
                             "(seeded by --seed, deterministic by image).")
    parser.add_argument("--output-dir", default="runs/keras_ssd",
                        help="Where the model, best model, history and resume checkpoints go.")
    parser.add_argument("--epochs", type=int, default=10,
                        help="Total epochs; more than a finished run's continues it.")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--width", type=float, default=0.5,
                        help="MobileNetV2 width multiplier (alpha).")
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--class-weights", default="effective_number", metavar="CHOICE",
                        type=_class_weight_choice,
                        help="none, a compute_class_weights method (inverse, sqrt_inverse, "
                             f"effective_number, log; aliases {', '.join(CLASS_WEIGHT_ALIASES)}) "
                             "computed from the training boxes, or values: '1.0,0.2' in label "
                             "order or 'top=1.0,dress=0.2' (default: effective_number).")
    parser.add_argument("--loss", default=None, choices=["softmax", "focal", "sigmoid"],
                        help="Classification loss: softmax with 3:1 hard-negative mining (SSD), "
                             "sigmoid focal loss, or sigmoid with hard-negative mining "
                             "(default: the architecture's own; softmax for ssd_mobilenet_v2).")
    parser.add_argument("--architecture", default="ssd_mobilenet_v2", choices=ARCHITECTURES,
                        help="A published SSD (SSD.presets(), docs/presets.md); --width and "
                             "--backbone apply to ssd_mobilenet_v2.")
    parser.add_argument("--mixed-precision", default=None, choices=["float16", "bfloat16"],
                        help="Compute in mixed_float16 (loss scaling) or mixed_bfloat16; "
                             "heads and losses stay float32.")
    parser.add_argument("--jit-compile", action="store_const", const=True, default="auto",
                        help="Compile the train step with XLA (default: Keras' auto, XLA "
                             "with one GPU).")
    parser.add_argument("--distribute", default=None, choices=["mirrored", "multi_worker"],
                        help="Train on every local GPU (mirrored) or on many machines "
                             "(multi_worker, cluster in TF_CONFIG); --batch-size is global.")
    parser.add_argument("--no-augment", dest="augment", action="store_false",
                        help="Turn off SSD's augmentation (zoom out, crops, flips, colours).")
    parser.add_argument("--no-shuffle", dest="shuffle", action="store_false",
                        help="Keep the training images in order.")
    parser.add_argument("--backbone", default="mobilenet_v2", metavar="mobilenet_v2|PATH",
                        help="MobileNetV2 (default), or a .keras file of your own backbone model "
                             "(images in [0, 255] -> feature maps, finest first).")
    parser.add_argument("--backbone-weights", default=None, metavar="imagenet|PATH",
                        help="Start the backbone from ImageNet (downloaded once) or from a Keras "
                             "weights file on disk.")
    parser.add_argument("--freeze-backbone", action="store_true",
                        help="Train only the extra layers and the head.")
    parser.add_argument("--tensorboard", action="store_true",
                        help="Write TensorBoard logs to OUTPUT_DIR/logs.")
    parser.add_argument("--max-boxes", type=int, default=16,
                        help="Ground-truth boxes kept per image (padding size).")
    parser.add_argument("--train-images", type=int, default=None,
                        help="Use only the first N training images (quick runs).")
    parser.add_argument("--seed", type=int, default=0)


def _train_and_validation_data(args):
    """The training examples, their annotation-only statistics and the validation examples."""
    from keras_ssd.data.class_statistics import class_statistics
    from keras_ssd.data.sources import SYNTHETIC_CONFIGS
    from keras_ssd.data.splits import split_by_fraction

    if args.val_data is not None and args.val_fraction is not None:
        raise ValueError("give --val-data or --val-fraction, not both.")
    train, class_names = load_data(args)
    annotations, _ = load_data(args, load_images=False, check_images=False)
    if args.train_images:
        train, annotations = train.take(args.train_images), annotations.take(args.train_images)
    validation = None
    if args.val_fraction is not None:
        annotations, _ = split_by_fraction(annotations, args.val_fraction, seed=args.seed)
        train, validation = split_by_fraction(train, args.val_fraction, seed=args.seed)
    elif args.val_data is not None:
        validation, val_names = load_data(
            args, data=args.val_data, split=args.val_split, split_default="validation"
        )
        if list(val_names) != list(class_names):
            raise ValueError(
                f"--val-data {args.val_data} has classes {list(val_names)}, the training data "
                f"{list(class_names)}; give --classes to fix one order for VOC folders."
            )
    elif args.data in SYNTHETIC_CONFIGS:
        validation, _ = load_data(args, data=args.data, split=args.val_split, split_default="validation")
    statistics = class_statistics(annotations, class_names, verbose=0)
    return train, class_names, statistics, validation


def _run_train(args):
    if not check_output("train", args.output_dir):
        return 1
    from keras_ssd.training import train_detector

    try:
        train, class_names, statistics, validation = _train_and_validation_data(args)
        _, report = train_detector(
            train, class_names, args.output_dir, validation_examples=validation,
            statistics=statistics, epochs=args.epochs, batch_size=args.batch_size,
            image_size=args.image_size, width_multiplier=args.width,
            learning_rate=args.learning_rate, class_weights=args.class_weights, loss=args.loss,
            augment=args.augment, shuffle=args.shuffle, backbone=args.backbone,
            backbone_weights=args.backbone_weights,
            freeze_backbone=args.freeze_backbone, max_boxes=args.max_boxes, seed=args.seed,
            tensorboard=args.tensorboard, architecture=args.architecture,
            mixed_precision=args.mixed_precision, jit_compile=args.jit_compile,
            distribute=args.distribute,
        )  # fmt: skip
    except (FileNotFoundError, ValueError) as error:
        return _fail("train", error)
    except Exception as error:  # noqa: BLE001 - an image found undecodable while iterating
        return _fail_on_undecodable_image("train", error)
    if report is not None:
        print(report.format_table())
    print(f"Model saved to {os.path.join(args.output_dir, 'model.keras')}")
    return 0


def _fail_on_undecodable_image(command, error):
    """`_fail` for an image that passed the readers' checks but does not decode; else re-raises."""
    from keras_ssd.data.decode_failures import undecodable_image_message

    message = undecodable_image_message(error)
    if message is None:
        raise error
    return _fail(command, message)


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
    if not check_output("predict", args.output_dir):
        return 1
    from keras_ssd.inference.predict import predict_files, read_class_names

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
    # A SavedModel is a folder; a .tflite is a file (or goes into a folder).
    is_file = args.format == "tflite" and args.out.lower().endswith(".tflite")
    if not check_output("export", args.out, kind="file" if is_file else "dir"):
        return 1
    from keras_ssd.inference.predict import export_file

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
    add_data_arguments(parser, positional=True)
    parser.add_argument("--plot", default="class_counts.png",
                        help="Where to save the bar chart (default: class_counts.png).")
    parser.add_argument("--log-scale", action="store_true", help="Logarithmic count axis in the chart.")


def _run_stats(args):
    import warnings

    from keras_ssd.data.class_statistics import class_statistics
    from keras_ssd.data.class_statistics import format_statistics_table
    from keras_ssd.data.class_statistics import plot_class_counts
    from keras_ssd.data.class_weights import METHODS
    from keras_ssd.data.class_weights import compute_class_weights

    if not check_output("stats", args.plot, kind="file"):
        return 1
    try:
        # Statistics need no pixels: no image is opened or decoded.
        dataset, class_names = load_data(args, check_images=False, load_images=False)
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
    parser.add_argument("--model", required=True,
                        help="A .keras file saved by training or a SavedModel directory written by "
                             "`keras-ssd export`.")
    add_data_arguments(parser, split_help="test")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--voc", action="store_true",
                        help="Also print Pascal VOC AP50 per class (VOC2007 11-point and all-point).")
    parser.add_argument("--score-threshold", type=float, default=0.5,
                        help="Minimum score of a detection counted in the confusion matrix "
                             "(default: 0.5; the APs use every detection).")
    parser.add_argument("--iou-threshold", type=float, default=0.5,
                        help="Minimum IoU of a detection and the box it is matched to in the "
                             "confusion matrix (default: 0.5).")
    parser.add_argument("--output-dir", default="evaluation",
                        help="Where confusion_matrix.png, precision_recall.png and report.json go "
                             "(default: evaluation).")


def _run_evaluate(args):
    if not check_output("evaluate", args.output_dir):
        return 1
    import json

    from keras_ssd.inference.detector import Detector
    from keras_ssd.metrics.detector_evaluation import evaluate_detector

    try:
        os.makedirs(args.output_dir, exist_ok=True)
    except OSError as error:
        return _fail("evaluate", f"cannot write to --output-dir {args.output_dir} ({error}).")
    try:
        detector = Detector(args.model)
        examples, class_names = load_data(args, split_default="test")
        report = evaluate_detector(
            detector, examples, class_names, batch_size=args.batch_size, voc=args.voc,
            score_threshold=args.score_threshold, iou_threshold=args.iou_threshold,
        )
    except (FileNotFoundError, ValueError) as error:
        return _fail("evaluate", error)
    except Exception as error:  # noqa: BLE001 - an image found undecodable while iterating
        return _fail_on_undecodable_image("evaluate", error)
    print(report.format_table())
    print("COCO: " + ", ".join(f"{key} {value:.3f}" for key, value in report.coco.summary.items()))
    if report.voc is not None:
        print()
        print(report.voc.format_table())
    print()
    print(f"Confusion matrix (score >= {args.score_threshold:g}, IoU >= {args.iou_threshold:g}): "
          "rows ground truth, columns detections")
    print(report.confusion.format_table())
    paths = report.save_figures(args.output_dir)
    from keras_ssd.utils.atomic_files import write_text_atomically

    write_text_atomically(
        os.path.join(args.output_dir, "report.json"), json.dumps(report.to_dict(), indent=1)
    )
    print(f"Figures saved to {paths['confusion_matrix']} and {paths['precision_recall']}")
    return 0


# name: (help, add_arguments, run). Imports of TensorFlow stay inside `run`, so
# `keras-ssd --help` answers at once.
COMMANDS = {
    "train": (
        "Train an SSD on your data (VOC, COCO JSON, TFRecords, tfds); per-class AP every epoch.",
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
        "Per-class AP and recall, a confusion matrix and precision-recall curves of a model on a dataset.",
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
