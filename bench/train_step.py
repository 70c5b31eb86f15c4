"""Cost of SSD's in-graph target assignment and losses in a train step.

Prints the ratio of a full SSD train step (targets + losses + update) to the same
network's forward + backward + update with a trivial loss, on the same batch,
measured in alternating rounds in one run, and the images/s of both. A third step,
the full one with `TargetAssigner(jit_compile=False)`, shows what compiling the
target assignment with XLA (the default), and with it the per-anchor losses and
their gradients (`keras_ssd.models.compiled_losses`), saves.

Then the parts, each timed alone in a tight loop (steadier than whole steps on a
shared machine): target assignment, which runs beside the network's forward pass,
and the losses' forward + backward on fixed network outputs, which runs between
the network's forward and backward passes, each as a share of the bare step.

    python bench/train_step.py [--quick] [--batch-size 32] [--image-size 128]
"""

import argparse
import statistics
import time

import keras
import numpy as np
import tensorflow as tf

from keras_ssd.data.synthetic_shapes import render_batch
from keras_ssd.models.ssd import SSD


def make_batch(batch_size, image_size, max_boxes):
    images, targets = render_batch(batch_size, image_size, max_boxes)
    return tf.constant(images), {key: tf.constant(value) for key, value in targets.items()}


def make_steps(model, optimizer, jit_compile=False):
    variables = model.trainable_variables

    @tf.function(jit_compile=jit_compile)
    def full_step(images, targets):
        with tf.GradientTape() as tape:
            outputs = model(images, training=True)
            loss = model.compute_loss(images, targets, outputs)
        optimizer.apply(tape.gradient(loss, variables), variables)
        return loss

    @tf.function(jit_compile=jit_compile)
    def bare_step(images, targets):
        with tf.GradientTape() as tape:
            outputs = model(images, training=True)
            loss = 1e-6 * (tf.reduce_sum(outputs["classes"] ** 2) + tf.reduce_sum(outputs["boxes"] ** 2))
        optimizer.apply(tape.gradient(loss, variables), variables)
        return loss

    return full_step, bare_step


def time_steps(step, images, targets, repeats):
    start = time.perf_counter()
    for _ in range(repeats):
        step(images, targets).numpy()
    return (time.perf_counter() - start) / repeats


def time_parts(model, images, targets, bare_ms, rounds):
    """Prints the median ms of target assignment and of the losses' forward + backward.

    The losses are timed twice: as `SSD` runs them (the targets in the
    assignment's XLA call; with anchorwise losses, the per-anchor losses and
    their gradients in a second) and with nothing XLA-compiled (graph ops
    only, differentiated by the tape).
    """
    outputs = {key: tf.constant(value) for key, value in model(images, training=True).items()}
    classes = tf.cast(targets["classes"], tf.int32)

    @tf.function
    def assign():
        return model.target_assigner(targets["boxes"], classes)["positive_mask"]

    def make_loss_and_gradient():
        @tf.function
        def loss_and_gradient():
            with tf.GradientTape() as tape:
                tape.watch(outputs)
                loss = model.compute_loss(None, targets, outputs)
            return tape.gradient(loss, outputs)["classes"]

        return loss_and_gradient

    not_compiled = make_loss_and_gradient()
    model.target_assigner.jit_compile = False
    not_compiled()  # traced now, with jit_compile=False
    model.target_assigner.jit_compile = True
    parts = {
        "target assignment": assign,
        "losses forward + backward (with assignment)": make_loss_and_gradient(),
        "the same, nothing XLA-compiled": not_compiled,
    }
    times = {name: [] for name in parts}
    for _ in range(max(rounds, 7)):
        for name, part in parts.items():
            start = time.perf_counter()
            for _ in range(20):
                part().numpy()
            times[name].append((time.perf_counter() - start) / 20 * 1000)
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:45s}: {median:6.2f} ms (min {min(values):.2f}), {median / bare_ms:.1%} of the bare step")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--width", type=float, default=0.5)
    parser.add_argument("--max-boxes", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="3 rounds of 2 steps, batch 8.")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.repeats, args.batch_size = 3, 2, 8

    model = SSD(num_classes=5, image_size=args.image_size, width_multiplier=args.width)
    optimizer = keras.optimizers.SGD(1e-4)
    optimizer.build(model.trainable_variables)
    images, targets = make_batch(args.batch_size, args.image_size, args.max_boxes)
    full_step, bare_step = make_steps(model, optimizer)
    # The same model, traced with the assignment left to the graph executor.
    model.target_assigner.jit_compile = False
    graph_targets_step, _ = make_steps(model, optimizer)
    time_steps(graph_targets_step, images, targets, 2)  # traced now, with jit_compile=False
    model.target_assigner.jit_compile = True
    steps = {"full": full_step, "bare": bare_step, "graph_targets": graph_targets_step}
    for step in steps.values():  # trace and warm up
        time_steps(step, images, targets, 2)

    times = {name: [] for name in steps}
    for _ in range(args.rounds):
        for name, step in steps.items():
            times[name].append(time_steps(step, images, targets, args.repeats))
    print(f"anchors: {model.anchors.shape[0]}, batch {args.batch_size}, {args.image_size} px, "
          f"MobileNetV2 width {args.width}, {args.rounds} rounds x {args.repeats} steps")
    labels = {"full": "full SSD step", "bare": "bare network",
              "graph_targets": "full, nothing XLA-compiled"}
    for name, label in labels.items():
        median = statistics.median(times[name])
        print(f"{label:31s}: {median * 1000:8.1f} ms  {args.batch_size / median:7.1f} images/s")
    for name in ("full", "graph_targets"):
        ratios = [step / bare for step, bare in zip(times[name], times["bare"])]
        # Other tenants of a shared machine only ever add time: the fastest rounds of each
        # step are the least disturbed, so their ratio is the steadiest figure there.
        fastest = min(times[name]) / min(times["bare"])
        # The 10th percentiles: nearly as undisturbed as the fastest rounds, less luck-dependent.
        low = np.percentile(times[name], 10) / np.percentile(times["bare"], 10)
        print(f"ratio {name}/bare: median {statistics.median(ratios):.3f} "
              f"(min {min(ratios):.3f}, max {max(ratios):.3f}); fastest rounds {fastest:.3f}; "
              f"10th percentiles {low:.3f}; goal <= 1.02")
    time_parts(model, images, targets, statistics.median(times["bare"]) * 1000, args.rounds)


if __name__ == "__main__":
    main()
