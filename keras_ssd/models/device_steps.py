"""Train, test and predict steps of `SSD` that work under XLA and every `tf.distribute` strategy.

- Prediction: keras-cv's NMS (`CombinedNonMaxSuppression`) has no XLA kernel, so
  with `jit_compile` on only the network is XLA-compiled; decoding and NMS run
  outside it.
- `MultiWorkerMirroredStrategy`: Keras 3 reduces a nested batch and scalar logs
  in ways the collective strategy refuses (keras-team/keras#20585); see
  `multi_worker.py`.
"""

import keras
import tensorflow as tf

from keras_ssd.models.multi_worker import first_replica_batch
from keras_ssd.models.multi_worker import is_multi_worker
from keras_ssd.models.multi_worker import logs_for_cross_worker_mean


class DeviceSafeSteps:
    """A `keras.Model` mixin; the model provides `decoder`, `detect` and
    `_predict_network` (an untracked holder of the compiled network)."""

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras' build needs only shapes; one replica's batch serves under any
        # strategy, and MultiWorkerMirroredStrategy cannot reduce a nested batch.
        strategy = self._distribute_strategy
        if strategy is None or iterator is None or data_batch is not None:
            return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
        for _, _, batches in iterator:
            data_batch = first_replica_batch(strategy, next(batches))
            break
        return super()._maybe_symbolic_build(data_batch=data_batch)

    def train_step(self, data):
        logs = super().train_step(data)
        return logs_for_cross_worker_mean(logs) if is_multi_worker(self._distribute_strategy) else logs

    def test_step(self, data):
        logs = super().test_step(data)
        return logs_for_cross_worker_mean(logs) if is_multi_worker(self._distribute_strategy) else logs

    def make_predict_function(self, force=False):
        """Keras' predict function, with only the network inside XLA.

        With `jit_compile` on (Keras' `"auto"` turns it on with one GPU),
        Keras would compile the whole predict step, but keras-cv's NMS
        (`CombinedNonMaxSuppression`) has no XLA kernel. The network runs in
        its own XLA-compiled function; decoding and NMS run outside it.
        """
        if self.predict_function is not None and not force:
            return self.predict_function
        jit_compile = self.jit_compile
        self._predict_network.function = None
        if jit_compile and not self.run_eagerly:
            self._predict_network.function = tf.function(
                lambda images: self(images, training=False),
                jit_compile=True,
                reduce_retracing=True,
            )
        self._jit_compile = False
        try:
            super().make_predict_function(force=force)
        finally:
            self._jit_compile = jit_compile
        return self.predict_function

    def predict_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        self._input_counts.add(x)
        network = self._predict_network.function
        if network is None:
            return self.detect(x)
        outputs = network(x)
        return self.decoder(outputs["boxes"], outputs["classes"])

