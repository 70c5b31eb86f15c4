"""Finds where a JPEG or PNG file really ends, by walking its structure.

The readers check each image before training starts, so that a file cut short is
reported by name instead of failing a `tf.data` pipeline hours later. The check must
agree with TensorFlow's decoder (`tf.io.decode_image`): it rejects a JPEG without its
EOI marker and a PNG without its IEND chunk, but it reads nothing after them, so bytes
appended after the end (zero padding of a download, a phone maker's trailer) are fine.
Searching the last bytes of the file for the end marker gets both wrong: padding pushes
the marker out of reach, and a file cut inside its EXIF thumbnail ends with the
thumbnail's EOI. Walking the segments (JPEG) or chunks (PNG) from the start finds the
real end.
"""

import re
import struct

_JPEG_SOI = b"\xff\xd8"
_JPEG_EOI = 0xD9
_JPEG_SOS = 0xDA
# Markers without a length field: TEM and the restart markers RST0-RST7.
_STANDALONE = {0x01, *range(0xD0, 0xD8)}
# Inside entropy-coded data a 0xFF byte is followed by 0x00 (a stuffed byte) or a
# restart marker; any other byte after a 0xFF (fill bytes aside) starts the next marker.
# A pattern without repetition keeps the regex engine's fast literal scan (~70x faster).
_MARKER_IN_SCAN = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_DHT = 0xC4
# Start-of-frame markers SOF0-SOF15; C4 (DHT), C8 (JPG) and CC (DAC) share the range.
_FRAME_MARKERS = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def jpeg_end(data):
    """The offset just after the EOI marker of a JPEG, walking its segments.

    Segments with a length field are skipped by it (so an EXIF thumbnail's own markers
    are never mistaken for the image's), and entropy-coded data after each SOS is
    scanned for the next marker, as libjpeg does. Bytes between segments that are not
    a marker are passed over, as libjpeg passes over them with a warning.

    Args:
        data: bytes of the whole file.

    Returns:
        int. The offset after `FF D9`, or None when the data ends before the EOI
        marker (a file cut short, which `tf.io.decode_jpeg` rejects).

    Raises:
        ValueError: if `data` does not start with the JPEG SOI marker, or its
            structure is one that libjpeg refuses: a segment length below 2, a
            scan before any frame header (SOF), an EOI before any scan (SOS), or
            a bogus Huffman table.
    """
    if not data.startswith(_JPEG_SOI):
        raise ValueError("not a JPEG (no SOI marker at the start)")
    position, size = 2, len(data)
    seen_frame = seen_scan = False
    while True:
        position = data.find(b"\xff", position)
        if position < 0:
            return None
        while position < size and data[position] == 0xFF:  # fill bytes before a marker
            position += 1
        if position >= size:
            return None
        marker = data[position]
        position += 1
        if marker == _JPEG_EOI:
            if not seen_scan:
                # libjpeg: "Invalid JPEG file structure: missing SOS marker".
                raise ValueError("a corrupt JPEG (it ends before any image data: no SOS marker)")
            return position
        if marker in _STANDALONE or marker == 0x00:
            continue
        if position + 2 > size:
            return None
        (length,) = struct.unpack_from(">H", data, position)
        if length < 2:
            raise ValueError(f"a corrupt JPEG (segment 0xFF{marker:02X} with length {length})")
        if position + length > size:
            return None
        if marker in _FRAME_MARKERS:
            seen_frame = True
        elif marker == _JPEG_DHT:
            _check_huffman_tables(data[position + 2 : position + length])
        elif marker == _JPEG_SOS and not seen_frame:
            raise ValueError("a corrupt JPEG (image data before its frame header: no SOF marker)")
        position += length
        if marker == _JPEG_SOS:
            seen_scan = True
            match = _MARKER_IN_SCAN.search(data, position)
            if match is None:
                return None
            position = match.start()


def _check_huffman_tables(payload):
    """Raises ValueError for a DHT segment that libjpeg rejects ("Bogus Huffman table")."""
    position = 0
    while position < len(payload):
        if position + 17 > len(payload):
            raise ValueError("a corrupt JPEG (a Huffman table is cut short)")
        table_class, table_id = payload[position] >> 4, payload[position] & 0x0F
        num_codes = sum(payload[position + 1 : position + 17])
        if table_class > 1 or table_id > 3 or num_codes > 256:
            raise ValueError("a corrupt JPEG (a bogus Huffman table)")
        position += 17 + num_codes
        if position > len(payload):
            raise ValueError("a corrupt JPEG (a Huffman table is cut short)")


def png_end(file):
    """The offset just after the IEND chunk of a PNG, walking its chunks by their lengths.

    Only the 8-byte chunk headers are read; the chunk data is skipped with `seek`.

    Args:
        file: a binary file object positioned anywhere (it is rewound).

    Returns:
        int. The offset after IEND's CRC, or None when the file ends before it (a file
        cut short, which `tf.io.decode_png` rejects).

    Raises:
        ValueError: if the file does not start with the PNG signature.
    """
    file.seek(0, 2)
    size = file.tell()
    file.seek(0)
    if file.read(8) != _PNG_SIGNATURE:
        raise ValueError("not a PNG (no PNG signature at the start)")
    position = 8
    while position + 8 <= size:
        file.seek(position)
        length, kind = struct.unpack(">I4s", file.read(8))
        position += 12 + length  # header, data and CRC
        if position > size:
            return None
        if kind == b"IEND":
            return position
    return None
