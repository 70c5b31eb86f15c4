"""Latency of the exported SavedModel against the Keras model, and the share of decode + NMS.

For batch sizes 1 and 8 it times, in one process and in alternating rounds (so that load
from other processes hits every variant alike):

- `forward`: the Keras network alone, `model(images)` in a `tf.function`;
- `decode+nms`: `model.decoder` alone on precomputed network outputs;
- `keras`: the raw Keras forward + decode + NMS, `model.detect(images)` in a `tf.function`;
- `saved_model`: the `serving_default` signature of `model.export(...)` reloaded with
  `tf.saved_model.load` (uint8 input, resize, network, decode, NMS, TF OD API outputs).

It prints the median milliseconds per batch, `saved_model / keras` (goal <= 1.10) and the
share of decode + NMS in the Keras latency. The weights are random; an untrained head
scores every anchor at its 0.01 prior, under the 0.05 threshold, which would leave NMS
nothing to do, so the class biases are drawn at random: hundreds of candidates per image
reach NMS, more than a trained model on a typical image (a pessimistic NMS share).

    python bench/inference.py            # MobileNetV2 1.0, 300 px, 20 classes, 20 rounds
    python bench/inference.py --quick    # MobileNetV2 0.35, 128 px, 20 classes, 5 rounds
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_ssd.models.ssd import SSD  # noqa: E402


def _parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Small model, few rounds.")
    parser.add_argument("--image-size", type=int, default=None)
    parser.add_argument("--width", type=float, default=None, help="MobileNetV2 width multiplier.")
    parser.add_argument("--num-classes", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=None, help="Alternating rounds.")
    parser.add_argument("--calls", type=int, default=None, help="Calls per variant per round.")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args(argv)
    defaults = (128, 0.35, 5, 5) if args.quick else (300, 1.0, 20, 10)
    for name, value in zip(("image_size", "width", "rounds", "calls"), defaults):
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def _variants(model, serving, batch_size, image_size, seed=0):
    """`{name: zero-argument callable}` running one batch each, outputs materialised."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (batch_size, image_size, image_size, 3)).astype("uint8")
    floats = tf.constant(pixels.astype("float32"))
    uint8 = tf.constant(pixels)
    forward = tf.function(lambda images: model(images, training=False))
    detect = tf.function(lambda images: model.detect(images))
    raw = forward(floats)
    decode = tf.function(lambda boxes, logits: model.decoder(boxes, logits))
    return {
        "forward": lambda: forward(floats)["boxes"].numpy(),
        "decode+nms": lambda: decode(raw["boxes"], raw["classes"])["boxes"].numpy(),
        "keras": lambda: detect(floats)["boxes"].numpy(),
        "saved_model": lambda: serving(images=uint8)["detection_boxes"].numpy(),
    }


def _time_rounds(variants, rounds, calls):
    """Median seconds per call of each variant; the order rotates every round."""
    names = list(variants)
    for name in names:  # trace and warm up
        for _ in range(2):
            variants[name]()
    samples = {name: [] for name in names}
    for round_index in range(rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            for _ in range(calls):
                variants[name]()
            samples[name].append((time.perf_counter() - start) / calls)
    return {name: statistics.median(values) for name, values in samples.items()}


def _candidates(model, batch_size, image_size):
    """Mean number of (anchor, class) scores over the threshold per image: NMS's input."""
    images = np.random.default_rng(0).uniform(0, 255, (batch_size, image_size, image_size, 3))
    scores = model.decoder.scores(model(images.astype("float32"))["classes"])
    return float(np.mean(np.sum(np.asarray(scores) > model.decoder.confidence_threshold, axis=(1, 2))))


def main(argv=None):
    args = _parse(argv)
    keras.utils.set_random_seed(0)
    model = SSD(
        num_classes=args.num_classes,
        image_size=args.image_size,
        width_multiplier=args.width,
    )
    rng = np.random.default_rng(0)
    for variable in model.head.variables:
        if "bias" in variable.path:
            variable.assign(rng.normal(0.0, 2.0, variable.shape).astype("float32"))
    print(
        f"SSD MobileNetV2 width {args.width}, {args.image_size} px, {args.num_classes} classes, "
        f"{model.anchors.shape[0]} anchors, {model.count_params():,} parameters; "
        f"TensorFlow {tf.__version__}, {os.cpu_count()} CPU(s) visible; "
        f"{args.rounds} alternating rounds x {args.calls} calls, median per batch."
    )
    with tempfile.TemporaryDirectory() as scratch:
        serving = tf.saved_model.load(model.export(os.path.join(scratch, "ssd"))).signatures[
            "serving_default"
        ]
        header = (
            f"{'batch':>5}  {'forward ms':>10}  {'decode+nms ms':>13}  {'keras ms':>9}  "
            f"{'saved_model ms':>14}  {'saved/keras':>11}  {'nms share':>9}  {'NMS input/img':>13}"
        )
        print(header)
        print("-" * len(header))
        for batch_size in args.batch_sizes:
            timings = _time_rounds(
                _variants(model, serving, batch_size, args.image_size), args.rounds, args.calls
            )
            candidates = _candidates(model, batch_size, args.image_size)
            ratio = timings["saved_model"] / timings["keras"]
            share = timings["decode+nms"] / timings["keras"]
            print(
                f"{batch_size:>5}  {1e3 * timings['forward']:>10.2f}  "
                f"{1e3 * timings['decode+nms']:>13.2f}  {1e3 * timings['keras']:>9.2f}  "
                f"{1e3 * timings['saved_model']:>14.2f}  {ratio:>10.3f}x  {share:>9.1%}  {candidates:>13.0f}"
            )
    print("Goal: saved_model / keras <= 1.10.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
