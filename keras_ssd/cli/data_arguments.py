"""The data arguments that `train`, `evaluate` and `stats` share, and the loading they drive."""

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
