"""Grad-CAM (utils.cam) on the three kinds of model with known traps: an unbuilt Sequential, a
multi-output Functional model, and a nested base (a sub-model; keras.applications)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from utils.cam import conv_layer_names, grad_cam, overlay_heatmaps, region_mass

SIZE = 16


def _top_bright_bottom_dark(n: int = 2) -> np.ndarray:
    """Faces-to-be: the top half bright (0.9), the bottom half dark (0.1)."""
    images = np.full((n, SIZE, SIZE, 1), 0.1, np.float32)
    images[:, : SIZE // 2] = 0.9
    return images


def _detectors() -> list[layers.Layer]:
    """A fixed 1x1 conv: channel 0 fires on bright pixels, channel 1 on dark ones; then the
    global average, and a head whose unit 0 reads channel 0 and unit 1 channel 1."""
    conv = layers.Conv2D(2, 1, activation="relu", name="detect")
    head = layers.Dense(2, name="scores")
    return [conv, layers.GlobalAveragePooling2D(name="gap"), head]


def _set_detector_weights(model: keras.Model) -> None:
    conv = next(layer for layer in _layers(model) if layer.name == "detect")
    conv.set_weights([np.array([[[[1.0, -1.0]]]], np.float32), np.array([-0.5, 0.5], np.float32)])
    for layer in _layers(model):
        if layer.name.startswith("scores"):
            layer.set_weights([np.eye(2, dtype=np.float32), np.zeros(2, np.float32)])


def _layers(model: keras.Model) -> list[layers.Layer]:
    out = []
    for layer in model.layers:
        out.append(layer)
        out.extend(_layers(layer) if isinstance(layer, keras.Model) else [])
    return out


def _assert_top_for_0_bottom_for_1(model: keras.Model, **kwargs: object) -> None:
    images = _top_bright_bottom_dark()
    bright = grad_cam(model, images, class_index=0, **kwargs)
    dark = grad_cam(model, images, class_index=1, **kwargs)
    assert bright.shape == dark.shape == (2, SIZE, SIZE)
    assert bright.dtype == np.float32 and 0 <= bright.min() and bright.max() == pytest.approx(1)
    # The class read from the bright channel points at the top half, the other at the bottom.
    assert region_mass(bright, rows=(0, 0.5)).min() > 0.9
    assert region_mass(dark, rows=(0.5, 1)).min() > 0.9


def test_unbuilt_sequential() -> None:
    model = keras.Sequential(_detectors())
    assert not model.built  # no .inputs yet: the classic recipe fails here
    model(_top_bright_bottom_dark())  # build it, then fix the weights
    _set_detector_weights(model)
    fresh = keras.Sequential(_detectors())  # and one never called at all
    heat = grad_cam(fresh, _top_bright_bottom_dark())
    assert heat.shape == (2, SIZE, SIZE) and np.isfinite(heat).all()
    _assert_top_for_0_bottom_for_1(model)


def test_functional_multi_output_needs_output_index() -> None:
    inputs = keras.Input((SIZE, SIZE, 1))
    conv, gap, head = _detectors()
    pooled = gap(conv(inputs))
    outputs = {"scores": head(pooled), "other": layers.Dense(3, name="other")(pooled)}
    model = keras.Model(inputs, outputs)
    _set_detector_weights(model)
    _assert_top_for_0_bottom_for_1(model, output_index="scores")
    with pytest.raises(ValueError, match="outputs.*output_index"):
        grad_cam(model, _top_bright_bottom_dark())
    with pytest.raises(ValueError, match="output_index='nope'"):
        grad_cam(model, _top_bright_bottom_dark(), output_index="nope")


def test_nested_submodel_layer_is_found() -> None:
    inner_in = keras.Input((SIZE, SIZE, 1))
    conv, gap, head = _detectors()
    base = keras.Model(inner_in, conv(inner_in), name="base")
    inputs = keras.Input((SIZE, SIZE, 1))
    model = keras.Model(inputs, head(gap(base(inputs))), name="outer")
    _set_detector_weights(model)
    with pytest.raises(ValueError):
        model.get_layer("detect")  # hidden inside "base"
    _assert_top_for_0_bottom_for_1(model, layer_name="detect")
    _assert_top_for_0_bottom_for_1(model)  # default: the last 4-D feature map
    assert conv_layer_names(model, _top_bright_bottom_dark()) == ["detect", "base"]


def test_matches_the_textbook_recipe() -> None:
    """On a plain Functional model, the same numbers as the usual two-output-model recipe."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((SIZE, SIZE, 1))
    x = layers.Conv2D(4, 3, padding="same", activation="relu", name="c1")(inputs)
    x = layers.Conv2D(6, 3, padding="same", activation="relu", name="c2")(x)
    outputs = layers.Dense(3, activation="softmax")(layers.Flatten()(x))
    model = keras.Model(inputs, outputs)
    images = np.random.default_rng(0).random((3, SIZE, SIZE, 1)).astype(np.float32)
    grad_model = keras.Model(model.input, [model.get_layer("c1").output, model.output])
    with tf.GradientTape() as tape:
        feature_map, probs = grad_model(images)
        score = tf.reduce_sum(probs[:, 2])
    grads = tape.gradient(score, feature_map)
    cam = tf.nn.relu(
        tf.reduce_sum(tf.reduce_mean(grads, axis=(1, 2), keepdims=True) * feature_map, -1)
    )
    expected = cam.numpy()  # c1 keeps the input size, so no resizing is involved
    got = grad_cam(model, images, layer_name="c1", class_index=2, normalize=False)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-7)


def _position_aware_head(weights: np.ndarray) -> keras.Model:
    """A fixed 1x1 conv firing on bright pixels (relu(x - 0.5)), then Flatten and a linear unit
    whose weight differs per position (``weights``: one per cell, SIZE x SIZE)."""
    inputs = keras.Input((SIZE, SIZE, 1))
    conv = layers.Conv2D(1, 1, activation="relu", name="detect")
    head = layers.Dense(1, name="score")
    model = keras.Model(inputs, head(layers.Flatten()(conv(inputs))))
    conv.set_weights([np.ones((1, 1, 1, 1), np.float32), np.array([-0.5], np.float32)])
    head.set_weights([weights.reshape(-1, 1).astype(np.float32), np.array([0.3], np.float32)])
    return model


def test_hirescam_is_faithful_for_a_flatten_head() -> None:
    """Grad-CAM averages the gradient over positions; HiResCAM keeps each cell's own.

    The face is bright everywhere; the head counts the top half for the score (+1) and the
    bottom half against it (-0.5). All the evidence *for* the score is in the top half:
    HiResCAM says so, Grad-CAM spreads it evenly over the face.
    """
    weights = np.where(np.arange(SIZE)[:, None] < SIZE // 2, 1.0, -0.5) * np.ones((1, SIZE))
    model = _position_aware_head(weights)
    images = np.full((2, SIZE, SIZE, 1), 0.9, np.float32)
    hires = grad_cam(model, images, class_index=0, method="hirescam")
    grad = grad_cam(model, images, class_index=0, method="gradcam")
    assert region_mass(hires, rows=(0, 0.5)).min() > 0.99
    np.testing.assert_allclose(region_mass(grad, rows=(0, 0.5)), 0.5, atol=0.02)
    # With only positive contributions, the unnormalised cells add up to the score - bias.
    positive = _position_aware_head(np.abs(weights))
    raw = grad_cam(positive, images, class_index=0, method="hirescam", normalize=False)
    scores = positive.predict(images, verbose=0)[:, 0]
    np.testing.assert_allclose(raw.sum(axis=(1, 2)), scores - 0.3, rtol=1e-4)


def test_hirescam_equals_gradcam_after_global_average_pooling() -> None:
    model = keras.Sequential(_detectors())
    model(_top_bright_bottom_dark())
    _set_detector_weights(model)
    _assert_top_for_0_bottom_for_1(model, method="hirescam")
    images = np.random.default_rng(2).random((3, SIZE, SIZE, 1)).astype(np.float32)
    np.testing.assert_allclose(
        grad_cam(model, images, class_index=0, method="hirescam"),
        grad_cam(model, images, class_index=0),
        atol=1e-5,
    )
    with pytest.raises(ValueError, match="method='cam'.*hirescam"):
        grad_cam(model, images, method="cam")


def test_keras_applications_base_as_a_layer() -> None:
    base = keras.applications.MobileNetV2(
        input_shape=(32, 32, 3), alpha=0.35, include_top=False, weights=None, pooling="avg"
    )
    base.trainable = False  # frozen, as in transfer learning: the tape must still see it
    inputs = keras.Input((32, 32, 3))
    model = keras.Model(inputs, layers.Dense(4, activation="softmax")(base(inputs)))
    images = np.random.default_rng(1).random((2, 32, 32, 3)).astype(np.float32)
    names = conv_layer_names(model, images)
    assert "out_relu" in names and "Conv1" in names
    heat = grad_cam(model, images)  # default: the base's last feature map
    early = grad_cam(model, images, layer_name="Conv1", class_index=[0, 3])
    for h in (heat, early):
        assert h.shape == (2, 32, 32) and np.isfinite(h).all() and h.min() >= 0
    assert early.max() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="layer_name='conv99'.*out_relu"):
        grad_cam(model, images, layer_name="conv99")


def test_bad_arguments() -> None:
    model = keras.Sequential(_detectors())
    images = _top_bright_bottom_dark()
    with pytest.raises(ValueError, match="expected a batch"):
        grad_cam(model, images[0])
    with pytest.raises(ValueError, match="units 0..1"):
        grad_cam(model, images, class_index=5)
    with pytest.raises(ValueError, match="one int per image"):
        grad_cam(model, images, class_index=[0, 1, 0])
    with pytest.raises(ValueError, match="4-D"):
        grad_cam(model, images, layer_name="scores")


def test_overlay_and_region_mass() -> None:
    faces = np.zeros((2, 6, 6, 1), np.float32)
    heat = np.zeros((2, 6, 6), np.float32)
    heat[0, 4:, :] = 1.0  # all in the lower third
    heat[1, :2, :] = 1.0  # all in the upper third
    np.testing.assert_allclose(region_mass(heat, rows=(2 / 3, 1)), [1.0, 0.0])
    assert np.isnan(region_mass(np.zeros((1, 6, 6)), rows=(0, 0.5))[0])
    rgb = overlay_heatmaps(faces, heat, alpha=0.5)
    assert rgb.shape == (2, 6, 6, 3) and 0 <= rgb.min() and rgb.max() <= 1
    assert rgb[0, 5, 0, 0] > rgb[0, 0, 0, 0]  # hot = red in the jet colours
    with pytest.raises(ValueError, match="one map per image"):
        overlay_heatmaps(faces, heat[:1])
    with pytest.raises(ValueError, match="rows="):
        region_mass(heat, rows=(0.5, 0.2))


def test_au_cnn_heads_and_grad_cam() -> None:
    """The notebook's model: one head gives one output, several give a dict Grad-CAM can pick."""
    from utils.models import au_cnn

    single = au_cnn(5, filters=(4, 8), downsample=2, dense=8)
    assert single.output_shape == (None, 5)
    both = au_cnn(5, emotions=7, intensities=1, filters=(4, 8), dense=8)
    faces = np.random.default_rng(0).random((2, 96, 96, 1)).astype(np.float32)
    out = both.predict(faces, verbose=0)
    assert set(out) == {"aus", "emotion", "intensity"}
    assert out["aus"].shape == (2, 5) and out["emotion"].shape == (2, 7)
    np.testing.assert_allclose(out["emotion"].sum(axis=1), 1.0, rtol=1e-5)
    assert ((out["aus"] > 0) & (out["aus"] < 1)).all()
    heat = grad_cam(both, faces, output_index="aus", class_index=3)
    assert heat.shape == (2, 96, 96) and np.isfinite(heat).all()
    for bad in ({"aus": 0}, {"emotions": 1}, {"filters": ()}, {"input_shape": (90, 90, 1)}):
        with pytest.raises(ValueError):
            au_cnn(**bad)  # type: ignore[arg-type]
