"""`keras-ssd stats`: box and image counts per class, suggested class weights, a bar chart."""

import argparse
import sys

from keras_ssd.cli.data_arguments import add_data_arguments
from keras_ssd.cli.data_arguments import load_data
from keras_ssd.cli.failures import _fail
from keras_ssd.cli.failures import check_output


def add_arguments(parser):
    """Adds the arguments of `keras-ssd stats` to its parser."""
    add_data_arguments(parser, positional=True)
    parser.add_argument("--plot", default="class_counts.png",
                        help="Where to save the bar chart (default: class_counts.png).")
    parser.add_argument("--log-scale", action="store_true", help="Logarithmic count axis in the chart.")


def run(args):
    """Runs `keras-ssd stats` with parsed `args`; returns the exit status."""
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
    for problem in _unusable_images(args):
        print(f"note: {problem}\n`keras-ssd train` stops at the first such image unless given "
              "--skip-invalid (statistics need no pixels: their boxes are counted above).", file=sys.stderr)
    return 0


def _unusable_images(args):
    """What `train` would refuse in the images of a VOC folder or COCO JSON (headers only)."""
    import os
    import warnings

    if not (os.path.isdir(args.data) or args.data.lower().endswith(".json")) or args.skip_invalid:
        return []
    checking = argparse.Namespace(**{**vars(args), "skip_invalid": True})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_data(checking, check_images=True, load_images=False)
    return [
        str(warning.message).replace("skipped (skip_invalid=True), of", "unusable images, of")
        for warning in caught if "skipped (skip_invalid=True)" in str(warning.message)
    ]
