"""SSD default boxes (anchors), following Liu et al. 2016, section 2.2."""

import math

import keras
import numpy as np


def _as_hw(size):
    if isinstance(size, int):
        return size, size
    height, width = size
    return int(height), int(width)


@keras.saving.register_keras_serializable(package="keras_ssd")
class AnchorGenerator:
    """Generates the default boxes of every feature map of an SSD.

    For feature map `k` of `m` with scale `s_k` the generator places, at every
    cell centre, one box per aspect ratio `a` in `{1} ∪ {r, 1/r for r in
    aspect_ratios[k]}` with width `s_k·sqrt(a)` and height `s_k/sqrt(a)`, plus
    the extra 1:1 box of scale `sqrt(s_k·s_{k+1})` (paper, section 2.2).

    Boxes of one location are ordered `[1:1 s_k, 1:1 extra, r_1, 1/r_1, r_2,
    1/r_2, ...]`; locations are row-major over each `[height, width]` map and
    maps follow one another. The SSD heads reshape their outputs in the same
    order.

    Args:
        feature_map_sizes: list of ints or `(height, width)` pairs, one per
            feature map, from the finest to the coarsest.
        aspect_ratios: list (one entry per feature map) of lists of ratios
            greater than 1; each `r` adds the boxes `r` and `1/r`. Defaults to
            `[2]` on every map.
        scales: list of `len(feature_map_sizes) + 1` box scales relative to the
            image side; the last one only serves the extra box of the last map.
            Defaults to `None`, which spaces `min_scale..max_scale` linearly
            over the maps and appends 1.0, as in the paper.
        min_scale: float. Scale of the first map when `scales` is None.
            Defaults to 0.2.
        max_scale: float. Scale of the last map when `scales` is None.
            Defaults to 0.9.
        steps: list of ints, the stride in pixels of each map, used with
            `image_size` to place centres at `(j + offset)·step / image_size`
            (Caffe SSD). Defaults to `None`: centres at `(j + offset) / f_k`.
        image_size: int or `(height, width)`, needed only with `steps`.
        offset: float. Centre offset within a cell. Defaults to 0.5.
        clip: bool. Clip boxes to `[0, 1]`. Defaults to False (Caffe SSD).
        box_shapes: optional explicit boxes: one list per feature map of
            `[height, width]` pairs (fractions of the image side) placed at
            every cell centre. Replaces `aspect_ratios` and the scales, for
            anchor schemes outside the paper's rule (TF OD API's reduced
            lowest layer, RetinaNet-style octave scales). Defaults to None.

    Example:

    >>> generator = AnchorGenerator([2], aspect_ratios=[[2]], scales=[0.5, 1.0])
    >>> generator().shape
    (16, 4)
    """

    def __init__(
        self,
        feature_map_sizes,
        aspect_ratios=None,
        scales=None,
        min_scale=0.2,
        max_scale=0.9,
        steps=None,
        image_size=None,
        offset=0.5,
        clip=False,
        box_shapes=None,
    ):
        if not feature_map_sizes:
            raise ValueError("`feature_map_sizes` must name at least one feature map.")
        num_maps = len(feature_map_sizes)
        if aspect_ratios is None:
            aspect_ratios = [[2.0]] * num_maps
        if len(aspect_ratios) != num_maps:
            raise ValueError(
                f"`aspect_ratios` has {len(aspect_ratios)} entries but there are "
                f"{num_maps} feature maps; give one list of ratios per map."
            )
        for ratios in aspect_ratios:
            for ratio in ratios:
                if not ratio > 1.0:
                    raise ValueError(
                        f"Aspect ratio {ratio} must be > 1: each ratio r adds the boxes "
                        "r and 1/r, and the 1:1 boxes are always present."
                    )
        if scales is not None and len(scales) != num_maps + 1:
            raise ValueError(
                f"`scales` needs {num_maps + 1} values (one per feature map plus one for "
                f"the extra box of the last map), got {len(scales)}."
            )
        if scales is None and not 0.0 < min_scale <= max_scale:
            raise ValueError(
                f"Need 0 < min_scale <= max_scale, got min_scale={min_scale}, "
                f"max_scale={max_scale}."
            )
        if steps is not None:
            if len(steps) != num_maps:
                raise ValueError(
                    f"`steps` has {len(steps)} entries for {num_maps} feature maps."
                )
            if image_size is None:
                raise ValueError("`steps` needs `image_size` to place the centres.")
        if box_shapes is not None:
            if len(box_shapes) != num_maps:
                raise ValueError(
                    f"`box_shapes` has {len(box_shapes)} entries for {num_maps} feature maps."
                )
            for shapes in box_shapes:
                if not len(shapes) or any(len(pair) != 2 or min(pair) <= 0 for pair in shapes):
                    raise ValueError(
                        "`box_shapes` needs, per feature map, at least one [height, width] "
                        f"pair of positive numbers; got {shapes!r}."
                    )
            box_shapes = [[[float(h), float(w)] for h, w in shapes] for shapes in box_shapes]
        self.box_shapes = box_shapes
        self.feature_map_sizes = [
            s if isinstance(s, int) else list(_as_hw(s)) for s in feature_map_sizes
        ]
        self.aspect_ratios = [[float(r) for r in ratios] for ratios in aspect_ratios]
        self.scales = None if scales is None else [float(s) for s in scales]
        self.min_scale = float(min_scale)
        self.max_scale = float(max_scale)
        self.steps = None if steps is None else list(steps)
        self.image_size = image_size if image_size is None or isinstance(image_size, int) else list(image_size)
        self.offset = float(offset)
        self.clip = bool(clip)

    def layer_scales(self):
        """Returns the `num_maps + 1` scales `s_1 .. s_{m+1}`."""
        if self.scales is not None:
            return list(self.scales)
        num_maps = len(self.feature_map_sizes)
        if num_maps == 1:
            return [self.min_scale, 1.0]
        span = self.max_scale - self.min_scale
        return [self.min_scale + span * k / (num_maps - 1) for k in range(num_maps)] + [1.0]

    def num_anchors_per_location(self):
        """Returns the number of boxes at each cell, one int per feature map."""
        if self.box_shapes is not None:
            return [len(shapes) for shapes in self.box_shapes]
        return [2 + 2 * len(ratios) for ratios in self.aspect_ratios]

    def _box_shapes(self, level):
        """Returns `[num_per_location, 2]` heights and widths for one map."""
        if self.box_shapes is not None:
            return np.asarray(self.box_shapes[level], dtype=np.float64)
        scales = self.layer_scales()
        scale, next_scale = scales[level], scales[level + 1]
        extra = math.sqrt(scale * next_scale)
        shapes = [(scale, scale), (extra, extra)]
        for ratio in self.aspect_ratios[level]:
            root = math.sqrt(ratio)
            shapes.append((scale / root, scale * root))
            shapes.append((scale * root, scale / root))
        return np.asarray(shapes, dtype=np.float64)

    def _centres(self, level):
        """Returns `[height * width, 2]` normalised (cy, cx) cell centres."""
        height, width = _as_hw(self.feature_map_sizes[level])
        if self.steps is None:
            cy = (np.arange(height) + self.offset) / height
            cx = (np.arange(width) + self.offset) / width
        else:
            image_height, image_width = _as_hw(self.image_size)
            step_y, step_x = _as_hw(self.steps[level])
            cy = (np.arange(height) + self.offset) * step_y / image_height
            cx = (np.arange(width) + self.offset) * step_x / image_width
        grid_y, grid_x = np.meshgrid(cy, cx, indexing="ij")
        return np.stack([grid_y.ravel(), grid_x.ravel()], axis=-1)

    def anchors_per_level(self):
        """Returns a list of `[num_anchors_k, 4]` float32 arrays, normalised yxyx."""
        levels = []
        for level in range(len(self.feature_map_sizes)):
            centres = self._centres(level)[:, None, :]
            half = self._box_shapes(level)[None, :, :] / 2.0
            boxes = np.concatenate([centres - half, centres + half], axis=-1)
            boxes = boxes.reshape(-1, 4)
            if self.clip:
                boxes = np.clip(boxes, 0.0, 1.0)
            levels.append(boxes.astype(np.float32))
        return levels

    def __call__(self):
        """Returns all anchors, `[num_anchors, 4]` float32, normalised yxyx."""
        return np.concatenate(self.anchors_per_level(), axis=0)

    @property
    def num_anchors(self):
        """Total number of anchors over all feature maps."""
        return sum(
            _as_hw(size)[0] * _as_hw(size)[1] * count
            for size, count in zip(self.feature_map_sizes, self.num_anchors_per_location())
        )

    def get_config(self):
        return {
            "feature_map_sizes": self.feature_map_sizes,
            "aspect_ratios": self.aspect_ratios,
            "scales": self.scales,
            "min_scale": self.min_scale,
            "max_scale": self.max_scale,
            "steps": self.steps,
            "image_size": self.image_size,
            "offset": self.offset,
            "clip": self.clip,
            "box_shapes": self.box_shapes,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
