"""One rule for EXIF orientation: the stored pixels in training and in prediction, a warning
for tagged images, and a clear error for boxes drawn on the photo as a viewer turns it."""

import numpy as np
import pytest
from PIL import Image, ImageOps

from keras_ssd.data.voc_xml import load_voc_xml
from keras_ssd.inference.predict import read_image

# Stored 64 wide x 48 high, a white square at x 8..24, y 4..20; orientation 6 tells a viewer
# to turn it 90 degrees clockwise (48 wide x 64 high on screen).
STORED_BOX = (8, 4, 24, 20)  # xmin, ymin, xmax, ymax in the stored frame
# Turned clockwise, a stored point (x, y) shows at (47 - y, x): x 28..44, y 8..24.
DISPLAYED_BOX = (48 - 20, 8, 48 - 4, 24)


def _photo(path):
    pixels = np.zeros((48, 64, 3), np.uint8)
    xmin, ymin, xmax, ymax = STORED_BOX
    pixels[ymin:ymax, xmin:xmax] = 255
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(pixels).save(path, quality=100, exif=exif)


def _white_box(pixels):
    rows, columns = np.nonzero(np.asarray(pixels)[..., 0] > 128)
    return columns.min(), rows.min(), columns.max() + 1, rows.max() + 1


def _voc(folder, size, box):
    (folder / "Annotations").mkdir(parents=True)
    (folder / "JPEGImages").mkdir()
    _photo(folder / "JPEGImages" / "phone.jpg")
    xmin, ymin, xmax, ymax = box
    (folder / "Annotations" / "phone.xml").write_text(
        f"<annotation><filename>phone.jpg</filename><size><width>{size[0]}</width>"
        f"<height>{size[1]}</height></size><object><name>square</name><bndbox><xmin>{xmin}</xmin>"
        f"<ymin>{ymin}</ymin><xmax>{xmax}</xmax><ymax>{ymax}</ymax></bndbox></object></annotation>"
    )
    return str(folder)


def test_the_two_frames_of_the_test_photo(tmp_path):
    _photo(tmp_path / "phone.jpg")
    with Image.open(tmp_path / "phone.jpg") as image:
        assert image.size == (64, 48) and image.getexif()[0x0112] == 6
        assert _white_box(image) == STORED_BOX
        assert _white_box(ImageOps.exif_transpose(image)) == DISPLAYED_BOX


def test_training_reads_the_stored_pixels_and_warns_about_the_tag(tmp_path):
    folder = _voc(tmp_path / "stored", (64, 48), STORED_BOX)
    with pytest.warns(UserWarning, match=r"1 of 1 images carry an EXIF orientation tag .*orientation 6\)"):
        dataset, _ = load_voc_xml(folder)
    example = next(dataset.as_numpy_iterator())
    assert example["image"].shape == (48, 64, 3)
    ymin, xmin, ymax, xmax = example["objects"]["bbox"][0] * [48, 64, 48, 64]
    np.testing.assert_allclose([xmin, ymin, xmax, ymax], STORED_BOX, atol=1e-4)
    assert _white_box(example["image"]) == STORED_BOX  # the box is on the square


def test_boxes_drawn_on_the_turned_photo_are_an_error_that_says_why(tmp_path):
    folder = _voc(tmp_path / "displayed", (48, 64), DISPLAYED_BOX)
    with pytest.raises(ValueError) as raised:
        load_voc_xml(folder)
    message = str(raised.value)
    assert "<size> says 48x64 but image" in message and "is 64x48" in message
    assert "EXIF orientation 6 turns it to 48x64 on screen: it was annotated as displayed" in message
    assert "exiftran" in message


def test_prediction_reads_the_stored_pixels_as_training_does(tmp_path):
    _photo(tmp_path / "phone.jpg")
    pixels = read_image(tmp_path / "phone.jpg")
    assert pixels.shape == (48, 64, 3)
    assert _white_box(pixels) == STORED_BOX


def test_predict_files_warns_once_about_tagged_images(tmp_path):
    from keras_ssd.inference.predict import predict_files
    from tests.conftest import make_detecting_model

    make_detecting_model().save(tmp_path / "model.keras")
    _photo(tmp_path / "phone.jpg")
    Image.new("RGB", (64, 64)).save(tmp_path / "plain.png")
    with pytest.warns(UserWarning, match=r"predict_files: 1 of 2 images carry an EXIF orientation") as caught:
        report = predict_files([tmp_path / "phone.jpg", tmp_path / "plain.png"], tmp_path / "model.keras",
                               str(tmp_path / "out"))  # fmt: skip
    assert sum("EXIF" in str(warning.message) for warning in caught) == 1
    assert (report["images"][0]["width"], report["images"][0]["height"]) == (64, 48)  # stored frame
