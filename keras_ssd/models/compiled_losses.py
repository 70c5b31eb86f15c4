"""Per-anchor losses and their gradients in one XLA call.

Outside XLA (Keras' default on a CPU, and under a distribution strategy on
GPUs), the SSD losses are a few hundred small ops on `[batch, anchors, ...]`
tensors, forward and backward: on a CPU each costs tens of microseconds, on a
GPU each is a kernel launch. When both losses are *anchorwise* (the loss of an
anchor depends only on that anchor's prediction, `ClassificationLoss.anchorwise`),
the gradient of the sum of the per-anchor losses holds each anchor's own
derivative. One XLA call then gives the per-anchor losses and those
derivatives, fused; the losses' backward pass is the chain rule, the upstream
per-anchor gradient times them. What comes after the per-anchor losses
(mining, weights, normalisation) stays in the graph and is differentiated as
usual.

The target assignment stays a call of its own (`TargetAssigner`): it does not
wait for the network, so the executor runs it beside the forward pass, and
its compiled function is shared by every model with the same anchors.

Measured with `bench/train_step.py` (128 px, 1524 anchors, batch 8, on a CPU):
the losses' forward and backward with the assignment take about half the time.
"""

import collections
import json

import tensorflow as tf

from keras_ssd.anchors.box_coder import BoxCoder
from keras_ssd.losses.localization_loss import per_anchor_localization_loss
from keras_ssd.losses.mining import MiningLoss
from keras_ssd.utils.xla import compiling_with_xla

# Hashable: equal models share one compiled function (one XLA compile per shape).
_LossesSpec = collections.namedtuple("_LossesSpec", ["variances", "classification", "localization"])


def per_anchor_classification_loss(loss):
    """The loss a miner wraps, or `loss` itself.

    Args:
        loss: a keras_ssd classification loss.

    Returns:
        The per-anchor loss whose `call` gives each anchor's loss before mining.
    """
    return loss.loss if isinstance(loss, MiningLoss) else loss


def supports_compiled_losses(target_assigner, classification_loss, localization_loss):
    """Whether `per_anchor_losses` can serve these losses here.

    Args:
        target_assigner: the model's `TargetAssigner` (its box coder encoded
            the box targets; it also says whether XLA is used).
        classification_loss: the model's classification loss (a miner or not).
        localization_loss: its localization loss.

    Returns:
        bool: both losses are anchorwise and their JSON configs rebuild them
        (the compiled function is shared by equal losses, as a `.keras` file
        rebuilds them), the assignment is compiled with XLA with the standard
        box coder, and the caller is not inside an XLA cluster already
        (there, XLA fuses the plain losses itself).
    """
    inner_loss = per_anchor_classification_loss(classification_loss)
    return (
        target_assigner.uses_xla
        and type(target_assigner.box_coder) is BoxCoder
        and getattr(inner_loss, "anchorwise", False)
        and getattr(localization_loss, "anchorwise", False)
        and _loss_spec(inner_loss) is not None
        and _loss_spec(localization_loss) is not None
        and not compiling_with_xla()
    )


def _loss_spec(loss):
    """`(class, JSON config)`: the compiled function rebuilds the loss from it; None if it cannot."""
    try:
        return type(loss), json.dumps(loss.get_config(), sort_keys=True)
    except (TypeError, ValueError, NotImplementedError):
        return None


def _revive(spec):
    loss_class, config = spec
    return loss_class.from_config(json.loads(config))


@tf.function(jit_compile=True, autograph=False)
def _losses_and_gradients(class_targets, box_targets, anchors, logits, deltas, spec):
    classification_loss, localization_loss = _revive(spec.classification), _revive(spec.localization)
    with tf.GradientTape() as tape:
        tape.watch([logits, deltas])
        classification = tf.cast(classification_loss.call(class_targets, logits), tf.float32)
        localization = per_anchor_localization_loss(
            localization_loss, box_targets, deltas, BoxCoder(spec.variances), anchors
        )
        localization = tf.cast(localization, tf.float32)
        total = tf.reduce_sum(classification) + tf.reduce_sum(localization)
    # Anchorwise losses: d(total)/d(prediction of anchor i) = d(loss_i)/d(prediction of anchor i).
    logit_gradients, delta_gradients = tape.gradient(
        total, [logits, deltas], unconnected_gradients=tf.UnconnectedGradients.ZERO
    )
    return classification, localization, logit_gradients, delta_gradients


def _chain(upstream, gradients, dtype):
    """The chain rule for anchorwise losses: each anchor's upstream times its own derivative."""
    return tf.cast(tf.cast(upstream, tf.float32)[..., tf.newaxis] * tf.cast(gradients, tf.float32), dtype)


def per_anchor_losses(target_assigner, classification_loss, localization_loss, targets, y_pred):
    """Both per-anchor losses, and their gradients, in one XLA call.

    Only for the losses `supports_compiled_losses` accepts. The losses are
    those of `localization_loss.call` and of the inner loss' `call` (before
    mining), as `SSD` computes them in the graph, and so are their gradients
    with respect to `y_pred`.

    Args:
        target_assigner: the model's `TargetAssigner`.
        classification_loss: the model's classification loss; for a miner,
            the inner loss is computed here and the mining left to the caller.
        localization_loss: the model's localization loss.
        targets: the dict of `target_assigner(...)`.
        y_pred: the network's `{"boxes": deltas, "classes": logits}`.

    Returns:
        `(classification, localization)`: the float32 `[batch, num_anchors]`
        unweighted per-anchor losses, differentiable with respect to `y_pred`.
    """
    spec = _LossesSpec(
        tuple(target_assigner.box_coder.variances),
        _loss_spec(per_anchor_classification_loss(classification_loss)),
        _loss_spec(localization_loss),
    )
    logits, deltas = y_pred["classes"], y_pred["boxes"]
    # The tape must not differentiate the XLA call itself: its derivatives come out of it.
    classification, localization, logit_gradients, delta_gradients = _losses_and_gradients(
        targets["class_targets"],
        targets["box_targets"],
        target_assigner.anchors,
        tf.stop_gradient(logits),
        tf.stop_gradient(deltas),
        spec,
    )

    @tf.custom_gradient
    def with_gradients(logits, deltas):
        def gradient(upstream_classification, upstream_localization):
            return (
                _chain(upstream_classification, logit_gradients, logits.dtype),
                _chain(upstream_localization, delta_gradients, deltas.dtype),
            )

        return (tf.identity(classification), tf.identity(localization)), gradient

    return with_gradients(logits, deltas)
