"""`keras-ssd evaluate`: per-class AP, a confusion matrix and precision-recall curves of a model."""

import os

from keras_ssd.cli.data_arguments import add_data_arguments
from keras_ssd.cli.data_arguments import load_data
from keras_ssd.cli.failures import _fail
from keras_ssd.cli.failures import _fail_on_undecodable_image
from keras_ssd.cli.failures import check_output


def add_arguments(parser):
    """Adds the arguments of `keras-ssd evaluate` to its parser."""
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


def run(args):
    """Runs `keras-ssd evaluate` with parsed `args`; returns the exit status."""
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
