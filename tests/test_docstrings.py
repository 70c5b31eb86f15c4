"""Runs every docstring example (`>>>`) of the package, so that none can rot unseen.

Modules are found by walking the package's files; one test per module that has an
example. The doctests run with ELLIPSIS, each module in its own namespace.
"""

import doctest
import importlib
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "keras_ssd"


def modules_with_examples():
    """Dotted names of the package's modules whose source holds a `>>>` example."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "__main__.py" or ">>>" not in path.read_text(encoding="utf-8"):
            continue
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


MODULES = modules_with_examples()


def test_the_examples_are_found():
    # The anchor generator's example ran nowhere before this runner.
    assert {"keras_ssd.anchors.anchor_generator", "keras_ssd.losses.hard_negative_mining",
            "keras_ssd.data.label_map"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    results = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert results.attempted > 0
    assert results.failed == 0
