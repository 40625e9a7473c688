"""utils.transfer: the trunk found by structure, the new head, fine-tuning flags, precise BN."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers

from utils.models import fer_vgg
from utils.transfer import (
    feature_trunk,
    random_copy,
    recalibrate_batch_norm,
    transfer_classifier,
    unfreeze_last_blocks,
)

WIDTHS = (4, 8, 8, 16)  # a tiny fer_vgg: four blocks, 48 -> 3 pixels


def _faces(n: int = 6, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 48, 48, 1), dtype=np.float32)


def _wrapped(inner: keras.Model) -> keras.Model:
    """Like the shipped emotion model: the network inside a flip-averaging wrapper."""
    face = keras.Input((48, 48, 1), name="face")
    mirrored = layers.RandomFlip("horizontal", name="not_the_trunk")(face)
    out = layers.Average(name="flip_tta")([inner(face), inner(mirrored)])
    return keras.Model(face, out, name="wrapper")


def _conv_count(widths: tuple[int, ...], from_block: int = 0) -> int:
    channels = [1, *widths]
    total = 0
    for i in range(from_block, len(widths)):
        total += 9 * channels[i] * widths[i] + 9 * widths[i] * widths[i]  # two convs, no bias
    return total


@pytest.mark.parametrize("wrap", [False, True], ids=["plain", "wrapped"])
def test_feature_trunk_is_the_network_up_to_its_global_pooling(wrap: bool) -> None:
    inner = fer_vgg(WIDTHS)
    trunk = feature_trunk(_wrapped(inner) if wrap else inner)
    assert trunk.output_shape == (None, 3, 3, WIDTHS[-1])
    by_name = keras.Model(inner.inputs[0], inner.get_layer("pool4").output)
    x = _faces()
    np.testing.assert_allclose(trunk.predict(x, verbose=0), by_name.predict(x, verbose=0))
    # It shares the weights: the trunk is the trained network itself, not a copy.
    assert trunk.get_layer("conv1_1") is inner.get_layer("conv1_1")


def test_feature_trunk_needs_a_global_pooling_layer() -> None:
    x = keras.Input((48, 48, 1))
    flat = keras.Model(x, layers.Dense(7)(layers.Flatten()(x)), name="flat")
    with pytest.raises(ValueError, match="no global pooling"):
        feature_trunk(flat)


def test_random_copy_has_the_architecture_but_new_weights() -> None:
    trunk = feature_trunk(fer_vgg(WIDTHS))
    trunk.trainable = False
    copy = random_copy(trunk)
    assert [w.shape for w in copy.weights] == [w.shape for w in trunk.weights]
    assert copy.count_params() == trunk.count_params()
    kernels = [w for w in copy.weights if "kernel" in w.path]
    originals = [w for w in trunk.weights if "kernel" in w.path]
    assert not np.allclose(kernels[0].numpy(), originals[0].numpy())
    assert all(layer.trainable for layer in copy.layers)


def test_pretrained_classifier_trains_only_its_new_head_then_fine_tunes() -> None:
    trunk = feature_trunk(fer_vgg(WIDTHS))
    model = transfer_classifier(trunk, 7)
    head = WIDTHS[-1] * 7 + 7
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == head
    probs = model.predict(_faces(), verbose=0)
    assert probs.shape == (6, 7)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)

    assert unfreeze_last_blocks(trunk, 0) == 0
    assert unfreeze_last_blocks(trunk, 1) == _conv_count(WIDTHS, from_block=3)
    assert unfreeze_last_blocks(trunk, 2) == _conv_count(WIDTHS, from_block=2)
    assert unfreeze_last_blocks(trunk, None) == _conv_count(WIDTHS)
    assert unfreeze_last_blocks(trunk, 9) == _conv_count(WIDTHS)
    bns = [layer for layer in trunk.layers if isinstance(layer, layers.BatchNormalization)]
    assert bns and not any(layer.trainable for layer in bns)
    with pytest.raises(ValueError, match="blocks"):
        unfreeze_last_blocks(trunk, -1)


def test_transfer_classifier_checks_its_arguments() -> None:
    trunk = feature_trunk(fer_vgg(WIDTHS))
    with pytest.raises(ValueError, match="classes"):
        transfer_classifier(trunk, 1)
    with pytest.raises(ValueError, match="dropout"):
        transfer_classifier(trunk, dropout=1.0)
    pooled = keras.Model(trunk.inputs[0], layers.GlobalAveragePooling2D()(trunk.outputs[0]))
    with pytest.raises(ValueError, match="feature map"):
        transfer_classifier(pooled)


def _one_bn_model() -> tuple[keras.Model, layers.BatchNormalization]:
    x = keras.Input((4,))
    bn = layers.BatchNormalization(momentum=0.99, name="bn")
    return keras.Model(x, bn(x)), bn


@pytest.mark.parametrize("batch_size", [100, 25])
def test_recalibrate_batch_norm_sets_the_statistics_of_the_images(batch_size: int) -> None:
    model, bn = _one_bn_model()
    data = np.random.default_rng(1).normal(3.0, 2.0, size=(100, 4)).astype(np.float32)
    assert recalibrate_batch_norm(model, data, batch_size=batch_size) == 1
    np.testing.assert_allclose(bn.moving_mean.numpy(), data.mean(axis=0), rtol=1e-4)
    # Equal batches: the average of the batch variances (the whole-set variance for one batch).
    batch_var = data.reshape(-1, batch_size, 4).var(axis=1).mean(axis=0)
    np.testing.assert_allclose(bn.moving_variance.numpy(), batch_var, rtol=1e-3)
    assert bn.momentum == 0.99


def test_recalibrate_batch_norm_leaves_frozen_layers_alone() -> None:
    model, bn = _one_bn_model()
    bn.trainable = False
    assert recalibrate_batch_norm(model, np.ones((8, 4), np.float32) * 5) == 0
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.0)
    with pytest.raises(ValueError, match="at least one"):
        recalibrate_batch_norm(model, np.zeros((0, 4), np.float32))


def test_the_shipped_emotion_model_has_a_trunk() -> None:
    from utils.inference import EMOTION_MODEL, load_emotion_model

    if not EMOTION_MODEL.exists():
        pytest.skip("utils/pretrained/emotion.keras not shipped")
    trunk = feature_trunk(load_emotion_model())
    assert trunk.inputs[0].shape[1:] == (48, 48, 1)
    assert len(trunk.output_shape) == 4 and trunk.output_shape[1] * trunk.output_shape[2] >= 1
