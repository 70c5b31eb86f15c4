"""The image completeness check agrees with TensorFlow's decoder, on files the tests make."""

import io
import struct

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_ssd.data.image_files import check_image_file
from keras_ssd.data.image_integrity import jpeg_end, png_end
from keras_ssd.data.voc_xml import load_voc_xml
from tests.data.test_voc_xml import VocFolder, _xml

PIXELS = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)


def _baseline():
    return tf.io.encode_jpeg(PIXELS, quality=90).numpy()


def _progressive():
    buffer = io.BytesIO()
    Image.fromarray(PIXELS).save(buffer, "JPEG", progressive=True)
    return buffer.getvalue()


def _with_preview(jpeg):
    """An APP2 segment holding a whole small JPEG (its own SOI ... EOI), before the SOS.

    Returns:
        The new JPEG and the offset just after the preview's EOI.
    """
    preview = tf.io.encode_jpeg(PIXELS[:8, :8]).numpy()
    sos = jpeg.find(b"\xff\xda")
    segment = b"\xff\xe2" + struct.pack(">H", len(preview) + 2) + preview
    return jpeg[:sos] + segment + jpeg[sos:], sos + len(segment)


def _decodes(data):
    try:
        tf.io.decode_image(data, channels=3, expand_animations=False).numpy()
    except tf.errors.InvalidArgumentError:
        return False
    return True


def _jpeg_cases():
    cases = {}
    for kind, data in (("baseline", _baseline()), ("progressive", _progressive())):
        cases[f"{kind} complete"] = (data, True)
        cases[f"{kind} + zero padding"] = (data + bytes(5000), True)
        cases[f"{kind} + trailer"] = (data + b"SEFH\x00\x00\x01\x00" + bytes(200) + b"SEFT", True)
        cases[f"{kind} without EOI"] = (data[:-2], False)
        cases[f"{kind} cut 1 byte short"] = (data[:-1], False)
        cases[f"{kind} cut in half"] = (data[: len(data) // 2], False)
    with_preview, preview_end = _with_preview(_baseline())
    cases["preview complete"] = (with_preview, True)
    # Cut right after the preview's EOI: the header is whole and the file ends with
    # FF D9, yet the image data is missing.
    cases["cut after the preview"] = (with_preview[:preview_end], False)
    return cases


JPEG_CASES = _jpeg_cases()


@pytest.mark.parametrize("name", sorted(JPEG_CASES))
def test_jpeg_check_agrees_with_the_decoder(name, tmp_path):
    data, complete = JPEG_CASES[name]
    assert _decodes(data) == complete  # what TensorFlow says
    assert (jpeg_end(data) is not None) == complete
    path = tmp_path / "image.jpg"
    path.write_bytes(data)
    if complete:
        assert check_image_file(str(path)) == (64, 48)
    else:
        with pytest.raises(ValueError, match=r"is a truncated JPEG \(no end marker"):
            check_image_file(str(path))


def test_jpeg_end_is_the_offset_after_eoi():
    data = _baseline()
    assert data.endswith(b"\xff\xd9")
    assert jpeg_end(data) == len(data)
    assert jpeg_end(data + bytes(3000)) == len(data)
    with_preview, _ = _with_preview(data)
    assert jpeg_end(with_preview) == len(with_preview)
    with pytest.raises(ValueError, match="no SOI marker"):
        jpeg_end(b"GIF89a")


def _png():
    return tf.io.encode_png(PIXELS).numpy()


@pytest.mark.parametrize(
    "name, data, complete",
    [
        ("complete", _png(), True),
        ("+ zero padding", _png() + bytes(3000), True),
        ("without IEND", _png()[:-12], False),
        ("cut in the image data", _png()[:-100], False),
    ],
)
def test_png_check_agrees_with_the_decoder(name, data, complete, tmp_path):
    assert _decodes(data) == complete
    with io.BytesIO(data) as file:
        end = png_end(file)
    assert end == (len(_png()) if complete else None)
    path = tmp_path / "image.png"
    path.write_bytes(data)
    if complete:
        assert check_image_file(str(path)) == (64, 48)
    else:
        with pytest.raises(ValueError, match=r"is a truncated PNG"):
            check_image_file(str(path))


def test_reader_keeps_a_padded_jpeg_and_names_a_cut_one(tmp_path):
    folder = VocFolder(tmp_path / "voc")
    data = _baseline()
    (folder.root / "JPEGImages" / "padded.jpg").write_bytes(data + bytes(4096))
    folder.annotation("padded", _xml("padded.jpg", [("cat", (4, 4, 30, 30), False)], size=(64, 48)))
    dataset, names = load_voc_xml(str(folder.root))
    image = next(iter(dataset))["image"].numpy()
    np.testing.assert_array_equal(image, tf.io.decode_jpeg(data).numpy())
    assert names == ["cat"]
    (folder.root / "JPEGImages" / "cut.jpg").write_bytes(data[: len(data) - 40])
    folder.annotation("cut", _xml("cut.jpg", [("cat", (4, 4, 30, 30), False)], size=(64, 48)))
    with pytest.raises(ValueError, match=r"Annotations/cut.xml: image .*cut.jpg is a truncated JPEG"):
        load_voc_xml(str(folder.root))


def _segment(data, marker):
    """The offset and length of the first segment with `marker` (its FF xx included)."""
    start = data.find(b"\xff" + bytes([marker]))
    (length,) = struct.unpack_from(">H", data, start + 2)
    return start, 2 + length


def _structurally_broken():
    """JPEGs whose end marker is in place but whose structure libjpeg refuses."""
    data = _baseline()
    sos, _ = _segment(data, 0xDA)
    sof, sof_length = _segment(data, 0xC0)
    dht, _ = _segment(data, 0xC4)
    bogus = bytearray(data)
    bogus[dht + 5 : dht + 21] = bytes([255] * 16)  # 16 x 255 codes: more than 256
    return {
        "no SOS marker": data[:sos] + b"\xff\xd9",
        "no SOF marker": data[:sof] + data[sof + sof_length :],
        "bogus Huffman table": bytes(bogus),
    }


@pytest.mark.parametrize("name", sorted(_structurally_broken()))
def test_jpeg_check_refuses_what_libjpeg_refuses(name, tmp_path):
    data = _structurally_broken()[name]
    assert not _decodes(data)
    with pytest.raises(ValueError, match=f"a corrupt JPEG .*{name.split()[-2]}"):
        jpeg_end(data)
    path = tmp_path / "image.jpg"
    path.write_bytes(data)
    with pytest.raises(ValueError, match="is not a readable image"):  # PIL's or ours
        check_image_file(str(path))


def _undefined_quantization_table():
    """A JPEG that passes every header check but does not decode: its frame uses table 9."""
    data = bytearray(_baseline())
    sof, _ = _segment(bytes(data), 0xC0)
    data[sof + 12] = 9  # the first component's quantization table selector
    return bytes(data)


@pytest.mark.parametrize("bad_index", [1, 2], ids=["middle", "last"])
def test_an_image_that_fails_to_decode_is_named_when_iterated(tmp_path, bad_index):
    folder = VocFolder(tmp_path / "voc")
    for index in range(3):
        data = _undefined_quantization_table() if index == bad_index else _baseline()
        (folder.root / "JPEGImages" / f"{index}.jpg").write_bytes(data)
        folder.annotation(str(index), _xml(f"{index}.jpg", [("cat", (4, 4, 30, 30), False)], size=(64, 48)))
    assert check_image_file(str(folder.root / "JPEGImages" / f"{bad_index}.jpg")) == (64, 48)
    dataset, _ = load_voc_xml(str(folder.root))
    assert int(dataset.cardinality()) == 3
    iterator = iter(dataset)
    for _ in range(bad_index):  # the images before it come through, decoded
        np.testing.assert_array_equal(next(iterator)["image"], tf.io.decode_jpeg(_baseline()))
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"{bad_index}.jpg could not be read or decoded"):
        next(iterator)
