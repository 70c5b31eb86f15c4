"""Every whole preset trains and exports: `fit` under float32, mixed_bfloat16 and XLA.

The test suite trains every preset in float32 and takes one mixed-precision step per
preset, but XLA-compiles only the heads on a tiny backbone: compiling a whole VGG16
or ResNet50 train step takes minutes on a CPU. This script does the whole thing
for each preset and mode and prints the first and last loss of `fit` on images of
the embedded dataset's renderer, the seconds it took (compilation included) and
whether the loss fell. Each preset (freshly built, float32) is then exported (`model.export`), reloaded
with `tf.saved_model.load` and served uint8 images: the largest difference between its
scores and `model.predict`'s is printed. On a GPU pass `--native` for the published sizes.

    python bench/preset_training.py [--native] [--epochs 6] [--presets a,b] [--modes float32,xla]
"""

import argparse
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from keras_ssd.data.synthetic_shapes import render_batch
from keras_ssd.models.ssd import SSD

# The smallest sizes each preset allows (VGG16's VALID extras need >= ~268 px).
CPU_SETTINGS = {
    "ssd_mobilenet_v2": {"image_size": 96, "width_multiplier": 0.35},
    "ssd300_vgg16": {"image_size": 272, "width_multiplier": 0.125},
    "ssd512_vgg16": {"image_size": 272, "width_multiplier": 0.125},
    "ssdlite320_mobilenet_v2": {"image_size": 96, "width_multiplier": 0.35},
    "ssd640_resnet50_fpn": {"image_size": 64, "width_multiplier": 0.125},
}
MODES = {
    "float32": {"policy": "float32", "jit_compile": False},
    "mixed_bfloat16": {"policy": "mixed_bfloat16", "jit_compile": False},
    "xla": {"policy": "float32", "jit_compile": True},
    "xla+mixed_bfloat16": {"policy": "mixed_bfloat16", "jit_compile": True},
}
# VGG16 without batch normalisation needs a gentler step than the others.
LEARNING_RATES = {"ssd300_vgg16": 3e-4, "ssd512_vgg16": 3e-4}


def train(name, overrides, mode, epochs, num_images):
    """Fits one preset in one mode; returns (first loss, last loss, seconds, model)."""
    keras.utils.set_random_seed(0)
    keras.config.set_dtype_policy(MODES[mode]["policy"])
    try:
        model = SSD.from_preset(name, num_classes=5, **overrides)
        images, targets = render_batch(num_images, model.image_size)
        model.compile(
            optimizer=keras.optimizers.Adam(LEARNING_RATES.get(name, 1e-3)),
            jit_compile=MODES[mode]["jit_compile"],
        )
        start = time.perf_counter()
        losses = model.fit(images, targets, batch_size=num_images, epochs=epochs, verbose=0)
        seconds = time.perf_counter() - start
    finally:
        keras.config.set_dtype_policy("float32")
    losses = losses.history["loss"]
    return losses[0], losses[-1], seconds, model


def export_difference(model, num_images=2):
    """Exports, reloads with TensorFlow alone and compares with `predict`.

    Returns:
        The largest score difference (inf when the detection counts differ) and the
        number of detections compared.
    """
    images, _ = render_batch(num_images, model.image_size)
    pixels = images.astype("uint8")
    with tempfile.TemporaryDirectory() as folder:
        serve = tf.saved_model.load(model.export(f"{folder}/exported")).signatures["serving_default"]
        served = serve(images=tf.constant(pixels))
    predicted = model.predict(pixels.astype("float32"), verbose=0)
    counts = served["num_detections"].numpy().astype(int)
    if not np.array_equal(counts, np.asarray(predicted["num_detections"]).astype(int)):
        return float("inf"), int(counts.sum())
    difference = max(
        (float(np.abs(served["detection_scores"][i, :n] - predicted["confidence"][i, :n]).max(initial=0.0))
         for i, n in enumerate(counts)),
        default=0.0,
    )
    return difference, int(counts.sum())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--native", action="store_true", help="published sizes, full widths")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--images", type=int, default=4, help="images, one batch")
    parser.add_argument("--presets", default=",".join(CPU_SETTINGS))
    parser.add_argument("--modes", default=",".join(MODES))
    args = parser.parse_args()
    print(f"{args.epochs} steps of fit on {args.images} images each")
    print(f"{'preset':25s} {'mode':19s} {'size':>6s} {'first loss':>10s} {'last loss':>10s} "
          f"{'seconds':>8s}  falls")
    for name in args.presets.split(","):
        overrides = {} if args.native else CPU_SETTINGS[name]
        for mode in args.modes.split(","):
            first, last, seconds, model = train(name, overrides, mode, args.epochs, args.images)
            falls = "yes" if np.isfinite(last) and last < first else "NO"
            print(f"{name:25s} {mode:19s} {str(overrides.get('image_size', 'native')):>6s} "
                  f"{first:10.4f} {last:10.4f} {seconds:8.1f}  {falls}", flush=True)
            if mode == "float32":
                # A fresh model with a low threshold: its classes start at a low prior
                # score, and the check needs detections to compare.
                fresh = SSD.from_preset(name, num_classes=5, confidence_threshold=1e-5, **overrides)
                difference, count = export_difference(fresh)
                print(f"{'':25s} export + tf.saved_model.load: the same {count} detections as "
                      f"predict, largest score difference {difference:.2e}", flush=True)


if __name__ == "__main__":
    main()
