"""One interface over a `.keras` SSD and an exported SavedModel, for inference on files."""

import os
import zipfile

import numpy as np

from keras_ssd.export.saved_model import (
    CLASS_ID_OFFSET,
    METADATA_SIGNATURE,
    SERVING_SIGNATURE,
    class_names_of,
    resize_images,
)

_MODEL_HELP = (
    "Expected a `.keras` file saved by `SSD.save` or a SavedModel directory written by "
    "`SSD.export` / `keras-ssd export`."
)


class Detector:
    """Detects objects in uint8 images of any size with a saved keras_ssd model.

    Both kinds of model give detections in keras_ssd's convention
    (`docs/conventions.md`): normalised yxyx boxes and 0-based class ids (the
    SavedModel's 1-based TF OD API ids are converted back).

    Args:
        model_path: str. A `.keras` file or an exported SavedModel directory.
        class_names: optional list of names replacing the model's own; it must
            have one name per class of the model.

    Attributes:
        kind: `"keras"` or `"saved_model"`.
        class_names: list of `num_classes` names.
        num_classes: int.
        image_size: int. The side the images are resized to.
        score_threshold: float. Minimum score the model itself keeps.

    Raises:
        FileNotFoundError: `model_path` does not exist.
        ValueError: `model_path` is not a keras_ssd model, or `class_names` has
            the wrong length.

    Example:

    ```python
    detector = Detector("exported/ssd")
    found = detector.detect(image)  # image: uint8 [height, width, 3]
    found["boxes"], found["classes"], found["scores"]
    ```
    """

    def __init__(self, model_path, class_names=None):
        import tensorflow as tf

        model_path = os.fspath(model_path)
        if not os.path.exists(model_path):
            raise FileNotFoundError(f"{model_path}: no such file or directory. {_MODEL_HELP}")
        self.model_path = model_path
        if os.path.isdir(model_path):
            self._load_saved_model(tf, model_path)
        elif model_path.endswith(".keras"):
            self._load_keras(tf, model_path)
        else:
            raise ValueError(f"{model_path}: not a model (unknown file type). {_MODEL_HELP}")
        if class_names is not None:
            class_names = [str(name) for name in class_names]
            if len(class_names) != self.num_classes:
                raise ValueError(
                    f"{len(class_names)} class names were given but the model at {model_path} "
                    f"has num_classes={self.num_classes} (its classes: {self.class_names}). "
                    "Was it trained or exported with another set of classes? Give one name "
                    "per class of this model."
                )
            self.class_names = class_names

    def _load_saved_model(self, tf, path):
        if not os.path.exists(os.path.join(path, "saved_model.pb")):
            raise ValueError(f"{path}: a directory without saved_model.pb. {_MODEL_HELP}")
        loaded = tf.saved_model.load(path)
        missing = [
            name for name in (SERVING_SIGNATURE, METADATA_SIGNATURE) if name not in loaded.signatures
        ]
        if missing:
            raise ValueError(
                f"{path}: a SavedModel without the keras_ssd signature(s) {missing} "
                f"(it has {sorted(loaded.signatures)}). Export it with `keras-ssd export`."
            )
        metadata = {name: value.numpy() for name, value in loaded.signatures[METADATA_SIGNATURE]().items()}
        self.kind = "saved_model"
        self._loaded = loaded  # keeps the variables alive
        self._serve = loaded.signatures[SERVING_SIGNATURE]
        self.class_names = [name.decode("utf-8") for name in metadata["class_names"]]
        self.num_classes = int(metadata["num_classes"])
        self.image_size = int(metadata["image_size"])
        self.score_threshold = float(metadata["score_threshold"])
        self._class_id_offset = int(metadata["class_id_offset"])
        if len(self.class_names) != self.num_classes:
            raise ValueError(
                f"{path}: metadata lists {len(self.class_names)} class names for "
                f"num_classes={self.num_classes}; the export is damaged, export it again."
            )

    def _load_keras(self, tf, path):
        import keras

        import keras_ssd.models.ssd  # noqa: F401  registers SSD and its parts for loading

        if not zipfile.is_zipfile(path):  # Keras would say "File not found"
            raise ValueError(
                f"{path}: not a .keras file (not a zip archive: a damaged or partial copy, or "
                f"another format?). {_MODEL_HELP}"
            )
        try:
            model = keras.saving.load_model(path)
        except Exception as error:  # Keras raises many types for a bad archive
            raise ValueError(f"{path}: cannot load it as a Keras model ({error}). {_MODEL_HELP}") from None
        if not hasattr(model, "decoder") or not hasattr(model, "anchor_generator"):
            raise ValueError(
                f"{path}: a {type(model).__name__}, not a keras_ssd.SSD. {_MODEL_HELP}"
            )
        image_size = model.image_size

        @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8)])
        def serve(images):
            detections = model.detect(resize_images(images, image_size))
            return {
                "boxes": detections["boxes"],
                "classes": tf.cast(detections["classes"], tf.int32),
                "scores": detections["confidence"],
                "num_detections": tf.cast(detections["num_detections"], tf.int32),
            }

        self.kind = "keras"
        self.model = model
        self._serve = serve
        self.class_names = class_names_of(model)
        self.num_classes = model.num_classes
        self.image_size = image_size
        self.score_threshold = float(model.decoder.confidence_threshold)

    def detect_batch(self, images):
        """Detections of a batch of same-size images, padded as `SSD.predict` pads them.

        Args:
            images: uint8 `[batch, height, width, 3]` RGB.

        Returns:
            The keras-cv dict of NumPy arrays (docs/conventions.md, "Detections"):
            `boxes` `[batch, max_detections, 4]`, `classes` `[batch, max_detections]`
            0-based with -1 on padding rows, `confidence` (-1 on padding rows) and
            `num_detections` `[batch]`.

        Raises:
            ValueError: the images are not `[batch, height, width, 3]` uint8.
        """
        images = np.asarray(images)
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(
                f"Detector.detect_batch expects uint8 [batch, height, width, 3] images, got "
                f"{images.dtype} {images.shape}."
            )
        if self.kind == "saved_model":
            outputs = self._serve(images=images)
            boxes = outputs["detection_boxes"].numpy()
            scores = outputs["detection_scores"].numpy()
            classes = np.rint(outputs["detection_classes"].numpy()).astype(np.int32)
            classes -= self._class_id_offset
        else:
            outputs = self._serve(images)
            boxes = outputs["boxes"].numpy()
            scores = outputs["scores"].numpy()
            classes = outputs["classes"].numpy()
        counts = outputs["num_detections"].numpy().astype(np.int32)
        valid = np.arange(boxes.shape[1])[np.newaxis, :] < counts[:, np.newaxis]
        return {
            "boxes": np.where(valid[..., np.newaxis], boxes, 0.0).astype(np.float32),
            "classes": np.where(valid, classes, -1).astype(np.int32),
            "confidence": np.where(valid, scores, -1.0).astype(np.float32),
            "num_detections": counts,
        }

    def detect(self, image):
        """Detections of one image.

        Args:
            image: uint8 `[height, width, 3]` RGB.

        Returns:
            dict of NumPy arrays without padding: `boxes` `[n, 4]` float32
            normalised yxyx, `classes` `[n]` int32 in `[0, num_classes)`,
            `scores` `[n]` float32, best first.

        Raises:
            ValueError: the image is not `[height, width, 3]` uint8, or the model
                returned a class outside `[0, num_classes)`.
        """
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
            raise ValueError(
                f"Detector.detect expects a uint8 [height, width, 3] image, got {image.dtype} "
                f"{image.shape}; `keras_ssd.inference.predict.read_image` converts files."
            )
        if self.kind == "saved_model":
            outputs = self._serve(images=image[np.newaxis])
            count = int(outputs["num_detections"].numpy()[0])
            boxes = outputs["detection_boxes"].numpy()[0, :count]
            scores = outputs["detection_scores"].numpy()[0, :count]
            classes = np.rint(outputs["detection_classes"].numpy()[0, :count]).astype(np.int32)
            classes -= self._class_id_offset
        else:
            outputs = self._serve(image[np.newaxis])
            count = int(outputs["num_detections"].numpy()[0])
            boxes = outputs["boxes"].numpy()[0, :count]
            scores = outputs["scores"].numpy()[0, :count]
            classes = outputs["classes"].numpy()[0, :count]
        bad = (classes < 0) | (classes >= self.num_classes)
        if np.any(bad):
            raise ValueError(
                f"{self.model_path}: the model returned class id {int(classes[bad][0])}, outside "
                f"[0, {self.num_classes}); its metadata and network disagree on the number of "
                "classes. Export the model again."
            )
        return {
            "boxes": boxes.astype(np.float32),
            "classes": classes.astype(np.int32),
            "scores": scores.astype(np.float32),
        }
