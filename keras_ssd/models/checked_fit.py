"""`fit`, `evaluate` and `predict` of `SSD` with its ground-truth and input checks.

Three guards, because XLA compiles `tf.debugging` asserts out: in-memory targets
are checked before `fit` starts, a `tf.data.Dataset` is mapped through asserting
checks (tf.data is never XLA-compiled), and everything else is counted inside
the step and raised or warned by callbacks (`TargetGuard`, `InputWarning`).
"""

import keras

from keras_ssd.data.validation import check_in_memory_targets
from keras_ssd.data.validation import with_target_checks
from keras_ssd.models.input_warnings import InputWarning
from keras_ssd.models.target_guard import TargetGuard
from keras_ssd.models.target_guard import raise_for_target_problems


class GroundTruthCheckedFit:
    """A `keras.Model` mixin; the model provides `num_classes`, `class_names`,
    `_target_problems` (`TargetProblemCounter`) and `_input_counts` (`InputCounter`)."""

    def fit(self, x=None, y=None, *args, validation_data=None, callbacks=None, **kwargs):
        """`keras.Model.fit` with the ground truth checked.

        In-memory targets are checked first (`ValueError` naming the image and
        box); a `tf.data.Dataset` gets an asserting map (tf.data is never
        XLA-compiled); anything else stops with a `ValueError` after the first
        batch whose targets are bad (`TargetGuard`).
        """
        check_in_memory_targets(y, self.num_classes, self.class_names)
        if isinstance(validation_data, tuple) and len(validation_data) >= 2:
            check_in_memory_targets(validation_data[1], self.num_classes, self.class_names)
        self._build_optimizer_before_tracing()
        return super().fit(
            with_target_checks(x, self.num_classes),
            y,
            *args,
            validation_data=with_target_checks(validation_data, self.num_classes),
            callbacks=self._with_target_guard(callbacks),
            **kwargs,
        )

    def evaluate(self, x=None, y=None, *args, callbacks=None, **kwargs):
        """`keras.Model.evaluate` with the ground truth checked as in `fit`."""
        check_in_memory_targets(y, self.num_classes, self.class_names)
        return super().evaluate(
            with_target_checks(x, self.num_classes), y, *args, callbacks=self._with_target_guard(callbacks),
            **kwargs,
        )

    def train_on_batch(self, *args, **kwargs):
        """`keras.Model.train_on_batch`; bad targets raise `ValueError`."""
        self._build_optimizer_before_tracing()
        return self._guarded_on_batch(super().train_on_batch, *args, **kwargs)

    def _build_optimizer_before_tracing(self):
        # Without a distribution strategy Keras' TF trainer leaves the optimizer to be
        # built inside the first traced step, and variables created while tracing make
        # tf.function trace the step a second time: 15-35 s more on a CPU for a
        # MobileNetV2 SSD. (With a strategy, Keras builds it before tracing itself.)
        optimizer = getattr(self, "optimizer", None)
        if optimizer is None or optimizer.built or self._distribute_strategy is not None:
            return
        if self.built:  # its variables exist (the weightless decoder may stay unbuilt)
            optimizer.build(self.trainable_variables)

    def test_on_batch(self, *args, **kwargs):
        """`keras.Model.test_on_batch`; bad targets raise `ValueError`."""
        return self._guarded_on_batch(super().test_on_batch, *args, **kwargs)

    def _guarded_on_batch(self, step, *args, **kwargs):
        baseline = self._target_problems.read()
        logs = step(*args, **kwargs)
        raise_for_target_problems(self._target_problems, baseline, self.num_classes)
        return logs

    def _with_target_guard(self, callbacks, targets=True):
        guards = [InputWarning(self._input_counts)]
        if targets:
            guards.append(TargetGuard(self._target_problems, self.num_classes))
        if callbacks is None:
            return guards
        if isinstance(callbacks, keras.callbacks.CallbackList):
            # `fit` validating through `evaluate`: its list already holds fit's guard.
            return callbacks
        return [*callbacks, *guards]

    def predict(self, x, *args, callbacks=None, **kwargs):
        """`keras.Model.predict`; warns if the images look like `[0, 1]` pixels."""
        return super().predict(
            x, *args, callbacks=self._with_target_guard(callbacks, targets=False), **kwargs
        )

