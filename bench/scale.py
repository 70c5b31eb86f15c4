"""Time and peak memory of SSD target assignment (+ losses) as boxes and anchors grow.

For batch 32, 1 / 10 / 100 / 200 ground-truth boxes per image and the SSD300
(8732) and SSD512 (24564) anchor sets, the script times, inside `tf.function`:

- `assign`: `TargetAssigner` alone (IoU, matching, encoding);
- `assign + losses`: the same followed by the default SSD losses (softmax with
  hard-negative mining and smooth L1 on random predictions, 21 logits),
  normalised by the number of positives.

Each configuration runs in a fresh subprocess, so its peak resident memory
(`ru_maxrss`, which only grows) belongs to it alone; the figure includes
TensorFlow itself (about 0.6 GiB). Times are the min / median / max of
`--rounds` calls after one warm-up call; the CPU time (user + system, all
threads) of a call is printed too, as it depends far less on other jobs
sharing the machine than the wall time does. Boxes are random (seeded): centres
uniform in [0.1, 0.9], sides uniform in [0.02, 0.5], clipped to the image.

Usage: `python bench/scale.py [--rounds N] [--jit] [--boxes 1 10 100 200]
[--anchors 8732 24564] [--chunk-size N|none|auto]`. The full run takes a few minutes on 2 busy cores.
"""

import argparse
import json
import math
import os
import subprocess
import sys

BATCH = 32
NUM_CLASSES = 20
ANCHOR_SETS = {8732: "ssd300", 24564: "ssd512"}


def make_boxes(num_boxes, seed=0):
    """`[BATCH, num_boxes, 4]` normalised yxyx boxes and `[BATCH, num_boxes]` classes."""
    import numpy as np

    rng = np.random.default_rng(seed)
    centre = rng.uniform(0.1, 0.9, (BATCH, num_boxes, 2))
    size = rng.uniform(0.02, 0.5, (BATCH, num_boxes, 2))
    boxes = np.clip(np.concatenate([centre - size / 2, centre + size / 2], -1), 0.0, 1.0)
    classes = rng.integers(0, NUM_CLASSES, (BATCH, num_boxes))
    return boxes.astype("float32"), classes.astype("int32")


def run_one(num_anchors, num_boxes, with_losses, rounds, jit, chunk_size):
    """Runs one configuration in this process and returns its figures."""
    import resource
    import time

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import numpy as np
    import tensorflow as tf

    from keras_ssd.anchors.anchor_generator import AnchorGenerator
    from keras_ssd.anchors.presets import ANCHOR_PRESETS
    from keras_ssd.anchors.target_assigner import TargetAssigner
    from keras_ssd.losses import (
        HardNegativeMining,
        SmoothL1LocalizationLoss,
        WeightedSoftmaxClassificationLoss,
    )

    preset = ANCHOR_PRESETS[ANCHOR_SETS[num_anchors]]
    aspect_ratios = preset["aspect_ratios"]
    anchors = AnchorGenerator(
        preset["feature_map_sizes"],
        aspect_ratios=aspect_ratios,
        scales=preset["scales"],
        steps=preset["steps"],
        image_size=preset["image_size"],
    )()
    assert len(anchors) == num_anchors, len(anchors)
    assigner = TargetAssigner(anchors, chunk_size=chunk_size)
    boxes, classes = (tf.constant(t) for t in make_boxes(num_boxes))
    rng = np.random.default_rng(1)
    logits = tf.constant(rng.normal(0, 1, (BATCH, num_anchors, NUM_CLASSES + 1)), tf.float32)
    deltas = tf.constant(rng.normal(0, 1, (BATCH, num_anchors, 4)), tf.float32)
    classification = HardNegativeMining(WeightedSoftmaxClassificationLoss(reduction="none"))
    localization = SmoothL1LocalizationLoss(reduction="none")

    def step(boxes, classes):
        targets = assigner(boxes, classes)
        positive = tf.cast(targets["positive_mask"], tf.float32)
        if not with_losses:
            return tf.reduce_sum(positive)
        class_loss = classification(
            targets["class_targets"], logits, sample_weight=targets["anchor_weights"]
        )
        box_loss = localization(
            targets["box_targets"], deltas, sample_weight=positive * targets["anchor_weights"]
        )
        total = tf.reduce_sum(class_loss) + tf.reduce_sum(box_loss)
        return total / tf.maximum(tf.reduce_sum(positive), 1.0)

    function = tf.function(step, jit_compile=jit)
    float(function(boxes, classes))  # trace, compile and warm up
    times, cpu_times = [], []
    for _ in range(rounds):
        start, cpu_start = time.perf_counter(), time.process_time()
        float(function(boxes, classes))
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "times_ms": sorted(1000 * t for t in times),
        "cpu_ms": sorted(1000 * t for t in cpu_times),
        "peak_gib": peak_kib / 2**20,
    }


def parse_chunk_size(text):
    """`--chunk-size`: an int, "none" (the whole matrix) or "auto"."""
    if text in ("none", "auto"):
        return None if text == "none" else text
    return int(text)


def measure(num_anchors, num_boxes, with_losses, rounds, jit, chunk_size):
    """Runs `run_one` in a fresh interpreter (its own peak RSS)."""
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--one",
        f"{num_anchors},{num_boxes},{int(with_losses)}",
        "--rounds",
        str(rounds),
        "--chunk-size",
        chunk_size,
    ] + (["--jit"] if jit else [])
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{command} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def slope(x0, y0, x1, y1):
    """Exponent p of y ~ x^p between two points."""
    return math.log(y1 / y0) / math.log(x1 / x0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--jit", action="store_true", help="compile with XLA")
    parser.add_argument("--boxes", type=int, nargs="+", default=[1, 10, 100, 200])
    parser.add_argument("--anchors", type=int, nargs="+", default=[8732, 24564])
    parser.add_argument("--chunk-size", default="auto", help="TargetAssigner's chunk_size: N, none or auto")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        num_anchors, num_boxes, with_losses = (int(v) for v in args.one.split(","))
        chunk_size = parse_chunk_size(args.chunk_size)
        print(json.dumps(run_one(num_anchors, num_boxes, bool(with_losses), args.rounds, args.jit, chunk_size)))
        return

    print(
        f"batch {BATCH}, {args.rounds} rounds, jit_compile={args.jit}, chunk_size={args.chunk_size}; "
        "wall ms min / median / max, CPU ms median, peak RSS GiB"
    )
    medians = {}
    for with_losses in (False, True):
        label = "assign + losses" if with_losses else "assign"
        for num_anchors in args.anchors:
            for num_boxes in args.boxes:
                figures = measure(num_anchors, num_boxes, with_losses, args.rounds, args.jit, args.chunk_size)
                times = figures["times_ms"]
                median = times[len(times) // 2]
                cpu = figures["cpu_ms"][len(times) // 2]
                medians[label, num_anchors, num_boxes] = cpu
                print(
                    f"{label:16s} anchors {num_anchors:6d} boxes {num_boxes:4d}: "
                    f"{times[0]:8.1f} / {median:8.1f} / {times[-1]:8.1f} ms wall  "
                    f"{cpu:8.1f} ms CPU  {figures['peak_gib']:.2f} GiB",
                    flush=True,
                )
    print("\nGrowth (exponent p of CPU time ~ n^p, from the medians):")
    for label in ("assign", "assign + losses"):
        for num_anchors in args.anchors:
            pairs = [(10, 100), (100, 200)]
            text = ", ".join(
                f"boxes {a}->{b}: p = {slope(a, medians[label, num_anchors, a], b, medians[label, num_anchors, b]):.2f}"
                for a, b in pairs
                if (label, num_anchors, a) in medians and (label, num_anchors, b) in medians
            )
            print(f"  {label}, {num_anchors} anchors: {text}")
        if len(args.anchors) == 2:
            low, high = args.anchors
            text = ", ".join(
                f"{g} boxes: p = {slope(low, medians[label, low, g], high, medians[label, high, g]):.2f}"
                for g in args.boxes
            )
            print(f"  {label}, anchors {low}->{high}: {text}")
    print("p = 1 is linear in boxes (or anchors); p > 1 grows faster than boxes x anchors.")


if __name__ == "__main__":
    main()
