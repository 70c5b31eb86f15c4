"""`.keras` files written by an earlier keras_ssd still load, with the same numbers.

`tests/fixtures/ssd_saved_by_0.1.0.keras` was written by keras_ssd 0.1.0 before its modules
moved (training/, cli/, inference/): a 64 px SSD on the four-convolution test backbone,
five named classes with class weights, `HardNegativeMining(SigmoidFocalClassificationLoss)`
and a GIoU localization loss, trained one step with Adam. The `.npz` beside it holds two
images and the raw outputs that model gave for them.
"""

import os

import keras
import numpy as np

from keras_ssd import losses
from keras_ssd.models.ssd import SSD

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures")


def test_a_keras_file_saved_by_0_1_0_loads_with_its_losses_weights_and_numbers():
    model = keras.saving.load_model(os.path.join(FIXTURES, "ssd_saved_by_0.1.0.keras"))
    expected = np.load(os.path.join(FIXTURES, "ssd_saved_by_0.1.0_outputs.npz"))
    assert isinstance(model, SSD)
    assert model.class_names == ["a", "b", "c", "d", "e"]
    assert model.class_weights == [1.0, 2.0, 1.0, 1.0, 0.5]
    assert isinstance(model.classification_loss, losses.HardNegativeMining)
    assert model.classification_loss.negative_ratio == 2.0
    assert isinstance(model.classification_loss.loss, losses.SigmoidFocalClassificationLoss)
    assert model.classification_loss.loss.gamma == 1.5
    assert isinstance(model.localization_loss, losses.IoULocalizationLoss)
    assert model.localization_loss.mode == "giou"
    assert (model.localization_weight, model.confidence_threshold) == (0.5, 0.2)
    assert model.optimizer is not None and int(model.optimizer.iterations) == 1
    outputs = model(expected["images"].astype("float32"))
    np.testing.assert_allclose(outputs["boxes"], expected["boxes"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(outputs["classes"], expected["classes"], rtol=1e-5, atol=1e-6)
