"""The `keras-ssd` command line: thin argument parsing over the library."""

import argparse
import copy

from keras_ssd.cli import evaluate
from keras_ssd.cli import export
from keras_ssd.cli import predict
from keras_ssd.cli import stats
from keras_ssd.cli import train

# name: (help, add_arguments, run). Imports of TensorFlow stay inside `run`, so
# `keras-ssd --help` answers at once.
COMMANDS = {
    "train": (
        "Train an SSD on your data (VOC, COCO JSON, TFRecords, tfds); per-class AP every epoch.",
        train.add_arguments,
        train.run,
    ),
    "predict": (
        "Detect objects in image files; write annotated PNGs and detections.json.",
        predict.add_arguments,
        predict.run,
    ),
    "export": (
        "Export a .keras SSD as a SavedModel or TFLite model with decoding and NMS inside.",
        export.add_arguments,
        export.run,
    ),
    "stats": (
        "Count boxes and images per class; print suggested class weights; save a bar chart.",
        stats.add_arguments,
        stats.run,
    ),
    "evaluate": (
        "Per-class AP and recall, a confusion matrix and precision-recall curves of a model on a dataset.",
        evaluate.add_arguments,
        evaluate.run,
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
        command = commands.add_parser(name, help=help_text, description=help_text,
                                      formatter_class=_DefaultsHelpFormatter)
        add_arguments(command)
        command.add_argument("--verbose", action="store_true",
                             help="Also show TensorFlow's log lines and library warnings.")
    return parser


def main(argv=None):
    """Entry point of the `keras-ssd` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if not args.verbose:
        from keras_ssd.cli.quiet import quiet_tensorflow

        quiet_tensorflow()
    return COMMANDS[args.command][2](args)
