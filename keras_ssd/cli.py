"""The `keras-ssd` command line: thin argument parsing over the library."""

import argparse
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


# name: (help, add_arguments, run). Imports of TensorFlow stay inside `run`, so
# `keras-ssd --help` answers at once.
COMMANDS = {
    "train": (
        "Train an SSD and print its per-class AP on the test split.",
        _add_train_arguments,
        _run_train,
    ),
}


def build_parser():
    """Returns the `keras-ssd` argument parser."""
    parser = argparse.ArgumentParser(prog="keras-ssd", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    for name, (help_text, add_arguments, _) in COMMANDS.items():
        add_arguments(commands.add_parser(name, help=help_text))
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
