"""`keras-ssd export`: export a .keras SSD as a SavedModel or TFLite model."""

from keras_ssd.cli.failures import _fail
from keras_ssd.cli.failures import check_output


def add_arguments(parser):
    """Adds the arguments of `keras-ssd export` to its parser."""
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
    parser.add_argument("--overwrite", action="store_true",
                        help="Write over an existing SavedModel, .tflite file or non-empty folder "
                             "at --out (refused otherwise).")


def run(args):
    """Runs `keras-ssd export` with parsed `args`; returns the exit status."""
    # A SavedModel is a folder; a .tflite is a file (or goes into a folder).
    is_file = args.format == "tflite" and args.out.lower().endswith(".tflite")
    if not check_output("export", args.out, kind="file" if is_file else "dir"):
        return 1
    if not args.overwrite:
        from keras_ssd.utils.output_paths import check_not_overwriting_export

        try:
            check_not_overwriting_export(args.out, args.format == "tflite")
        except ValueError as error:
            return _fail("export", error)
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
