import zipfile

import numpy as np
import pytest
import tensorflow as tf

from keras_ssd.inference.detector import Detector
from tests.conftest import DETECTING_CLASS_NAMES as CLASS_NAMES
from tests.conftest import make_detecting_model, random_images


def test_keras_file_and_saved_model_give_the_same_detections(tmp_path):
    model = make_detecting_model(confidence_threshold=0.7)
    model.save(tmp_path / "model.keras")
    export_dir = model.export(str(tmp_path / "exported"))
    from_keras = Detector(str(tmp_path / "model.keras"))
    from_export = Detector(export_dir)
    assert (from_keras.kind, from_export.kind) == ("keras", "saved_model")
    for detector in (from_keras, from_export):
        assert detector.class_names == CLASS_NAMES
        assert (detector.num_classes, detector.image_size) == (3, 64)
        assert detector.score_threshold == pytest.approx(0.7)
    image = random_images(1, height=50, width=90, seed=8)[0]
    first, second = from_keras.detect(image), from_export.detect(image)
    assert 0 < len(first["scores"]) < 100
    np.testing.assert_allclose(first["boxes"], second["boxes"], atol=1e-4)
    np.testing.assert_allclose(first["scores"], second["scores"], atol=1e-4)
    np.testing.assert_array_equal(first["classes"], second["classes"])  # both 0-based
    assert first["classes"].dtype == np.int32 and first["boxes"].dtype == np.float32
    # A batch gives each image's detections, padded with class and score -1.
    for detector, single in ((from_keras, first), (from_export, second)):
        batch = detector.detect_batch(np.stack([image, image]))
        count = len(single["scores"])
        assert batch["num_detections"].tolist() == [count, count]
        np.testing.assert_array_equal(batch["classes"][1, :count], single["classes"])
        np.testing.assert_allclose(batch["confidence"][1, :count], single["scores"], atol=1e-6)
        np.testing.assert_allclose(batch["boxes"][0, :count], single["boxes"], atol=1e-6)
        assert np.all(batch["classes"][:, count:] == -1) and np.all(batch["confidence"][:, count:] == -1)
    # Same as the model on the image resized the way the export does it.
    resized = tf.image.resize(image[None].astype("float32"), (64, 64))
    predicted = model.predict(resized, verbose=0)
    count = int(predicted["num_detections"][0])
    np.testing.assert_array_equal(first["classes"], predicted["classes"][0, :count])
    np.testing.assert_allclose(first["scores"], predicted["confidence"][0, :count], atol=1e-4)


def test_class_names_override_and_count_mismatch(tmp_path):
    export_dir = make_detecting_model().export(str(tmp_path / "exported"))
    assert Detector(export_dir, class_names=["a", "b", "c"]).class_names == ["a", "b", "c"]
    with pytest.raises(ValueError, match=r"5 class names were given but .* has num_classes=3"):
        Detector(export_dir, class_names=list("abcde"))


def test_bad_model_paths_are_rejected(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.keras: no such file or directory"):
        Detector(str(tmp_path / "missing.keras"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty: a directory without saved_model.pb"):
        Detector(str(tmp_path / "empty"))
    (tmp_path / "weights.h5").write_bytes(b"\x89HDF")
    with pytest.raises(ValueError, match=r"weights.h5: not a model \(unknown file type\)"):
        Detector(str(tmp_path / "weights.h5"))
    (tmp_path / "broken.keras").write_text("not a zip archive")
    with pytest.raises(ValueError, match=r"broken.keras: not a .keras file \(not a zip archive"):
        Detector(str(tmp_path / "broken.keras"))
    with zipfile.ZipFile(tmp_path / "empty_zip.keras", "w") as archive:
        archive.writestr("notes.txt", "a zip, but no Keras model in it")
    with pytest.raises(ValueError, match="empty_zip.keras: cannot load it as a Keras model"):
        Detector(str(tmp_path / "empty_zip.keras"))


def test_foreign_models_are_rejected(tmp_path):
    import keras

    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    plain.save(tmp_path / "plain.keras")
    with pytest.raises(ValueError, match="plain.keras: a Sequential, not a keras_ssd.SSD"):
        Detector(str(tmp_path / "plain.keras"))
    module = tf.Module()
    module.double = tf.function(lambda x: {"y": 2 * x}, input_signature=[tf.TensorSpec([None])])
    tf.saved_model.save(module, str(tmp_path / "other"), signatures={"serving_default": module.double})
    with pytest.raises(ValueError, match=r"without the keras_ssd signature\(s\) \['metadata'\]"):
        Detector(str(tmp_path / "other"))


def test_detect_rejects_float_or_channel_first_images(tmp_path):
    detector = Detector(make_detecting_model().export(str(tmp_path / "exported")))
    with pytest.raises(ValueError, match=r"expects a uint8 \[height, width, 3\] image, got float32"):
        detector.detect(np.zeros((64, 64, 3), np.float32))
    with pytest.raises(ValueError, match=r"got uint8 \(3, 64, 64\)"):
        detector.detect(np.zeros((3, 64, 64), np.uint8))
