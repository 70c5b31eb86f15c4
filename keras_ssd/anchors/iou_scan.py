"""One pass over the `[batch, boxes, anchors]` IoU matrix, chunk by chunk.

The matrix is never held whole: it is computed `chunk_size` anchors at a time
and reduced to what matching needs, so memory is bounded by one chunk and the
cost is linear in boxes x anchors. Per anchor the pass keeps its best box; per
box (row) it keeps the `NUM_BLOCKS` best blocks of `BLOCK` consecutive anchors,
ranked by their largest IoU, with every IoU inside them, and the best block
it dropped. The kept blocks hold the row's `NUM_BLOCKS` best anchors (each of
those lies in a block at least as good), which is all the greedy bipartite
step of `matching.py` reads in the usual case.

Order: "better" means a larger IoU, then a lower box index, then a lower anchor
(or block) index; every tie below is broken that way, as `tf.argmax` does.
"""

import tensorflow as tf

BLOCK = 32
NUM_BLOCKS = 8
DEFAULT_CHUNK_SIZE = 2048
# Below every IoU and below the -1 of padding, masked rows and taken anchors.
_EMPTY = -2.0


def padded_size(num_anchors, chunk_size):
    """Chunk size (a multiple of `BLOCK`) and anchor count padded to whole chunks.

    Args:
        num_anchors: int, the number of anchors.
        chunk_size: int or None. Anchors per chunk; None for a single chunk.

    Returns:
        `(chunk_size, padded_num_anchors)` as Python ints.
    """
    if chunk_size is None:
        chunk_size = num_anchors
    chunk_size = max(BLOCK, -(-int(chunk_size) // BLOCK) * BLOCK)
    chunk_size = min(chunk_size, -(-num_anchors // BLOCK) * BLOCK)
    return chunk_size, -(-num_anchors // chunk_size) * chunk_size


def _better_block(value, block, other_value, other_block):
    """The better of two (value, block index) pairs, elementwise."""
    first = (value > other_value) | ((value == other_value) & (block < other_block))
    return tf.where(first, value, other_value), tf.where(first, block, other_block)


def scan_iou(iou_chunk, batch_size, num_boxes, num_chunks, chunk_size, with_anchor_best=True):
    """Reduces the IoU matrix chunk by chunk (a `tf.while_loop`, one chunk live).

    Args:
        iou_chunk: callable `i -> [batch, num_boxes, chunk_size]` float32 IoU
            of chunk `i` (a scalar int32 tensor). Entries that must never be
            matched (padding boxes, padding anchors) are -1.
        batch_size: scalar int tensor.
        num_boxes: Python int, the number of rows.
        num_chunks: Python int.
        chunk_size: Python int, a multiple of `BLOCK`.
        with_anchor_best: bool. Also return each anchor's best box.

    Returns:
        A dict with
        `block_values` `[batch, num_boxes, num_kept, BLOCK]` float32: the IoU
        of every anchor of the kept blocks (`_EMPTY` for unfilled slots);
        `block_index` `[batch, num_boxes, num_kept]` int32 (block `k` holds
        anchors `k * BLOCK ... k * BLOCK + BLOCK - 1`);
        `dropped_value` / `dropped_block` `[batch, num_boxes]`: the best block
        not kept (its largest IoU and its index; `_EMPTY` if none);
        with `with_anchor_best`, `anchor_best_iou` and `anchor_best_box`
        `[batch, num_chunks * chunk_size]`.
    """
    blocks_per_chunk = chunk_size // BLOCK
    num_kept = min(NUM_BLOCKS, blocks_per_chunk * num_chunks)
    # Of a chunk only its best num_kept blocks can be kept; when that is all
    # of them, a padding column stands for the best one dropped.
    chunk_kept = min(num_kept, blocks_per_chunk)
    box_index = tf.range(num_boxes, dtype=tf.int32)[tf.newaxis, :, tf.newaxis]
    rows = tf.stack([batch_size, num_boxes])

    def body(i, kept_values, kept_max, kept_block, dropped_value, dropped_block, best_iou, best_box):
        iou = iou_chunk(i)
        if with_anchor_best:
            # Cheaper than tf.argmax over the middle axis on CPU, and its tie rule is certain.
            column_max = tf.reduce_max(iou, axis=1)
            is_max = iou == column_max[:, tf.newaxis, :]
            best_iou = best_iou.write(i, column_max)
            best_box = best_box.write(
                i, tf.reduce_min(tf.where(is_max, box_index, num_boxes), axis=1)
            )
        values = tf.reshape(iou, tf.concat([rows, [blocks_per_chunk, BLOCK]], 0))
        block_max = tf.reduce_max(values, axis=-1)
        if chunk_kept == blocks_per_chunk:
            block_max = tf.pad(block_max, [[0, 0], [0, 0], [0, 1]], constant_values=_EMPTY)
        # The chunk's best blocks first, then a merge with the kept ones. top_k
        # puts the lower position first on ties and kept blocks come first, with
        # lower indices: ties go to the lower block.
        chunk_best = tf.math.top_k(block_max, chunk_kept + 1)
        chunk_order = chunk_best.indices[..., :chunk_kept]
        chunk_values = tf.gather(values, chunk_order, batch_dims=2)
        chunk_block = i * blocks_per_chunk + chunk_best.indices
        dropped_value, dropped_block = _better_block(
            dropped_value, dropped_block, chunk_best.values[..., -1], chunk_block[..., -1]
        )
        all_max = tf.concat([kept_max, chunk_best.values[..., :chunk_kept]], axis=2)
        all_block = tf.concat([kept_block, chunk_block[..., :chunk_kept]], axis=2)
        order = tf.math.top_k(all_max, num_kept + 1).indices
        dropped_value, dropped_block = _better_block(
            dropped_value,
            dropped_block,
            tf.gather(all_max, order[..., num_kept], batch_dims=2),
            tf.gather(all_block, order[..., num_kept], batch_dims=2),
        )
        keep = order[..., :num_kept]
        kept_values = tf.gather(tf.concat([kept_values, chunk_values], axis=2), keep, batch_dims=2)
        state = (
            kept_values,
            tf.gather(all_max, keep, batch_dims=2),
            tf.gather(all_block, keep, batch_dims=2),
            dropped_value,
            dropped_block,
        )
        # The loop needs the static shapes it started with.
        state = [tf.ensure_shape(new, old.shape) for new, old in zip(state, initial[1:6])]
        return (i + 1, *state, best_iou, best_box)

    kept_shape = tf.stack([batch_size, num_boxes, num_kept])
    initial = (
        tf.constant(0),
        tf.fill(tf.concat([kept_shape, [BLOCK]], 0), _EMPTY),
        tf.fill(kept_shape, _EMPTY),
        tf.zeros(kept_shape, tf.int32),
        tf.fill(rows, _EMPTY),
        tf.zeros(rows, tf.int32),
        tf.TensorArray(tf.float32, size=num_chunks),
        tf.TensorArray(tf.int32, size=num_chunks),
    )
    _, kept_values, _, kept_block, dropped_value, dropped_block, best_iou, best_box = (
        tf.while_loop(
            lambda i, *_: i < num_chunks,
            body,
            initial,
            maximum_iterations=num_chunks,
            parallel_iterations=1,
        )
    )
    result = {
        "block_values": kept_values,
        "block_index": kept_block,
        "dropped_value": dropped_value,
        "dropped_block": dropped_block,
    }
    if with_anchor_best:

        def by_anchor(array):
            stacked = tf.transpose(array.stack(), [1, 0, 2])  # [batch, chunks, chunk]
            return tf.reshape(stacked, [batch_size, num_chunks * chunk_size])

        result["anchor_best_iou"] = by_anchor(best_iou)
        result["anchor_best_box"] = by_anchor(best_box)
    return result
