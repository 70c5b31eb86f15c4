import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_ssd
from keras_ssd.export import export_model
from keras_ssd.export.saved_model import (
    CLASS_ID_OFFSET,
    OUTPUT_NAMES,
    export_decoder,
    export_saved_model,
    to_object_detection_outputs,
)
from tests.conftest import DETECTING_CLASS_NAMES as CLASS_NAMES
from tests.conftest import make_detecting_model, random_images

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(keras_ssd.__file__)))

# Runs in a fresh interpreter that cannot import keras_ssd (nor keras-cv): the repository is
# taken off sys.path and a finder refuses the names, since the editable install would find
# them anyway. It loads the export, checks that loading imported no keras module that
# `import tensorflow` had not already, and saves the detections.
_LOADER = textwrap.dedent(
    """
    import importlib.abc, os, sys
    repository, export_dir, images_path, output_path = sys.argv[1:5]
    sys.path = [p for p in sys.path if p not in ("", ".") and os.path.abspath(p) != repository]

    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("keras_ssd", "keras_cv", "keras_hub", "tests"):
                raise ModuleNotFoundError(f"{name} is hidden in this test")
            return None

    sys.meta_path.insert(0, Refuse())
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import numpy as np
    import tensorflow as tf
    try:
        import keras_ssd
        raise SystemExit("keras_ssd is importable")
    except ModuleNotFoundError:
        pass
    before = set(sys.modules)
    loaded = tf.saved_model.load(export_dir)
    outputs = loaded.signatures["serving_default"](images=tf.constant(np.load(images_path)))
    metadata = loaded.signatures["metadata"]()
    new_modules = sorted(m for m in set(sys.modules) - before if m.split(".")[0].startswith("keras"))
    np.savez(
        output_path,
        new_modules=np.array(new_modules, dtype=str),
        class_names=metadata["class_names"].numpy().astype(str),
        **{name: value.numpy() for name, value in outputs.items()},
    )
    """
)


def _load_serving(path):
    return tf.saved_model.load(path).signatures["serving_default"]


def _assert_same_detections(outputs, predicted, atol=1e-4):
    """Exported (TF OD API) outputs equal `SSD.predict` on the valid rows."""
    counts = np.asarray(predicted["num_detections"])
    np.testing.assert_array_equal(np.asarray(outputs["num_detections"]), counts.astype("float32"))
    for image, count in enumerate(counts):
        np.testing.assert_allclose(
            outputs["detection_boxes"][image, :count], predicted["boxes"][image, :count], atol=atol
        )
        np.testing.assert_allclose(
            outputs["detection_scores"][image, :count],
            predicted["confidence"][image, :count],
            atol=atol,
        )
        np.testing.assert_array_equal(
            outputs["detection_classes"][image, :count],
            predicted["classes"][image, :count] + CLASS_ID_OFFSET,
        )
        # Padding rows are zeros, as in the TF OD API.
        assert not np.any(outputs["detection_scores"][image, count:])
        assert not np.any(outputs["detection_classes"][image, count:])


def test_to_object_detection_outputs_closed_form():
    detections = {
        "boxes": tf.constant([[[0.1, 0.2, 0.3, 0.4], [0.5, 0.5, 0.9, 0.9], [-1.0, -1.0, -1.0, -1.0]]]),
        "classes": tf.constant([[0, 2, -1]]),
        "confidence": tf.constant([[0.9, 0.4, -1.0]]),
        "num_detections": tf.constant([2]),
    }
    outputs = {k: v.numpy() for k, v in to_object_detection_outputs(detections).items()}
    np.testing.assert_array_equal(outputs["detection_classes"], [[1.0, 3.0, 0.0]])
    np.testing.assert_allclose(outputs["detection_scores"], [[0.9, 0.4, 0.0]])
    np.testing.assert_allclose(outputs["detection_boxes"][0, 2], [0.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(outputs["detection_boxes"][0, :2], detections["boxes"][0, :2])
    np.testing.assert_array_equal(outputs["num_detections"], [2.0])
    assert all(value.dtype == np.float32 for value in outputs.values())


def test_signature_names_dtypes_shapes_and_labels(tmp_path):
    model = make_detecting_model()
    path = model.export(str(tmp_path / "ssd"), score_threshold=0.3, max_detections=7)
    loaded = tf.saved_model.load(path)
    serving = loaded.signatures["serving_default"]
    _, inputs = serving.structured_input_signature
    assert list(inputs) == ["images"]
    assert inputs["images"].dtype == tf.uint8
    assert inputs["images"].shape.as_list() == [None, None, None, 3]
    outputs = serving.structured_outputs
    assert sorted(outputs) == sorted(OUTPUT_NAMES)
    assert all(spec.dtype == tf.float32 for spec in outputs.values())
    assert outputs["detection_boxes"].shape.as_list() == [None, 7, 4]
    assert outputs["detection_scores"].shape.as_list() == [None, 7]
    assert outputs["detection_classes"].shape.as_list() == [None, 7]
    assert outputs["num_detections"].shape.as_list() == [None]

    metadata = {k: v.numpy() for k, v in loaded.signatures["metadata"]().items()}
    assert metadata["class_names"].astype(str).tolist() == CLASS_NAMES
    assert int(metadata["num_classes"]) == 3 and int(metadata["image_size"]) == 64
    assert int(metadata["class_id_offset"]) == 1 and int(metadata["max_detections"]) == 7
    assert float(metadata["score_threshold"]) == pytest.approx(0.3)
    assert float(metadata["iou_threshold"]) == pytest.approx(model.iou_threshold)
    with open(os.path.join(path, "assets", "labels.txt"), encoding="utf-8") as handle:
        assert handle.read().splitlines() == CLASS_NAMES

    result = serving(images=tf.constant(random_images(2)))
    scores, count = result["detection_scores"].numpy(), result["num_detections"].numpy()
    assert np.all(count <= 7) and np.all(count > 0)
    assert np.all(scores[0, : int(count[0])] >= 0.3)
    classes = result["detection_classes"].numpy()[0, : int(count[0])]
    assert np.all((classes >= 1) & (classes <= 3))


def test_reloaded_without_keras_ssd_matches_predict(tmp_path):
    model = make_detecting_model()
    images = random_images(3, seed=4)
    predicted = model.predict(images.astype("float32"), verbose=0)
    assert np.all(predicted["num_detections"] > 0)
    export_dir = model.export(str(tmp_path / "ssd"))
    np.save(tmp_path / "images.npy", images)
    script = tmp_path / "load.py"
    script.write_text(_LOADER)
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    completed = subprocess.run(
        [sys.executable, str(script), REPOSITORY, export_dir, str(tmp_path / "images.npy"),
         str(tmp_path / "out.npz")],
        capture_output=True,
        text=True,
        cwd=str(tmp_path),
        env=environment,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    outputs = dict(np.load(tmp_path / "out.npz"))
    assert outputs["new_modules"].tolist() == []
    assert outputs["class_names"].tolist() == CLASS_NAMES
    _assert_same_detections(outputs, predicted, atol=1e-4)


def test_images_of_any_size_are_resized_inside(tmp_path):
    model = make_detecting_model()
    images = random_images(2, height=48, width=80, seed=2)
    serving = _load_serving(model.export(str(tmp_path / "ssd")))
    outputs = {k: v.numpy() for k, v in serving(images=tf.constant(images)).items()}
    resized = tf.image.resize(images.astype("float32"), (64, 64)).numpy()
    _assert_same_detections(outputs, model.predict(resized, verbose=0))


def test_export_options_equal_a_decoder_with_those_options(tmp_path):
    model = make_detecting_model()
    images = random_images(2, seed=3)
    serving = _load_serving(
        export_model(model, str(tmp_path / "ssd"), score_threshold=0.6, iou_threshold=0.3, max_detections=5)
    )
    outputs = {k: v.numpy() for k, v in serving(images=tf.constant(images)).items()}
    assert outputs["detection_scores"].shape == (2, 5)
    raw = model(images.astype("float32"))
    decoder = export_decoder(model, score_threshold=0.6, iou_threshold=0.3, max_detections=5)
    expected = {k: np.asarray(v) for k, v in decoder(raw["boxes"], raw["classes"]).items()}
    _assert_same_detections(outputs, expected)
    assert model.decoder.confidence_threshold == pytest.approx(0.05)  # the model is unchanged


def test_mixed_precision_model_exports_float32_outputs(tmp_path):
    keras.config.set_dtype_policy("mixed_float16")
    model = make_detecting_model()
    images = random_images(1, seed=5)
    serving = _load_serving(model.export(str(tmp_path / "ssd"), format="tf_saved_model"))
    outputs = serving(images=tf.constant(images))
    assert all(value.dtype == tf.float32 for value in outputs.values())
    predicted = model.predict(images.astype("float32"), verbose=0)
    count = int(predicted["num_detections"][0])
    assert int(outputs["num_detections"][0]) == count
    np.testing.assert_allclose(
        outputs["detection_scores"].numpy()[0, :count], predicted["confidence"][0, :count], atol=1e-4
    )


def test_bad_export_arguments_are_rejected(tmp_path):
    model = make_detecting_model()
    with pytest.raises(TypeError, match="Expected a keras_ssd.SSD"):
        export_saved_model(keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)]), str(tmp_path / "x"))
    existing_file = tmp_path / "file.txt"
    existing_file.write_text("not a directory")
    with pytest.raises(ValueError, match="it is a file"):
        model.export(str(existing_file))
    with pytest.raises(ValueError, match="confidence_threshold must be in"):
        model.export(str(tmp_path / "a"), score_threshold=1.5)
    with pytest.raises(ValueError, match="max_detections must be a positive int"):
        model.export(str(tmp_path / "b"), max_detections=0)
    with pytest.raises(ValueError, match="Unknown export format 'onnx'"):
        model.export(str(tmp_path / "c"), format="onnx")
    with pytest.raises(ValueError, match=r"Unknown option\(s\) \['quantize'\]"):
        model.export(str(tmp_path / "d"), quantize="dynamic_range")
    assert not any((tmp_path / name).exists() for name in "abcd")


def test_model_without_class_names_exports_numbered_labels(tmp_path):
    model = make_detecting_model(num_classes=2, class_names=None)
    path = model.export(str(tmp_path / "ssd"))
    metadata = tf.saved_model.load(path).signatures["metadata"]()
    assert metadata["class_names"].numpy().astype(str).tolist() == ["class_0", "class_1"]
    assert json.dumps(metadata["num_classes"].numpy().tolist()) == "2"
