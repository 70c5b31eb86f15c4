"""The main job: train an SSD on the embedded dataset and report per-class AP."""

import math
import os

import keras

from keras_ssd.atomic_files import save_model_atomically
from keras_ssd.data.embedded import load_synthetic_shapes
from keras_ssd.data.pipeline import count_boxes_per_class, to_detection_inputs
from keras_ssd.losses.class_weights import compute_class_weights
from keras_ssd.metrics.model_evaluation import evaluate_model
from keras_ssd.models.ssd import SSD
from keras_ssd.training_checkpoint import TrainingCheckpoint


def _print_class_table(class_names, counts, weights):
    print(f"{'class':<12}{'boxes':>8}{'weight':>9}")
    for index, name in enumerate(class_names):
        weight = "-" if weights is None else f"{weights[index]:.3f}"
        print(f"{name:<12}{int(counts[index]):>8}{weight:>9}")


def train_and_evaluate(
    output_dir,
    data_dir=None,
    epochs=10,
    batch_size=32,
    image_size=128,
    width_multiplier=0.5,
    learning_rate=2e-3,
    class_weight_method="effective_number",
    max_boxes=16,
    train_images=None,
    seed=0,
    data_config="default",
    backbone="mobilenet_v2",
    callbacks=None,
    verbose="auto",
):
    """Trains on `synthetic_shapes`, saves `model.keras`, evaluates the test split.

    A run stopped part-way (even killed) and started again with the same
    `output_dir` resumes from its last completed epoch, optimizer state
    included (`TrainingCheckpoint`); every file is written atomically.

    Args:
        output_dir: str. Receives `model.keras`, `history.csv`, `backup/`,
            `training_curves.png` and `per_class_ap.png`.
        data_dir: tensorflow-datasets data_dir, or None for the default cache.
        epochs: int. Training epochs.
        batch_size: int. Images per batch.
        image_size: int. Side of the square input in pixels.
        width_multiplier: float. MobileNetV2 width (alpha).
        learning_rate: float. Peak of the warm-up + cosine schedule (Adam).
        class_weight_method: a `compute_class_weights` method, or None for
            unweighted training.
        max_boxes: ground-truth boxes kept per image.
        train_images: optional int, train on the first N images only.
        seed: int. Seeds Keras, NumPy, Python and the shuffling.
        data_config: `synthetic_shapes` builder config (`"default"` or the
            20-image `"tiny"` one).
        backbone: `"mobilenet_v2"` or a `keras.Model` (see `SSD`).
        callbacks: optional extra Keras callbacks for `fit`.
        verbose: passed to `fit`.

    Returns:
        The `DetectionReport` of the test split.
    """
    keras.utils.set_random_seed(seed)
    os.makedirs(output_dir, exist_ok=True)
    train_examples, class_names = load_synthetic_shapes("train", data_dir, data_config)
    validation_examples, _ = load_synthetic_shapes("validation", data_dir, data_config)
    test_examples, _ = load_synthetic_shapes("test", data_dir, data_config)
    if train_images:
        train_examples = train_examples.take(train_images)
    counts = count_boxes_per_class(train_examples, len(class_names))
    class_weights = (
        compute_class_weights(counts, method=class_weight_method) if class_weight_method else None
    )
    _print_class_table(class_names, counts, class_weights)

    def inputs(examples, shuffle):
        return to_detection_inputs(
            examples, image_size, max_boxes=max_boxes, batch_size=batch_size, shuffle=shuffle, seed=seed
        )

    train_data = inputs(train_examples, shuffle=True)
    steps_per_epoch = math.ceil(int(train_examples.cardinality()) / batch_size)
    model = SSD(
        num_classes=len(class_names),
        backbone=backbone,
        image_size=image_size,
        width_multiplier=width_multiplier,
        class_weights=None if class_weights is None else list(class_weights),
        class_names=class_names,
    )
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0,
        decay_steps=max(1, (epochs - 1) * steps_per_epoch),
        warmup_target=learning_rate,
        warmup_steps=steps_per_epoch,
        alpha=0.01,
    )
    model.compile(optimizer=keras.optimizers.Adam(schedule, clipnorm=10.0))
    callbacks = [
        *(callbacks or []),
        # Last, so that it records the logs the other callbacks add.
        TrainingCheckpoint(os.path.join(output_dir, "backup"), os.path.join(output_dir, "history.csv")),
    ]
    model.fit(
        train_data,
        validation_data=inputs(validation_examples, shuffle=False),
        epochs=epochs,
        callbacks=callbacks,
        shuffle=False,  # the dataset shuffles itself, seeded
        verbose=verbose,
    )
    save_model_atomically(model, os.path.join(output_dir, "model.keras"))
    report = evaluate_model(model, inputs(test_examples, shuffle=False), class_names)
    _save_pictures(output_dir, report)
    return report


def _save_pictures(output_dir, report):
    """Training curves and the per-class AP chart, next to the model."""
    from keras_ssd.visualization import plot_per_class_ap, plot_training_curves

    plot_training_curves(os.path.join(output_dir, "history.csv")).savefig(
        os.path.join(output_dir, "training_curves.png")
    )
    plot_per_class_ap(report, labels=("test split",), metric="AP50").savefig(
        os.path.join(output_dir, "per_class_ap.png")
    )
