"""`keras-ssd train`: train an SSD on your data."""

import argparse
import os

from keras_ssd.cli.data_arguments import add_data_arguments
from keras_ssd.cli.data_arguments import load_data
from keras_ssd.cli.failures import _fail
from keras_ssd.cli.failures import _fail_on_undecodable_image
from keras_ssd.cli.failures import check_output

# SSD.presets(), named here so that `keras-ssd --help` imports no TensorFlow
# (a test checks that the two agree).
ARCHITECTURES = (
    "ssd_mobilenet_v2", "ssd300_vgg16", "ssd512_vgg16", "ssdlite320_mobilenet_v2",
    "ssd640_resnet50_fpn",
)

# training.class_weight_choice.CLASS_WEIGHT_ALIASES, named here without importing TensorFlow
# (a test checks that the two agree).
CLASS_WEIGHT_ALIASES = ("balanced", "effective")

# training.sampling.SAMPLINGS, named here without importing TensorFlow (a test checks).
SAMPLINGS = ("repeat_factor", "class_aware")


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


def _at_least_one(text):
    """An int >= 1 (`--train-images 0` would otherwise mean every image)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value} (leave it out to use every image)")
    return value


def add_arguments(parser):
    """Adds the arguments of `keras-ssd train` to its parser."""
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
    parser.add_argument("--sampling", default="none", choices=["none", *SAMPLINGS],
                        help="Which images each epoch sees: every image once (none), repeat-factor "
                             "sampling (LVIS) or class-aware sampling (docs/class_imbalance.md).")
    parser.add_argument("--repeat-threshold", type=float, default=0.5, metavar="T",
                        help="repeat_factor's threshold: classes in a smaller share of the images "
                             "than T are repeated (LVIS uses 0.001 for 1,203 classes).")
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
    parser.add_argument("--train-images", type=_at_least_one, default=None,
                        help="Use only the first N training images (quick runs).")
    parser.add_argument("--seed", type=int, default=0)


def _say_how_validation_was_split(labels, held_out, class_names, args):
    """The run's first line on its validation images; a warning names classes it lacks."""
    import warnings

    from keras_ssd.data.splits import classes_missing_from
    from keras_ssd.data.splits import image_labels

    held = int(held_out.cardinality())
    print(f"Validation: {held} of {len(labels)} images held out (--val-fraction {args.val_fraction:g}, "
          f"seed {args.seed}), stratified by class: every class in 2 or more images is on both sides "
          "where the images allow it.")
    missing = classes_missing_from(image_labels(held_out), labels, class_names)
    if missing:
        warnings.warn(
            f"no validation image has a box of {', '.join(repr(name) for name in missing)} (in fewer "
            "than 2 images, or always beside other classes): their validation AP is nan and the best "
            "model is chosen without them. Add images of them, or give --val-data.",
            UserWarning,
            stacklevel=2,
        )


def _train_and_validation_data(args):
    """The training examples, their annotation-only statistics and the validation examples."""
    from keras_ssd.data.class_statistics import class_statistics
    from keras_ssd.data.sources import SYNTHETIC_CONFIGS
    from keras_ssd.data.splits import image_labels
    from keras_ssd.data.splits import split_by_fraction

    if args.val_data is not None and args.val_fraction is not None:
        raise ValueError("give --val-data or --val-fraction, not both.")
    train, class_names = load_data(args)
    annotations, _ = load_data(args, load_images=False, check_images=False)
    if args.train_images:
        train, annotations = train.take(args.train_images), annotations.take(args.train_images)
    validation = None
    if args.val_fraction is not None:
        labels = image_labels(annotations)
        annotations, held_out = split_by_fraction(annotations, args.val_fraction, args.seed, labels)
        train, validation = split_by_fraction(train, args.val_fraction, args.seed, labels)
        _say_how_validation_was_split(labels, held_out, class_names, args)
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
    labels = image_labels(annotations) if args.sampling != "none" else None
    return train, class_names, statistics, validation, labels


def run(args):
    """Runs `keras-ssd train` with parsed `args`; returns the exit status."""
    if not check_output("train", args.output_dir):
        return 1
    from keras_ssd.training import train_detector
    from keras_ssd.training.backbone_options import check_backbone_options
    from keras_ssd.training.trainer import check_backbone_weights_fit

    try:
        check_backbone_options(args.backbone, args.backbone_weights, args.freeze_backbone)
        if args.distribute is None:  # a strategy must be made before any model is built
            check_backbone_weights_fit(args.backbone, args.backbone_weights, args.image_size,
                                       args.width, args.architecture)
        train, class_names, statistics, validation, labels = _train_and_validation_data(args)
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
            distribute=args.distribute, sampling=None if args.sampling == "none" else args.sampling,
            repeat_threshold=args.repeat_threshold, image_labels=labels,
        )  # fmt: skip
    except (FileNotFoundError, ValueError) as error:
        return _fail("train", error)
    except Exception as error:  # noqa: BLE001 - an image found undecodable while iterating
        return _fail_on_undecodable_image("train", error)
    if report is not None:
        print(report.format_table())
    saved = f"Model saved to {os.path.join(args.output_dir, 'model.keras')}"
    if validation is not None:
        saved += f"; the best by validation AP50 to {os.path.join(args.output_dir, 'best_model.keras')}"
    print(saved)
    return 0
