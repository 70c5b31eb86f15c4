"""The main job: train an SSD on any reader's examples, watching per-class AP.

`train_detector` is what `keras-ssd train` runs; `train_and_evaluate` is the same on
the embedded `synthetic_shapes` with its test split scored at the end. The run folder
(`run_folder.py`) is resumed after a crash and never overwritten once finished.
"""

import math
import os

import keras

from keras_ssd.utils.atomic_files import save_figure_atomically
from keras_ssd.utils.atomic_files import save_model_atomically
from keras_ssd.augment.ssd_augmentation import SSDAugmentation
from keras_ssd.data.class_statistics import class_statistics
from keras_ssd.data.class_statistics import format_statistics_table
from keras_ssd.data.pipeline import to_detection_inputs
from keras_ssd.data.pipeline import training_epochs
from keras_ssd.data.splits import image_labels as read_image_labels
from keras_ssd.losses import HardNegativeMining
from keras_ssd.losses import SigmoidFocalClassificationLoss
from keras_ssd.losses import WeightedSigmoidClassificationLoss
from keras_ssd.metrics.detection_metrics_callback import DetectionMetrics
from keras_ssd.training.class_weight_choice import class_weights_from_spec
from keras_ssd.models.ssd import SSD
from keras_ssd.training.backbone_options import check_backbone_options
from keras_ssd.training.callbacks import PerClassAPPrinter
from keras_ssd.training.callbacks import ProgressBarWithoutAP
from keras_ssd.training.checkpoint import TrainingCheckpoint
from keras_ssd.training.devices import make_strategy
from keras_ssd.training.devices import set_precision
from keras_ssd.training.devices import worker_output_dir
from keras_ssd.training.run_folder import BACKUP
from keras_ssd.training.run_folder import BEST_MODEL
from keras_ssd.training.run_folder import HISTORY
from keras_ssd.training.run_folder import MODEL
from keras_ssd.training.run_folder import RunFolder
from keras_ssd.training.sampling import epoch_sampler

DEFAULT_ARCHITECTURE = "ssd_mobilenet_v2"

LOSSES = ("softmax", "focal", "sigmoid")
"""`softmax`: the SSD paper's, with 3:1 hard-negative mining; `focal`: sigmoid focal
loss (RetinaNet), every anchor; `sigmoid`: sigmoid cross-entropy with hard-negative
mining (the TF OD API's SSD configs)."""

# Keep the best model by this validation metric (COCO AP at IoU 0.5, averaged over classes).
BEST_METRIC = "val_AP50"


def classification_loss(name):
    """The classification loss object of a `LOSSES` name (None = SSD's default)."""
    if name == "softmax":
        return None
    if name == "focal":
        return SigmoidFocalClassificationLoss()
    if name == "sigmoid":
        return HardNegativeMining(WeightedSigmoidClassificationLoss())
    raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {name!r}.")


def _backbone_network(model):
    """The backbone `keras.Model` inside the SSD's feature extractor."""
    for layer in model.feature_extractor.layers:
        if isinstance(layer, keras.Model):
            return layer
    raise ValueError("the SSD's feature extractor holds no backbone model.")


def _build_model(class_names, weights, options):
    backbone_weights = options["backbone_weights"]
    from_file = backbone_weights not in (None, "imagenet")
    backbone = options["backbone"]
    if isinstance(backbone, str) and backbone.endswith(".keras"):
        if not os.path.isfile(backbone):
            raise ValueError(f"backbone: {backbone} is not a file; expected a .keras backbone model.")
        backbone = keras.saving.load_model(backbone, compile=False)
    architecture = options["architecture"]
    common = {
        "image_size": options["image_size"],
        "backbone_weights": None if from_file else backbone_weights,
        "width_multiplier": options["width_multiplier"],
        "class_weights": weights,
        "class_names": class_names,
    }
    if architecture == DEFAULT_ARCHITECTURE:
        model = SSD(
            num_classes=len(class_names), backbone=backbone,
            classification_loss=classification_loss(options["loss"] or "softmax"), **common,
        )  # fmt: skip
    else:
        if backbone != "mobilenet_v2":
            raise ValueError(
                f"backbone: a backbone of your own goes with the default architecture "
                f"({DEFAULT_ARCHITECTURE}), not with {architecture!r}."
            )
        if options["loss"] is not None:  # else the architecture's own loss
            common["classification_loss"] = classification_loss(options["loss"]) or "softmax"
        model = SSD.from_preset(architecture, num_classes=len(class_names), **common)
    network = _backbone_network(model)
    if from_file:
        try:
            network.load_weights(backbone_weights)
        except (ValueError, OSError, KeyError) as error:
            # Keras' message lists every layer of the network (about 50 KB): its first sentence.
            reason = (str(error).strip() or type(error).__name__).splitlines()[0].split(". ")[0][:300]
            raise ValueError(
                f"backbone_weights: {backbone_weights} does not fit the backbone "
                f"{network.name} ({reason}); were they saved from a backbone of another width, "
                "architecture or input size?"
            ) from None
    if options["freeze_backbone"]:
        # Frozen BatchNormalization also runs in inference mode (Keras 3).
        network.trainable = False
    return model


def check_backbone_weights_fit(backbone, backbone_weights, image_size, width_multiplier, architecture):
    """Builds the run's network once with its backbone weights, before any data is read.

    Weights of another backbone, or ImageNet weights that cannot be downloaded, then stop
    a run at once with their one-line error, not after a pass over the data. The network
    is built with one class and thrown away: the backbone is what the weights must fit.

    Args:
        backbone, backbone_weights, image_size, width_multiplier, architecture: as
            `train_detector` takes them.

    Raises:
        ValueError: the weights do not fit, or cannot be downloaded.
    """
    if backbone_weights is None:
        return
    options = {
        "backbone": backbone, "image_size": image_size, "backbone_weights": backbone_weights,
        "width_multiplier": width_multiplier, "loss": None, "freeze_backbone": False,
        "architecture": architecture,
    }  # fmt: skip
    _build_model(["weights check"], None, options)


def _check_tensorboard():
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise ValueError(
            "tensorboard: TensorBoard logs need the tensorboard package (pip install "
            "tensorboard); train without them, or install it."
        ) from None


def _compile(model, learning_rate, epochs, steps_per_epoch, jit_compile="auto", run_eagerly=False):
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0,
        decay_steps=max(1, (epochs - 1) * steps_per_epoch),
        warmup_target=learning_rate,
        warmup_steps=steps_per_epoch,
        alpha=0.01,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(schedule, clipnorm=10.0),
        jit_compile=jit_compile,
        run_eagerly=run_eagerly,
    )


def train_detector(
    train_examples,
    class_names,
    output_dir,
    validation_examples=None,
    statistics=None,
    epochs=10,
    batch_size=32,
    image_size=128,
    width_multiplier=0.5,
    learning_rate=2e-3,
    class_weights="effective_number",
    loss="softmax",
    augment=True,
    shuffle=True,
    backbone="mobilenet_v2",
    backbone_weights=None,
    freeze_backbone=False,
    max_boxes=16,
    seed=0,
    tensorboard=False,
    architecture=DEFAULT_ARCHITECTURE,
    mixed_precision=None,
    jit_compile="auto",
    run_eagerly=False,
    distribute=None,
    callbacks=None,
    verbose="auto",
    sampling=None,
    repeat_threshold=0.5,
    image_labels=None,
):
    """Trains an SSD on examples of any reader and saves it in `output_dir`.

    Before training it prints the box counts and the class weights. After each
    epoch with validation data it prints the per-class AP50 and logs it
    (`val_AP`, `val_AP50`, `val_AP50/<class>`) in `history.csv`; the model with
    the best `val_AP50` so far is kept as `best_model.keras` beside the last one,
    `model.keras`.

    The run folder: a run stopped part-way (even killed) resumes from its last
    completed epoch, optimizer state included (`TrainingCheckpoint`); every file
    is written atomically. A finished run (its `model.keras`) is never
    overwritten: with `epochs` at most the epochs done it raises, with more it
    continues from its last checkpoint (the learning-rate schedule then spans
    the new total) and extends `history.csv`, saying so.

    Args:
        train_examples: `tf.data.Dataset` of reader examples
            (docs/conventions.md, "Examples from readers"), with images.
        class_names: sequence of str. Class names, indexed by label.
        output_dir: str. Receives `model.keras`, `best_model.keras`,
            `history.csv`, `backup/` (the last epoch's checkpoint) and `logs/`
            (TensorBoard).
        validation_examples: optional dataset of examples, scored every epoch.
        statistics: optional `ClassStatistics` of `train_examples` (counted on a
            `load_images=False` twin, it needs no image decoding). Defaults to
            `None`: counted on `train_examples`.
        epochs: int. Total epochs of the run.
        batch_size: int. Images per batch.
        image_size: int. Side of the square input in pixels.
        width_multiplier: float. MobileNetV2 width (alpha).
        learning_rate: float. Peak of the warm-up + cosine schedule (Adam).
        class_weights: a choice of `class_weights_from_spec`: a
            `compute_class_weights` method name, `"none"`/None, explicit values
            (`"1.0,0.2"`, `"top=1.0,dress=0.2"`) or a list or dict.
        loss: str. One of `LOSSES`, or None for the architecture's own
            (`"softmax"` for the default). Defaults to `"softmax"`.
        augment: bool. SSD's augmentation (`SSDAugmentation` at `image_size`).
            Defaults to True.
        shuffle: bool. Shuffle the training images, reshuffled every epoch.
            Defaults to True.
        backbone: `"mobilenet_v2"`, a `keras.Model` (see `SSD`) or the path of
            a `.keras` file holding one.
        backbone_weights: None, `"imagenet"` (downloaded once by
            `keras.applications`) or the path of a Keras weights file of the
            backbone (works offline). Defaults to None.
        freeze_backbone: bool. Train only the extra layers and the head.
            Defaults to False.
        max_boxes: int. Ground-truth boxes kept per image.
        seed: int. Seeds Keras, NumPy, Python, the shuffle and the augmentation.
        tensorboard: bool. Write TensorBoard logs to `output_dir/logs`.
        architecture: str. A name of `SSD.presets()`. Defaults to
            `"ssd_mobilenet_v2"` (with `width_multiplier` and `backbone`).
        mixed_precision: None, `"float16"` or `"bfloat16"`
            (`devices.PRECISIONS`); it sets Keras' global dtype policy.
        jit_compile: passed to `compile`: `"auto"` (Keras: XLA with one GPU),
            True or False.
        run_eagerly: bool. Passed to `compile`: run the train, test and predict
            steps eagerly. A handful of steps on tiny images (a notebook's quick
            setting, debugging) run faster than traced. Defaults to False.
        distribute: None, `"mirrored"` or `"multi_worker"`
            (`devices.make_strategy`); `batch_size` is then the global
            batch. Under `"multi_worker"` workers other than the chief write to
            `output_dir/worker_<index>`.
        callbacks: optional extra Keras callbacks for `fit`.
        verbose: passed to `fit`.
        sampling: None (every image once an epoch), `"repeat_factor"` or
            `"class_aware"` (`keras_ssd.training.sampling`). A sampled epoch has
            its expected number of images' batches exactly. Defaults to None.
        repeat_threshold: float. The threshold of `"repeat_factor"`. Defaults to 0.5.
        image_labels: optional per-image labels of `train_examples`
            (`splits.image_labels` of their `load_images=False` twin); read from
            `train_examples` when sampling needs them and they are not given.

    Returns:
        A tuple `(model, report)`: the trained `SSD`, and the `DetectionReport`
        of the last validation (None without validation data).

    Raises:
        ValueError: a finished run in `output_dir` and `epochs` no more than
            its epochs; a continued run whose classes differ; bad options.
    """
    check_backbone_options(backbone, backbone_weights, freeze_backbone)
    if loss is not None and loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}.")
    if architecture not in SSD.presets():
        raise ValueError(
            f"architecture must be one of {', '.join(SSD.presets())}, got {architecture!r}."
        )
    class_names = list(class_names)
    # The strategy first: it sets up the devices before any other TensorFlow work.
    strategy = make_strategy(distribute)
    set_precision(mixed_precision)
    if distribute == "multi_worker":
        output_dir = worker_output_dir(output_dir)
    run = RunFolder(output_dir)
    initial_epoch = run.check_can_train(epochs)
    if tensorboard:
        _check_tensorboard()
    keras.utils.set_random_seed(seed)
    if statistics is None:
        statistics = class_statistics(train_examples, class_names, verbose=0)
    if initial_epoch:
        with strategy.scope():
            model = keras.saving.load_model(os.path.join(output_dir, MODEL), compile=False)
        if list(model.class_names or []) != class_names:
            raise ValueError(
                f"{output_dir}/{MODEL} has classes {model.class_names}, the data has "
                f"{class_names}; continue a run on the same classes, or pick a new output_dir."
            )
        weights = model.class_weights
        print(f"Continuing the finished run in {output_dir} from epoch {initial_epoch} to {epochs}; "
              "its model keeps the class weights it was built with, not ones computed from this data.")
    else:
        weights = class_weights_from_spec(class_weights, class_names, statistics.num_boxes)
    weight_column = "class weight (of the run)" if initial_epoch else "class weight"
    table = {} if weights is None else {weight_column: weights}
    print(format_statistics_table(statistics, table))
    if not initial_epoch:
        options = {
            "backbone": backbone, "image_size": image_size, "backbone_weights": backbone_weights,
            "width_multiplier": width_multiplier, "loss": loss, "freeze_backbone": freeze_backbone,
            "architecture": architecture,
        }  # fmt: skip
        with strategy.scope():
            model = _build_model(class_names, weights, options)

    num_images = int(train_examples.cardinality())
    if num_images < 0:
        num_images = statistics.num_images_total
    sampler = None
    if sampling is not None:
        if image_labels is None:
            image_labels = read_image_labels(train_examples)
        sampler, num_images, line = epoch_sampler(sampling, image_labels, seed, repeat_threshold)
        print(line)
    steps_per_epoch = max(1, math.ceil(num_images / batch_size))
    # The schedule spans every epoch of the run: a continued run's restored optimizer
    # step carries on along it.
    with strategy.scope():
        _compile(model, learning_rate, epochs, steps_per_epoch, jit_compile, run_eagerly)
    os.makedirs(output_dir, exist_ok=True)
    all_callbacks = []
    metrics = None
    validation = None
    if validation_examples is not None:
        validation = to_detection_inputs(
            validation_examples, image_size, max_boxes=max_boxes, batch_size=batch_size
        )
        metrics = DetectionMetrics(validation, class_names)
        all_callbacks += [
            metrics,
            # The progress bar ends its line before the AP line (Keras appends its own last).
            ProgressBarWithoutAP(),
            PerClassAPPrinter(class_names),
            keras.callbacks.ModelCheckpoint(
                os.path.join(output_dir, BEST_MODEL), monitor=BEST_METRIC, mode="max",
                save_best_only=True, initial_value_threshold=run.best(BEST_METRIC),
            ),
        ]  # fmt: skip
    else:
        print("No validation data: no per-class AP per epoch and no best model "
              "(give validation examples, or hold out a fraction).")
    if tensorboard:
        all_callbacks.append(keras.callbacks.TensorBoard(os.path.join(output_dir, "logs")))
    all_callbacks += list(callbacks or [])
    # Last, so that it records the logs the other callbacks add; it restores the
    # epoch, the weights and the optimizer state of a stopped or continued run.
    checkpoint = TrainingCheckpoint(os.path.join(output_dir, BACKUP), os.path.join(output_dir, HISTORY))
    all_callbacks.append(checkpoint)
    state = checkpoint.read_state()
    # Every epoch's order and augmentation depend on (seed, epoch) alone: a resumed
    # run replays the epochs an uninterrupted one would have seen.
    train_inputs = training_epochs(
        train_examples, image_size, epochs, initial_epoch=state["epoch"] if state else 0,
        seed=seed, sampler=sampler, steps_per_epoch=None if sampler is None else steps_per_epoch,
        max_boxes=max_boxes, batch_size=batch_size, shuffle=shuffle,
        augment=SSDAugmentation(image_size, seed=seed) if augment else None,
    )  # fmt: skip
    model.fit(
        train_inputs,
        validation_data=validation,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        callbacks=all_callbacks,
        shuffle=False,  # the dataset shuffles itself, seeded
        verbose=verbose,
    )
    save_model_atomically(model, os.path.join(output_dir, MODEL))
    report = metrics.reports[-1] if metrics is not None and metrics.reports else None
    return model, report


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
    augment=False,
):
    """Trains on `synthetic_shapes` (`train_detector`), then scores its test split.

    Args:
        output_dir: str. As `train_detector`, plus `training_curves.png` and
            `per_class_ap.png`.
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
        augment: bool. SSD's augmentation; off by default here, where train
            and test images come from one renderer. Defaults to False.

    Returns:
        The `DetectionReport` of the test split.
    """
    from keras_ssd.data.embedded import load_synthetic_shapes
    from keras_ssd.metrics.model_evaluation import evaluate_model

    train_examples, class_names = load_synthetic_shapes("train", data_dir, data_config)
    validation_examples, _ = load_synthetic_shapes("validation", data_dir, data_config)
    test_examples, _ = load_synthetic_shapes("test", data_dir, data_config)
    if train_images:
        train_examples = train_examples.take(train_images)
    model, _ = train_detector(
        train_examples, class_names, output_dir, validation_examples=validation_examples,
        epochs=epochs, batch_size=batch_size, image_size=image_size,
        width_multiplier=width_multiplier, learning_rate=learning_rate,
        class_weights=class_weight_method, augment=augment, backbone=backbone,
        max_boxes=max_boxes, seed=seed, callbacks=callbacks, verbose=verbose,
    )  # fmt: skip
    test = to_detection_inputs(test_examples, image_size, max_boxes=max_boxes, batch_size=batch_size)
    report = evaluate_model(model, test, class_names)
    _save_pictures(output_dir, report)
    return report


def _save_pictures(output_dir, report):
    """Training curves and the per-class AP chart, next to the model."""
    from keras_ssd.visualization import plot_per_class_ap, plot_training_curves

    save_figure_atomically(
        plot_training_curves(os.path.join(output_dir, "history.csv")),
        os.path.join(output_dir, "training_curves.png"),
    )
    save_figure_atomically(
        plot_per_class_ap(report, labels=("test split",), metric="AP50"),
        os.path.join(output_dir, "per_class_ap.png"),
    )
