"""Turns the unexpected failures of a reader on a hostile file into a `ValueError` naming it.

The readers check what a real annotation file gets wrong and say so precisely. A
fuzzed or hostile file can go past those checks with a value of a wrong type (a
list where an id belongs), a number too large for a float, or nesting deeper than
Python's recursion limit; those surface as `TypeError`, `KeyError`, `OverflowError`,
`RecursionError`... from deep inside the parser. `names_the_file` catches them at
the reader's boundary and raises one `ValueError` that names the file instead.
"""

import functools

# What a malformed file (not a bad argument) can raise from inside the parsing.
PARSE_ERRORS = (
    TypeError,
    AttributeError,
    KeyError,
    IndexError,
    OverflowError,
    RecursionError,
    SyntaxError,
    UnicodeError,
)


def names_the_file(reader):
    """Decorates a reader whose first argument is the file (or folder) it reads.

    Args:
        reader: str. The reader's name, for the message.

    Returns:
        A decorator: the reader unchanged, except that `PARSE_ERRORS` become a
        `ValueError` naming the file (the original error chained).
    """

    def decorate(function):
        @functools.wraps(function)
        def wrapper(source, *args, **kwargs):
            try:
                return function(source, *args, **kwargs)
            except PARSE_ERRORS as error:
                raise ValueError(
                    f"{reader}: {source} could not be read: it holds something of an "
                    f"unexpected type or size ({type(error).__name__}: {str(error)[:200]}). "
                    "Is it a valid, complete file?"
                ) from error

        return wrapper

    return decorate
