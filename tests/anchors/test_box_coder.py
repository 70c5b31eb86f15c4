import numpy as np
import pytest

from keras_ssd.anchors.box_coder import BoxCoder


def test_encode_by_hand():
    anchor = np.array([[0.2, 0.2, 0.6, 0.4]], np.float32)  # centre (0.4, 0.3), h 0.4, w 0.2
    box = np.array([[0.3, 0.2, 0.9, 0.6]], np.float32)  # centre (0.6, 0.4), h 0.6, w 0.4
    deltas = np.asarray(BoxCoder().encode(box, anchor))
    expected = [(0.6 - 0.4) / 0.4 / 0.1, (0.4 - 0.3) / 0.2 / 0.1, np.log(0.6 / 0.4) / 0.2, np.log(0.4 / 0.2) / 0.2]
    np.testing.assert_allclose(deltas[0], expected, rtol=1e-5)


def test_round_trip_batched():
    rng = np.random.default_rng(0)
    anchors = np.sort(rng.uniform(0, 1, (50, 4)).astype(np.float32).reshape(50, 2, 2), axis=1).transpose(0, 2, 1).reshape(50, 4)
    anchors = anchors[:, [0, 1, 2, 3]]
    anchors = np.concatenate([np.minimum(anchors[:, :2], anchors[:, 2:]), np.maximum(anchors[:, :2], anchors[:, 2:]) + 0.01], axis=1)
    boxes = np.clip(anchors[None] + rng.normal(0, 0.05, (3, 50, 4)).astype(np.float32), 0, 1)
    boxes = np.concatenate([np.minimum(boxes[..., :2], boxes[..., 2:]), np.maximum(boxes[..., :2], boxes[..., 2:]) + 0.01], axis=-1)
    coder = BoxCoder()
    decoded = np.asarray(coder.decode(coder.encode(boxes, anchors), anchors))
    np.testing.assert_allclose(decoded, boxes, atol=1e-5)


def test_bad_variances():
    with pytest.raises(ValueError, match="four positive"):
        BoxCoder([0.1, 0.1, 0.2])
    with pytest.raises(ValueError, match="four positive"):
        BoxCoder([0.1, 0.1, 0.2, 0.0])


def test_decode_clamps_log_sizes_at_torchvisions_limit():
    anchor = np.array([[0.4, 0.4, 0.6, 0.6]], np.float32)  # centre 0.5, side 0.2
    deltas = np.array([[[1.0, 0.0, 1e4, 0.0]]], np.float32)  # y moves, height overflows exp
    decoded = np.asarray(BoxCoder().decode(deltas, anchor))[0, 0]
    height = 0.2 * 1000.0 / 16  # exp(log(1000 / 16)) times the anchor
    centre_y = 0.5 + 1.0 * 0.1 * 0.2
    np.testing.assert_allclose(decoded, [centre_y - height / 2, 0.4, centre_y + height / 2, 0.6], rtol=1e-5)
