"""Transfer learning with a base the course has offline: any trained convnet's trunk.

Notebook 07 reuses the shipped emotion network (trained on the real FER-2013 photos) as a
pretrained base, and compares it with the same architecture from random weights::

    base = load_emotion_model()                    # utils.inference: loaded in safe mode
    trunk = feature_trunk(base)                    # conv blocks, up to the global pooling
    model = transfer_classifier(trunk)             # + a new head; the trunk starts frozen
    ... fit the head ...
    unfreeze_last_blocks(trunk, 2)                 # then fine-tune, at a smaller rate
    scratch = transfer_classifier(random_copy(trunk), pretrained=False)
    ... fit for the same epochs ...
    recalibrate_batch_norm(scratch, x_train)       # before testing a short from-scratch run

The trunk is found by the model's *structure* (the layer before its global pooling), not by
layer names, so it works for any network built like ``utils.models.fer_vgg`` -- also one
wrapped in another model, as the shipped one is (its flip averaging).
"""

from __future__ import annotations

from collections.abc import Iterator

import keras
import numpy as np
from keras import layers

__all__ = [
    "feature_trunk",
    "random_copy",
    "recalibrate_batch_norm",
    "transfer_classifier",
    "unfreeze_last_blocks",
]

_GLOBAL_POOLING = (layers.GlobalAveragePooling2D, layers.GlobalMaxPooling2D)
_BLOCK_END = (layers.MaxPooling2D, layers.AveragePooling2D)


def _models_with_global_pooling(model: keras.Model) -> Iterator[tuple[keras.Model, keras.Layer]]:
    """``(model, pooling layer)`` for ``model`` and every model nested in it, outermost first."""
    for layer in model.layers:
        if isinstance(layer, _GLOBAL_POOLING):
            yield model, layer
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _models_with_global_pooling(layer)


def feature_trunk(model: keras.Model, *, name: str = "trunk") -> keras.Model:
    """The convolutional part of a trained classifier: from its input to its last feature map.

    Finds the (first) global pooling layer -- in ``model`` or in a model nested inside it,
    such as the shipped emotion network inside its flip-averaging wrapper -- and returns a
    model from that network's input to the pooling layer's *input*: the last conv block's
    output, e.g. ``(3, 3, 256)`` for a 48x48 face in ``fer_vgg``. Everything after it (pooling,
    dropout, the old softmax) is left behind; :func:`transfer_classifier` adds a new head.

    The trunk *shares* its layers and weights with ``model``: training it changes ``model``
    too. Raises ``ValueError`` when the model has no global pooling layer.
    """
    found = next(_models_with_global_pooling(model), None)
    if found is None:
        raise ValueError(
            f"model {model.name!r} has no global pooling layer: expected a convnet like "
            "utils.models.fer_vgg (conv blocks, then GlobalAveragePooling2D and a classifier)"
        )
    network, pooling = found
    return keras.Model(network.inputs[0], pooling.input, name=name)


def random_copy(trunk: keras.Model, *, name: str = "trunk_random") -> keras.Model:
    """The same architecture as ``trunk`` with fresh random weights, every layer trainable.

    ``keras.models.clone_model`` rebuilds each layer from its config, so the weights are
    drawn again by the layers' initializers: the from-scratch side of a fair comparison.
    """
    clone = keras.models.clone_model(trunk)
    copy = keras.Model(clone.inputs[0], clone.outputs[0], name=name)
    copy.trainable = True
    for layer in copy.layers:
        layer.trainable = True
    return copy


def transfer_classifier(
    trunk: keras.Model,
    classes: int = 7,
    *,
    pretrained: bool = True,
    dropout: float = 0.3,
    name: str | None = None,
) -> keras.Model:
    """``trunk`` + global average pooling, dropout and a new softmax over ``classes``.

    ``pretrained=True``: the trunk starts frozen (only the new head trains) and is called
    with ``training=False``, so its batch-norm layers keep the statistics they learned on the
    original data, also after :func:`unfreeze_last_blocks` -- the usual fine-tuning recipe.
    ``pretrained=False`` (a :func:`random_copy`): the whole model trains and batch norm learns
    its statistics as usual.
    """
    if classes < 2:
        raise ValueError(f"classes={classes!r}: expected at least 2 classes")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout={dropout!r}: expected a rate in [0, 1)")
    if len(trunk.outputs) != 1 or len(trunk.outputs[0].shape) != 4:
        raise ValueError(
            f"trunk {trunk.name!r} outputs {[o.shape for o in trunk.outputs]}: expected one feature map "
            "(batch, height, width, channels); use feature_trunk(model)"
        )
    if pretrained:
        trunk.trainable = False
    inputs = keras.Input(shape=tuple(trunk.inputs[0].shape[1:]), name="face")
    x = trunk(inputs, training=False if pretrained else None)
    x = layers.GlobalAveragePooling2D(name="new_pool")(x)
    if dropout:
        x = layers.Dropout(dropout, name="new_dropout")(x)
    outputs = layers.Dense(classes, activation="softmax", dtype="float32", name="new_head")(x)
    if name is None:
        name = f"{trunk.name}_{'pretrained' if pretrained else 'scratch'}"
    return keras.Model(inputs, outputs, name=name)


def _all_layers(model: keras.Model) -> Iterator[keras.Layer]:
    """Every layer of ``model``, also those inside nested models."""
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)


def _trainable_count(model: keras.Model) -> int:
    return int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))


def unfreeze_last_blocks(trunk: keras.Model, blocks: int | None = None) -> int:
    """Unfreeze the last ``blocks`` conv blocks of ``trunk`` (None: all); return its trainable count.

    A block ends at a pooling layer (``fer_vgg``: two 3x3 convs + batch norm + ReLU, then a
    2x2 max-pool). The last blocks hold the most task-specific features, and training only
    them is cheaper: the gradient never flows back to the large early feature maps. Batch-norm
    layers stay frozen either way. Compile the model again afterwards (with a learning rate
    ~10-100 times smaller than the head's) for the change to take effect.
    """
    if blocks is not None and blocks < 0:
        raise ValueError(f"blocks={blocks!r}: expected a non-negative number of blocks")
    ends = [i for i, layer in enumerate(trunk.layers) if isinstance(layer, _BLOCK_END)]
    if blocks is None or blocks >= len(ends):
        start = 0
    elif blocks == 0:
        start = len(trunk.layers)
    else:
        start = ends[-blocks - 1] + 1  # the first layer after the block before them
    trunk.trainable = True
    for i, layer in enumerate(trunk.layers):
        layer.trainable = i >= start and not isinstance(layer, layers.BatchNormalization)
    return _trainable_count(trunk)


def recalibrate_batch_norm(model: keras.Model, images: np.ndarray, batch_size: int = 256) -> int:
    """Re-estimate the batch-norm statistics of ``model`` on ``images``, with its final weights.

    During training a batch-norm layer normalizes with each batch's own mean and variance;
    at test time it uses running averages (``momentum=0.99``: each batch moves them 1%). After
    a few dozen steps those averages still remember the random start and the older weights,
    so a short from-scratch run tests far worse than it trained. This replaces them with the
    average over ``images`` (the training images; no labels, no weight changes) -- "precise
    batch norm" (Wu & Johnson, *Rethinking "Batch" in BatchNorm*, 2021). Frozen batch-norm
    layers (``trainable=False``) are left alone. Returns how many layers were updated.
    """
    images = np.asarray(images)
    if len(images) == 0:
        raise ValueError("images: expected at least one image")
    norms = [
        layer
        for layer in _all_layers(model)
        if isinstance(layer, layers.BatchNormalization) and layer.trainable
    ]
    saved = [layer.momentum for layer in norms]
    try:
        for k, start in enumerate(range(0, len(images), batch_size)):
            # momentum k/(k+1): the running value becomes the plain mean of the batches so far
            for layer in norms:
                layer.momentum = k / (k + 1)
            model(images[start : start + batch_size], training=True)
    finally:
        for layer, momentum in zip(norms, saved, strict=True):
            layer.momentum = momentum
    return len(norms)
