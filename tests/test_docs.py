"""Runs every ```python block of docs/*.md, so the documentation cannot rot.

The blocks of one page run in order in one namespace (a later block may use
what an earlier one defined); each page starts from a fresh namespace.
"""

import pathlib
import re

import pytest

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"
PYTHON_BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def python_blocks(path):
    """The source of each ```python block of a Markdown file, with its first line number."""
    text = path.read_text(encoding="utf-8")
    return [
        (text.count("\n", 0, match.start(1)) + 1, match.group(1))
        for match in PYTHON_BLOCK.finditer(text)
    ]


PAGES = sorted(path for path in DOCS.glob("*.md") if python_blocks(path))


def test_block_extraction():
    blocks = python_blocks(DOCS / "class_imbalance.md")
    assert len(blocks) >= 4
    assert all("```" not in source for _, source in blocks)


@pytest.mark.long_running(seconds=20)
@pytest.mark.parametrize("path", PAGES, ids=[path.name for path in PAGES])
def test_python_blocks_run(path):
    namespace = {"__name__": f"docs_{path.stem}"}
    for line, source in python_blocks(path):
        # Pad with blank lines so a traceback points at the line in the .md file.
        code = compile("\n" * (line - 1) + source, str(path), "exec")
        exec(code, namespace)  # noqa: S102 - the docs are ours
