"""Image decoding in a `tf.data` pipeline whose failures name the file or record.

The readers check each image before training (`image_files.check_image_file`, the
TFRecord scan), but only a full decode finds everything (a bit flip inside the
compressed data), and TensorFlow's decode error names its op, not the file. So the
decode's errors are dropped (`ignore_errors`) and the gap they leave in the example
indices is reported by name with `tf.Assert`: the iterator raises
`tf.errors.InvalidArgumentError` "keras_ssd: <name> could not be read or decoded as
an image ...", and `undecodable_image_message` gives that line back to the command
line, without TensorFlow's frame.
"""

import re

import tensorflow as tf

_MESSAGE = " could not be read or decoded as an image (a corrupt or unsupported file); fix or remove it."
_FAILURE = re.compile(r"keras_ssd: (.*? could not be read or decoded as an image .*?remove it\.)")


def decode_naming_failures(examples, names, decode):
    """Adds the decoded `"image"` to each example; a failure names the example.

    A sentinel element after the last example finds a failure there too.

    Args:
        examples: `tf.data.Dataset` of dicts, in a known order.
        names: string tensor `[num_examples]` (or a list of str): what the i-th
            example is called in the error (its path, its record).
        decode: function of one example returning its uint8 `[height, width, 3]`
            image.

    Returns:
        The dataset with `"image"` added, in the same order.
    """
    names = tf.convert_to_tensor(names, tf.string)
    num_examples = tf.shape(names, out_type=tf.int64)[0]
    sentinel = examples.take(1).map(lambda example: (num_examples, example))
    indexed = examples.enumerate().concatenate(sentinel)

    def decode_indexed(index, example):
        image = tf.cond(
            index < num_examples,
            lambda: tf.ensure_shape(decode(example), (None, None, 3)),
            lambda: tf.zeros((1, 1, 3), tf.uint8),
        )
        return index, {**example, "image": image}

    def check_no_gap(expected, element):
        index, example = element
        missing = tf.gather(names, tf.minimum(expected, num_examples - 1))
        message = tf.strings.join(["keras_ssd: ", missing, _MESSAGE])
        with tf.control_dependencies([tf.debugging.Assert(tf.equal(index, expected), [message])]):
            index = tf.identity(index)
        return index + 1, (index, example)

    decoded = indexed.map(decode_indexed, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    decoded = decoded.ignore_errors().scan(tf.constant(0, tf.int64), check_no_gap)
    return decoded.filter(lambda index, example: index < num_examples).map(
        lambda index, example: example
    )


def undecodable_image_message(error):
    """The message of `decode_naming_failures`' error, without TensorFlow's frame, or None.

    Args:
        error: an exception raised while iterating a dataset.

    Returns:
        str naming the file or record, or None when `error` is another error.
    """
    if not isinstance(error, tf.errors.InvalidArgumentError):
        return None
    match = _FAILURE.search(str(error))
    return None if match is None else match.group(1)
