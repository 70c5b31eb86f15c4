"""A command's output is its own: TensorFlow's log lines only with `--verbose`.

A fresh process each: TensorFlow reads its log level once, when it is imported.
"""

import os
import re
import subprocess
import sys

from PIL import Image

TF_LOG_LINE = re.compile(r"^[IWEF]\d{4} |oneDNN|cuInit|absl::InitializeLog", re.MULTILINE)


def _voc_folder(folder):
    os.makedirs(folder)
    for name in ("a", "b"):
        Image.new("RGB", (32, 24), "white").save(folder / f"{name}.png")
        (folder / f"{name}.xml").write_text(
            f"<annotation><filename>{name}.png</filename><size><width>32</width><height>24</height>"
            "</size><object><name>car</name><bndbox><xmin>2</xmin><ymin>3</ymin><xmax>20</xmax>"
            "<ymax>15</ymax></bndbox></object></annotation>"
        )
    return str(folder)


def _stats(tmp_path, *extra):
    environment = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run(
        [sys.executable, "-m", "keras_ssd", "stats", str(tmp_path / "voc"), "--plot",
         str(tmp_path / "counts.png"), *extra],
        capture_output=True, text=True, timeout=300, env={**environment, "CUDA_VISIBLE_DEVICES": ""},
    )


def test_commands_print_no_tensorflow_log_lines_unless_verbose(tmp_path):
    _voc_folder(tmp_path / "voc")
    quiet = _stats(tmp_path)
    assert quiet.returncode == 0, quiet.stderr
    assert "car" in quiet.stdout
    assert TF_LOG_LINE.search(quiet.stderr) is None, quiet.stderr
    verbose = _stats(tmp_path, "--verbose")
    assert verbose.returncode == 0, verbose.stderr
    assert TF_LOG_LINE.search(verbose.stderr), verbose.stderr  # the lines were there to hide
