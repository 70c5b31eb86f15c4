"""Runs every notebook of notebooks/ top to bottom, with its quick settings.

The notebooks read `KERAS_SSD_NOTEBOOK_QUICK=1` and then use the 20-image `tiny`
config of `synthetic_shapes`, 64 px images, MobileNetV2 width 0.35 and one epoch
(eagerly: a few steps run faster eagerly than traced). The embedded dataset is
written under `KERAS_SSD_DATA_DIR` (a pytest temporary folder, shared by the
notebooks of one worker) and the notebooks' own files under `TMPDIR`, so nothing
is written to `~/.cache`. The three took 1.6 to 2.5 minutes together on 2 shared
cores.
"""

import pathlib

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS_DIR = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
EXPECTED = ["01_quickstart.ipynb", "02_your_own_data.ipynb", "03_losses.ipynb"]
# Pictures each notebook shows.
MIN_FIGURES = {"01_quickstart.ipynb": 6, "02_your_own_data.ipynb": 5, "03_losses.ipynb": 1}
# Seconds one cell may take: the longest cells train several models.
CELL_TIMEOUT = 300


def _code_cells(notebook):
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def test_the_three_notebooks_are_there():
    assert [path.name for path in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_is_committed_valid_and_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    for index, cell in enumerate(_code_cells(notebook)):
        assert cell.outputs == [], f"{path.name}: code cell {index} has outputs; clear them"
        assert cell.execution_count is None, f"{path.name}: code cell {index} has a count"
    sources = "\n".join(cell.source for cell in _code_cells(notebook))
    assert 'os.environ.get("KERAS_SSD_NOTEBOOK_QUICK") == "1"' in sources


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """One tfds folder for the notebooks of a module, so `tiny` is rendered once."""
    return tmp_path_factory.mktemp("tensorflow_datasets")


def _outputs(notebook, output_type):
    return [
        output
        for cell in _code_cells(notebook)
        for output in cell.outputs
        if output.output_type in output_type
    ]


@pytest.mark.long_running(seconds=45)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path, data_dir, tmp_path, monkeypatch):
    # The kernel is a child process: it inherits these.
    monkeypatch.setenv("KERAS_SSD_NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("KERAS_SSD_DATA_DIR", str(data_dir))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError naming the cell and the traceback

    assert _outputs(notebook, ("error",)) == []
    figures = [
        output
        for output in _outputs(notebook, ("display_data", "execute_result"))
        if "image/png" in output.data
    ]
    # Each notebook shows all its pictures (bar charts, detections, curves).
    assert len(figures) >= MIN_FIGURES[path.name]
    text = "".join(output.text for output in _outputs(notebook, ("stream",)))
    # The per-class tables name every class.
    for name in ("circle", "square", "triangle", "cross", "ring"):
        assert name in text
    if "load_synthetic_shapes" in "".join(cell.source for cell in _code_cells(notebook)):
        assert (data_dir / "synthetic_shapes" / "tiny").is_dir()  # not ~/.cache
