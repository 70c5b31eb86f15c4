"""Times every keras_ssd loss as a ratio to plain softmax cross-entropy.

For each shape (anchors x logits, batch 8) the script builds one set of
tensors and, inside `tf.function`, times forward + backward (the gradient with
respect to the predictions) of:

- the baseline `reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits)`;
- each classification loss, plain and wrapped in `HardNegativeMining`;
- the localization losses, on `[batch, anchors, 4]` boxes of the same batch.

Rounds alternate: every round times every function once, in an order rotated
from round to round, and a function's figure is the median over rounds of its
time divided by the baseline's time in the same round. Ratios measured that
way survive a machine shared with other jobs far better than absolute times.

Usage: `python bench/losses.py [--quick] [--rounds N] [--repeats N] [--jit]`.
`--quick` (3 rounds of 1 call) takes about 80 s on 2 busy CPU cores.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_ssd.losses import (  # noqa: E402
    HardExampleMiner,
    HardNegativeMining,
    IoULocalizationLoss,
    SigmoidFocalClassificationLoss,
    SmoothL1LocalizationLoss,
    WeightedSigmoidClassificationLoss,
    WeightedSoftmaxClassificationLoss,
)

BATCH = 8
SHAPES = [(8732, 21), (8732, 81), (24564, 21), (24564, 81)]  # SSD300 / SSD512 x VOC / COCO
POSITIVE_FRACTION = 0.005  # a few dozen positive anchors per image, as in SSD300


def make_tensors(num_anchors, num_logits, seed=0):
    """Class targets, per-anchor weights, logits and boxes for one batch."""
    rng = np.random.default_rng(seed)
    positive = rng.random((BATCH, num_anchors)) < POSITIVE_FRACTION
    classes = rng.integers(1, num_logits, (BATCH, num_anchors))
    class_targets = np.where(positive, classes, 0).astype("int32")
    weights = np.ones((BATCH, num_anchors), "float32")
    logits = rng.normal(0.0, 2.0, (BATCH, num_anchors, num_logits)).astype("float32")
    centre = rng.uniform(0.2, 0.8, (BATCH, num_anchors, 2))
    size = rng.uniform(0.05, 0.4, (BATCH, num_anchors, 2))
    target_boxes = np.concatenate([centre - size / 2, centre + size / 2], -1).astype("float32")
    predicted_boxes = (target_boxes + rng.normal(0, 0.02, target_boxes.shape)).astype("float32")
    box_weights = positive.astype("float32")
    return {
        "class_targets": tf.constant(class_targets),
        "weights": tf.constant(weights),
        "logits": tf.constant(logits),
        "target_boxes": tf.constant(target_boxes),
        "predicted_boxes": tf.constant(predicted_boxes),
        "box_weights": tf.constant(box_weights),
    }


def classification_losses():
    """(name, loss) pairs; the sigmoid losses read the same logits as that many classes."""
    softmax = WeightedSoftmaxClassificationLoss()
    sigmoid = WeightedSigmoidClassificationLoss()
    focal = SigmoidFocalClassificationLoss()
    return [
        ("softmax", softmax),
        ("softmax + mining", HardNegativeMining(softmax)),
        (
            "softmax + TF OD mining",
            HardExampleMiner(softmax, num_hard_examples=3000, max_negatives_per_positive=3),
        ),
        ("sigmoid", sigmoid),
        ("sigmoid + mining", HardNegativeMining(sigmoid)),
        ("focal", focal),
        ("focal + mining", HardNegativeMining(focal)),
    ]


def build_functions(tensors, jit_compile):
    """Name -> compiled function returning (loss, sum of the gradient)."""

    def differentiate(compute, prediction):
        with tf.GradientTape() as tape:
            tape.watch(prediction)
            value = compute(prediction)
        return value, tf.reduce_sum(tape.gradient(value, prediction))

    class_targets, weights = tensors["class_targets"], tensors["weights"]
    functions = {}

    def baseline():
        def compute(logits):
            return tf.reduce_sum(
                tf.nn.sparse_softmax_cross_entropy_with_logits(
                    labels=tf.maximum(class_targets, 0), logits=logits
                )
            )

        return differentiate(compute, tensors["logits"])

    functions["softmax CE (baseline)"] = baseline
    for name, loss in classification_losses():

        def run(loss=loss):
            return differentiate(
                lambda logits: loss(class_targets, logits, sample_weight=weights),
                tensors["logits"],
            )

        functions[name] = run
    for name, loss in [
        ("smooth L1 (boxes)", SmoothL1LocalizationLoss()),
        ("GIoU (boxes)", IoULocalizationLoss()),
    ]:

        def run_boxes(loss=loss):
            return differentiate(
                lambda boxes: loss(
                    tensors["target_boxes"], boxes, sample_weight=tensors["box_weights"]
                ),
                tensors["predicted_boxes"],
            )

        functions[name] = run_boxes
    return {
        name: tf.function(function, jit_compile=jit_compile)
        for name, function in functions.items()
    }


def time_once(function, repeats):
    start = time.perf_counter()
    for _ in range(repeats):
        value, gradient_sum = function()
    float(value), float(gradient_sum)  # wait for the result
    return (time.perf_counter() - start) / repeats


def measure(functions, rounds, repeats):
    """Median over rounds of each function's time / the baseline's, and baseline ms."""
    names = list(functions)
    for function in functions.values():  # trace and warm up
        time_once(function, 1)
    ratios = {name: [] for name in names}
    baseline_times = []
    for round_index in range(rounds):
        shift = round_index % len(names)
        order = names[shift:] + names[:shift]
        times = {name: time_once(functions[name], repeats) for name in order}
        base = times[names[0]]
        baseline_times.append(base)
        for name in names:
            ratios[name].append(times[name] / base)
    return (
        {name: statistics.median(values) for name, values in ratios.items()},
        1000 * statistics.median(baseline_times),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds of 1 call each")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 5, quick 3)")
    parser.add_argument(
        "--repeats", type=int, default=None, help="calls per timing (default 2, quick 1)"
    )
    parser.add_argument("--jit", action="store_true", help="tf.function(jit_compile=True)")
    arguments = parser.parse_args()
    rounds = arguments.rounds or (3 if arguments.quick else 5)
    repeats = arguments.repeats or (1 if arguments.quick else 2)

    results = {}
    baselines = {}
    for num_anchors, num_logits in SHAPES:
        functions = build_functions(make_tensors(num_anchors, num_logits), arguments.jit)
        results[(num_anchors, num_logits)], baselines[(num_anchors, num_logits)] = measure(
            functions, rounds, repeats
        )

    print(
        f"keras_ssd losses, forward + backward in tf.function"
        f"{' (XLA)' if arguments.jit else ''}, batch {BATCH}; ratio to softmax CE on the "
        f"same tensors, median of {rounds} alternating rounds of {repeats} call(s)."
    )
    header = f"{'loss':<26}" + "".join(f"{f'{a} x {c}':>14}" for a, c in SHAPES)
    print(header)
    print("-" * len(header))
    for name in next(iter(results.values())):
        print(f"{name:<26}" + "".join(f"{results[shape][name]:>14.2f}" for shape in SHAPES))
    print(
        f"{'baseline time (ms)':<26}" + "".join(f"{baselines[shape]:>14.1f}" for shape in SHAPES)
    )


if __name__ == "__main__":
    main()
