"""Builds the documentation site with warnings as errors, as CI would publish it.

`mkdocs build --strict` fails on a broken link or anchor, a page left out of the
nav, and (through mkdocstrings) an object that cannot be found or a docstring
that documents an argument the signature does not have. The API pages are
generated from the docstrings by static analysis (griffe), so the build imports
neither TensorFlow nor keras_ssd and needs no network. The ```python blocks of
the pages are run by tests/test_docs.py.
"""

import pathlib
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent

# Objects the API reference must document: (page, HTML anchor id).
API_OBJECTS = [
    ("model", "keras_ssd.SSD"),
    ("losses", "keras_ssd.compute_class_weights"),
    ("losses", "keras_ssd.losses.WeightedSoftmaxClassificationLoss"),
    ("losses", "keras_ssd.losses.WeightedSigmoidClassificationLoss"),
    ("losses", "keras_ssd.losses.SigmoidFocalClassificationLoss"),
    ("losses", "keras_ssd.losses.HardNegativeMining"),
    ("losses", "keras_ssd.losses.SmoothL1LocalizationLoss"),
    ("anchors", "keras_ssd.AnchorGenerator"),
    ("anchors", "keras_ssd.anchors.box_coder.BoxCoder"),
    ("anchors", "keras_ssd.anchors.target_assigner.TargetAssigner"),
    ("postprocess", "keras_ssd.postprocess.detection_decoder.DetectionDecoder"),
    ("data", "keras_ssd.data.pipeline.to_detection_inputs"),
    ("data", "keras_ssd.data.voc_xml.load_voc_xml"),
    ("data", "keras_ssd.data.tfrecord.read_tfrecord"),
    ("metrics", "keras_ssd.metrics.evaluate_model"),
    ("metrics", "keras_ssd.metrics.DetectionReport"),
    ("metrics", "keras_ssd.metrics.evaluate_detector"),
    ("metrics", "keras_ssd.metrics.detection_confusion_matrix"),
    ("visualization", "keras_ssd.visualization.plot_confusion_matrix"),
    ("export", "keras_ssd.export.export_saved_model"),
]


def _nav_pages(entries):
    for entry in entries:
        for value in entry.values():
            if isinstance(value, list):
                yield from _nav_pages(value)
            else:
                yield value


def test_every_docs_page_is_in_the_nav():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    in_nav = set(_nav_pages(config["nav"]))
    pages = {str(path.relative_to(ROOT / "docs")) for path in (ROOT / "docs").rglob("*.md")}
    assert pages == in_nav
    assert config["theme"]["name"] in ("mkdocs", "readthedocs")  # built in: no download


def test_site_builds_strict_with_the_api_reference(tmp_path):
    site = tmp_path / "site"
    command = [
        sys.executable, "-m", "mkdocs", "build", "--strict",
        "--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(site),
    ]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]

    for page in ("getting_started", "class_imbalance", "conventions", "data_formats",
                 "distributed_training", "export", "from_tf_object_detection_api"):
        assert (site / page / "index.html").is_file(), page
    for page, anchor in API_OBJECTS:
        html = (site / "api" / page / "index.html").read_text(encoding="utf-8")
        assert f'id="{anchor}"' in html, f"{anchor} is missing from api/{page}"
    # The docstrings' content made it in, not only the headings.
    losses = (site / "api" / "losses" / "index.html").read_text(encoding="utf-8")
    assert "class_weights" in losses and "effective_number" in losses
    model = (site / "api" / "model" / "index.html").read_text(encoding="utf-8")
    assert "class_weights" in model and "hard-negative mining" in model
