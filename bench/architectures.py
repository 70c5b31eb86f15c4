"""Speed of every preset: training and inference images/s, and the SSD train-step overhead.

For each preset at one batch size: training images/s (full SSD step: network,
in-graph target assignment, losses, update), inference images/s (network,
decoding and NMS: `SSD.detect`), and the ratio of the full train step to the
same network's forward + backward + update with a trivial loss, measured in
alternating rounds in one run (min / median / max over the rounds, and the
ratio of the two steps' 10th-percentile times, the least disturbed on a shared
machine).

The CPU defaults use small images and widths (printed with the table); on a GPU
pass `--native` for the published sizes and full widths.

    python bench/architectures.py [--native] [--batch-size 8] [--rounds 7] [--presets a,b]
"""

import argparse
import statistics
import time

import keras
import numpy as np
import tensorflow as tf
from train_step import make_batch, make_steps, time_steps

from keras_ssd.models.ssd import SSD

# Small settings that keep a CPU run to minutes; VGG16's VALID extras need >= ~268 px.
CPU_SETTINGS = {
    "ssd_mobilenet_v2": {"image_size": 128, "width_multiplier": 0.5},
    "ssd300_vgg16": {"image_size": 272, "width_multiplier": 0.25},
    "ssd512_vgg16": {"image_size": 272, "width_multiplier": 0.25},
    "ssdlite320_mobilenet_v2": {"image_size": 128, "width_multiplier": 0.5},
    "ssd640_resnet50_fpn": {"image_size": 128, "width_multiplier": 0.25},
}


def _summary(values):
    return min(values), statistics.median(values), max(values)


def measure(name, overrides, batch_size, max_boxes, rounds, repeats, jit_compile):
    model = SSD.from_preset(name, num_classes=5, **overrides)
    optimizer = keras.optimizers.SGD(1e-4)
    optimizer.build(model.trainable_variables)
    images, targets = make_batch(batch_size, model.image_size, max_boxes)
    full_step, bare_step = make_steps(model, optimizer, jit_compile=jit_compile)
    detect = tf.function(model.detect)
    detect_step = lambda images, targets: detect(images)["num_detections"]  # noqa: E731
    for step in (full_step, bare_step, detect_step):  # trace and warm up
        time_steps(step, images, targets, 2)
    full_times, bare_times, detect_times = [], [], []
    for _ in range(rounds):
        full_times.append(time_steps(full_step, images, targets, repeats))
        bare_times.append(time_steps(bare_step, images, targets, repeats))
        detect_times.append(time_steps(detect_step, images, targets, repeats))
    ratios = [full / bare for full, bare in zip(full_times, bare_times)]
    return {
        "anchors": model.anchors.shape[0],
        "parameters": model.count_params(),
        "train": batch_size / statistics.median(full_times),
        "inference": batch_size / statistics.median(detect_times),
        "ratio": _summary(ratios),
        # Other tenants only add time: the 10th percentiles are the least disturbed rounds.
        "ratio_p10": float(np.percentile(full_times, 10) / np.percentile(bare_times, 10)),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-boxes", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--native", action="store_true", help="published sizes, full widths")
    parser.add_argument("--jit-compile", action="store_true", help="XLA-compile both steps")
    parser.add_argument("--presets", default=",".join(CPU_SETTINGS))
    args = parser.parse_args()
    print(f"batch {args.batch_size}, up to {args.max_boxes} boxes per image, {args.rounds} rounds x "
          f"{args.repeats} steps, jit_compile={args.jit_compile}, devices: "
          f"{[device.device_type for device in tf.config.list_logical_devices()]}")
    header = (f"{'preset':25s} {'size':>5s} {'width':>5s} {'anchors':>7s} {'params':>11s} "
              f"{'train img/s':>11s} {'infer img/s':>11s}  ratio full/bare min / median / max, p10")
    print(header)
    for name in args.presets.split(","):
        overrides = {} if args.native else CPU_SETTINGS[name]
        result = measure(name, overrides, args.batch_size, args.max_boxes, args.rounds,
                         args.repeats, args.jit_compile)
        low, median, high = result["ratio"]
        print(f"{name:25s} {str(overrides.get('image_size', 'native')):>5s} "
              f"{overrides.get('width_multiplier', 1.0):5.2f} {result['anchors']:7d} "
              f"{result['parameters']:11,d} {result['train']:11.1f} {result['inference']:11.1f}  "
              f"{low:.3f} / {median:.3f} / {high:.3f}, {result['ratio_p10']:.3f}", flush=True)
    print("goal: ratio <= 1.02")


if __name__ == "__main__":
    main()
