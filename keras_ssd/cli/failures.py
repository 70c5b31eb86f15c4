"""How a command reports a user error: one line on stderr, exit status 1, no traceback."""

import sys


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


def _fail_on_undecodable_image(command, error):
    """`_fail` for an image that passed the readers' checks but does not decode; else re-raises."""
    from keras_ssd.data.decode_failures import undecodable_image_message

    message = undecodable_image_message(error)
    if message is None:
        raise error
    return _fail(command, message)


# The readers speak to Python callers; a command-line user sets the same thing by a flag.
_PYTHON_TO_FLAG = {"pass skip_invalid=True": "give --skip-invalid", "(skip_invalid=True)": "(--skip-invalid)"}


def _fail(command, error):
    """Prints a user error (bad file, bad model) without a traceback; exit status 1."""
    message = str(error)
    for python, flag in _PYTHON_TO_FLAG.items():
        message = message.replace(python, flag)
    print(f"keras-ssd {command}: error: {message}", file=sys.stderr)
    return 1
