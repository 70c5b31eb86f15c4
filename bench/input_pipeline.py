"""Throughput of the training input pipeline, and whether it keeps up with the train step.

Writes synthetic_shapes images as JPEG (or PNG) files of 500 x 375 px (a typical Pascal VOC
photo) to a temporary folder,
then measures on the same files, in alternating rounds in one run:

- bare: read + decode + resize to the model size, batched (the floor of any pipeline);
- padded: bare + boxes padded by `to_detection_inputs` (no augmentation);
- full: decode + `SSDAugmentation` (photometric, zoom out, crop, flip, resize) +
  `to_detection_inputs` padding and batching.

Memory: the peak memory of augmenting one example (`SSDAugmentation`, run eagerly, one
example at a time, `tf.config.experimental.get_memory_info("CPU:0")`) from 640 x 480 inputs,
with the output size passed down (300 px, as `keras-ssd train` does) and without it (the patch
kept at its pixel size: a zoom out by up to 4x then makes an up to 2560 x 1920 float image
before the resize). Rounds alternate between the two; each round takes the largest peak over
its examples (seeds differ per round); min / median / max over the rounds are printed.

Target encoding happens in the model's train step (`SSD.target_assigner`); it is timed on
the full pipeline's batches, and the train step of the default model (bench/train_step.py)
gives the images/s the pipeline has to feed.

    python bench/input_pipeline.py [--quick] [--num-images 400] [--batch-size 32]
    python bench/input_pipeline.py --memory-only [--memory-rounds 7]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf

from keras_ssd.augment import SSDAugmentation
from keras_ssd.data.pipeline import to_detection_inputs
from keras_ssd.data.synthetic_shapes import render_example
from keras_ssd.models.ssd import SSD

# bench/ is the script's folder, hence on sys.path: reuse the train step's helpers.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_step import make_batch, make_steps, time_steps  # noqa: E402

FILE_SIZE = (375, 500)  # height, width of the written images: a typical Pascal VOC photo


def write_files(folder, num_images, image_format):
    paths, boxes, labels = [], [], []
    for index in range(num_images):
        image, image_boxes, image_labels = render_example(index, image_size=448)
        # Normalised boxes are unchanged by a resize to a non-square size.
        image = tf.cast(tf.round(tf.image.resize(image, FILE_SIZE)), tf.uint8)
        encoded = tf.io.encode_jpeg(image, quality=90) if image_format == "jpeg" else tf.io.encode_png(image)
        path = os.path.join(folder, f"{index:05d}.{'jpg' if image_format == 'jpeg' else 'png'}")
        tf.io.write_file(path, encoded)
        paths.append(path)
        boxes.append(image_boxes.astype("float32"))
        labels.append(image_labels.astype("int64"))
    return paths, boxes, labels


def examples(paths, boxes, labels):
    """tfds-style examples decoded lazily from the files, as the readers give them."""
    counts = np.array([len(image_labels) for image_labels in labels])
    padded_boxes = np.zeros((len(paths), counts.max(), 4), "float32")
    padded_labels = np.zeros((len(paths), counts.max()), "int64")
    for index, (image_boxes, image_labels) in enumerate(zip(boxes, labels)):
        padded_boxes[index, : len(image_labels)] = image_boxes
        padded_labels[index, : len(image_labels)] = image_labels
    records = tf.data.Dataset.from_tensor_slices(
        {"path": paths, "bbox": padded_boxes, "label": padded_labels, "count": counts}
    )

    def decode(record):
        image = tf.io.decode_image(tf.io.read_file(record["path"]), channels=3, expand_animations=False)
        count = record["count"]
        return {
            "image": image,
            "objects": {"bbox": record["bbox"][:count], "label": record["label"][:count],
                        "weight": tf.ones([count], tf.float32)},
        }  # fmt: skip

    return records.map(decode, num_parallel_calls=tf.data.AUTOTUNE)


def bare_pipeline(paths, image_size, batch_size):
    def decode_resize(path):
        image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        return tf.image.resize(tf.cast(image, tf.float32), (image_size, image_size))

    dataset = tf.data.Dataset.from_tensor_slices(paths).map(decode_resize, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def images_per_second(dataset, num_batches, warmup_batches=3):
    """Steady-state rate: a fresh iterator over the repeated dataset, its start-up excluded."""
    iterator = iter(dataset.repeat())
    for _ in range(warmup_batches):
        next(iterator)
    start, count = time.perf_counter(), 0
    for _ in range(num_batches):
        count += int(tf.nest.flatten(next(iterator))[0].shape[0])
    return count / (time.perf_counter() - start)


MEMORY_INPUT = (480, 640)  # height, width: a 640 x 480 photo
MEMORY_OUTPUT = 300


def augmentation_peak_bytes(augmentation, num_examples, first_seed):
    """Largest peak of CPU memory allocated while augmenting one example, in bytes."""
    image, boxes, labels = render_example(first_seed, image_size=448)
    image = tf.cast(tf.round(tf.image.resize(image, MEMORY_INPUT)), tf.uint8)
    example = {"image": image, "objects": {"bbox": tf.constant(boxes, tf.float32),
                                           "label": tf.constant(labels, tf.int64)}}  # fmt: skip
    peaks = []
    for index in range(num_examples):
        seed = tf.constant([first_seed, index], tf.int64)
        tf.config.experimental.reset_memory_stats("CPU:0")
        before = tf.config.experimental.get_memory_info("CPU:0")["current"]
        result = augmentation(example, seed)
        peak = tf.config.experimental.get_memory_info("CPU:0")["peak"]
        del result
        peaks.append(peak - before)
    return max(peaks)


def memory_report(rounds, num_examples=24):
    """Prints the peak memory per augmented example, bounded and unbounded output."""
    # Zoom out on every example: the case that used to make the large canvas.
    configurations = {
        f"output {MEMORY_OUTPUT} px (train)": SSDAugmentation(MEMORY_OUTPUT, expand_probability=1.0),
        "output at patch size": SSDAugmentation(None, expand_probability=1.0),
    }
    peaks = {name: [] for name in configurations}
    for round_index in range(rounds):
        for name, augmentation in configurations.items():
            peaks[name].append(augmentation_peak_bytes(augmentation, num_examples, round_index))
    print(f"peak memory per example, {MEMORY_INPUT[1]}x{MEMORY_INPUT[0]} input, zoom out always on, "
          f"{rounds} alternating rounds x {num_examples} examples (MB = 2**20 bytes):")
    for name, values in peaks.items():
        values = [value / 2**20 for value in values]
        print(f"  {name:<24}: min {min(values):7.2f} MB, median {statistics.median(values):7.2f} MB, "
              f"max {max(values):7.2f} MB")
    return peaks


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-images", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--width", type=float, default=0.5)
    parser.add_argument("--max-boxes", type=int, default=16)
    parser.add_argument("--format", default="jpeg", choices=["jpeg", "png"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--num-batches", type=int, default=30, help="Timed batches per round.")
    parser.add_argument("--quick", action="store_true", help="160 images, 3 rounds of 10 batches, train batch 8.")
    parser.add_argument("--memory-rounds", type=int, default=7, help="Rounds of the memory measurement.")
    parser.add_argument("--memory-only", action="store_true", help="Only the peak memory per example.")
    args = parser.parse_args()
    memory_report(args.memory_rounds)
    if args.memory_only:
        return
    train_batch = args.batch_size
    if args.quick:
        args.num_images, args.rounds, args.num_batches, train_batch = 160, 3, 10, 8

    with tempfile.TemporaryDirectory() as folder:
        paths, boxes, labels = write_files(folder, args.num_images, args.format)
        source = examples(paths, boxes, labels)
        pipelines = {
            "bare decode+resize": bare_pipeline(paths, args.image_size, args.batch_size),
            "decode+resize+pad": to_detection_inputs(
                source, args.image_size, max_boxes=args.max_boxes, batch_size=args.batch_size
            ),
            "full (augmented)": to_detection_inputs(
                source, args.image_size, max_boxes=args.max_boxes, batch_size=args.batch_size,
                augment=SSDAugmentation(args.image_size, seed=0),
            ),
        }  # fmt: skip
        rates = {name: [] for name in pipelines}
        for _ in range(args.rounds):
            for name, dataset in pipelines.items():
                rates[name].append(images_per_second(dataset, args.num_batches))
        _, targets = next(iter(pipelines["full (augmented)"]))

    model = SSD(num_classes=5, image_size=args.image_size, width_multiplier=args.width)
    assign = tf.function(lambda b, c, w: model.target_assigner(b, c, w))
    assign(targets["boxes"], targets["classes"], targets["weights"])
    start, repeats = time.perf_counter(), 10
    for _ in range(repeats):
        tf.nest.map_structure(lambda t: t.numpy(), assign(targets["boxes"], targets["classes"], targets["weights"]))
    assign_rate = repeats * int(targets["boxes"].shape[0]) / (time.perf_counter() - start)

    import keras

    optimizer = keras.optimizers.SGD(1e-4)
    optimizer.build(model.trainable_variables)
    images, step_targets = make_batch(train_batch, args.image_size, args.max_boxes)
    full_step, _ = make_steps(model, optimizer)
    time_steps(full_step, images, step_targets, 2)
    step_time = statistics.median(time_steps(full_step, images, step_targets, 2) for _ in range(args.rounds))
    train_rate = train_batch / step_time

    bare = statistics.median(rates["bare decode+resize"])
    print(f"{args.num_images} {args.format.upper()} files of {FILE_SIZE[1]}x{FILE_SIZE[0]} px -> "
          f"{args.image_size} px, batch {args.batch_size}, {args.rounds} rounds x {args.num_batches} batches, "
          f"{os.cpu_count()} CPUs (shared)")
    for name, values in rates.items():
        rate = statistics.median(values)
        print(f"{name:<20}: {rate:8.1f} images/s  ({rate / bare:.2f}x bare; "
              f"min {min(values):.1f}, max {max(values):.1f})")
    full = statistics.median(rates["full (augmented)"])
    print(f"target assignment   : {assign_rate:8.1f} images/s (in the train step, {model.anchors.shape[0]} anchors)")
    print(f"train step          : {train_rate:8.1f} images/s (default SSD, MobileNetV2 width {args.width}, "
          f"batch {train_batch}, {step_time * 1000:.0f} ms)")
    print(f"full / bare = {full / bare:.2f} (goal >= 0.5); pipeline / train step = {full / train_rate:.2f} "
          f"({'keeps up' if full >= train_rate else 'does NOT keep up'}; measured apart, they share the CPUs)")


if __name__ == "__main__":
    main()
