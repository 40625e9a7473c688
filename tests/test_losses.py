"""The masked keypoint loss: matches a NumPy reference, ignores NaN, never leaks NaN."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from utils.losses import MaskedCategoricalCrossentropy, masked_mse


def reference(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean of the squared errors over the labelled (non-NaN) targets of the whole batch."""
    present = ~np.isnan(y_true)
    if not present.any():
        return 0.0
    return float(np.mean((y_pred[present] - y_true[present]) ** 2))


def batch_loss(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """The value Keras trains on: the per-face values averaged over the batch."""
    return float(np.mean(keras.ops.convert_to_numpy(masked_mse(y_true, y_pred))))


def kaggle_like(rng: np.random.Generator, n: int = 16) -> tuple[np.ndarray, np.ndarray]:
    y_true = rng.uniform(10, 86, (n, 30)).astype(np.float32)
    y_pred = rng.uniform(10, 86, (n, 30)).astype(np.float32)
    # Like Kaggle: most faces keep only the 4 eye-centre/nose/mouth-bottom keypoints.
    keep = np.zeros(30, bool)
    keep[[0, 1, 2, 3, 20, 21, 28, 29]] = True
    sparse = rng.random(n) < 0.7
    y_true[np.ix_(sparse, ~keep)] = np.nan
    y_true[3] = np.nan  # one face with no labels at all
    return y_true, y_pred


def test_matches_numpy_reference_with_missing_labels() -> None:
    y_true, y_pred = kaggle_like(np.random.default_rng(0))
    assert np.isnan(y_true).sum() > 100
    assert batch_loss(y_true, y_pred) == pytest.approx(reference(y_true, y_pred), rel=1e-5)


def test_equals_plain_mse_when_nothing_is_missing() -> None:
    rng = np.random.default_rng(1)
    y_true, y_pred = rng.normal(size=(2, 8, 30)).astype(np.float32)
    plain = float(
        np.mean(keras.ops.convert_to_numpy(keras.losses.mean_squared_error(y_true, y_pred)))
    )
    assert batch_loss(y_true, y_pred) == pytest.approx(plain, rel=1e-5)


def test_sqrt_of_loss_is_the_rmse_over_labelled_values() -> None:
    y_true = np.array([[10.0, np.nan, 20.0, np.nan], [np.nan, np.nan, np.nan, np.nan]], np.float32)
    y_pred = np.array([[13.0, 99.0, 16.0, 99.0], [50.0, 50.0, 50.0, 50.0]], np.float32)
    # Errors 3 and -4 on the two labelled values: MSE 12.5, whatever the other predictions.
    assert batch_loss(y_true, y_pred) == pytest.approx(12.5)


def test_all_missing_batch_gives_zero_loss_and_zero_gradient() -> None:
    y_true = np.full((4, 30), np.nan, np.float32)
    y_pred = tf.Variable(np.ones((4, 30), np.float32))
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(masked_mse(y_true, y_pred))
    grad = tape.gradient(loss, y_pred).numpy()
    assert float(loss) == 0.0
    assert np.all(grad == 0.0)


def test_gradient_is_finite_and_zero_for_missing_targets() -> None:
    y_true, y_pred_np = kaggle_like(np.random.default_rng(2))
    y_pred = tf.Variable(y_pred_np)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(masked_mse(y_true, y_pred))
    grad = tape.gradient(loss, y_pred).numpy()
    assert np.isfinite(grad).all()
    missing = np.isnan(y_true)
    assert np.all(grad[missing] == 0.0)
    # On labelled values the gradient is that of the reference: 2 * error / n_labelled.
    expected = 2 * (y_pred_np - y_true) / (~missing).sum()
    np.testing.assert_allclose(grad[~missing], expected[~missing], rtol=1e-4)


def test_trains_on_nan_targets_and_survives_save_load(tmp_path) -> None:
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(3).random((32, 6)).astype(np.float32)
    y_true, _ = kaggle_like(np.random.default_rng(4), n=32)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(30)])
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss=masked_mse)
    history = model.fit(x, y_true, epochs=3, batch_size=8, verbose=0)
    losses = history.history["loss"]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    assert np.isfinite(model.get_weights()[0]).all()
    path = tmp_path / "masked.keras"
    model.save(path)
    restored = keras.models.load_model(path, safe_mode=True)
    assert restored.loss is masked_mse or getattr(restored.loss, "fn", None) is masked_mse
    np.testing.assert_allclose(
        restored.evaluate(x, y_true, verbose=0), model.evaluate(x, y_true, verbose=0), rtol=1e-5
    )


def _softmax_grad(loss_fn, y_true: np.ndarray, rows=None) -> tuple[np.ndarray, np.ndarray]:
    """Per-row losses and the gradient of their sum w.r.t. a softmax layer's kernel, for the
    faces ``rows`` of a fixed batch of four (all of them by default)."""
    keras.utils.set_random_seed(1)
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(inputs))
    x = np.random.default_rng(5).normal(size=(4, 4))
    x = tf.constant(x if rows is None else x[rows], tf.float32)
    with tf.GradientTape() as tape:
        per_row = loss_fn(tf.constant(y_true, tf.float32), model(x))
        total = tf.reduce_sum(per_row)
    return per_row.numpy(), tape.gradient(total, model.trainable_weights[0]).numpy()


def test_masked_categorical_crossentropy_ignores_unlabelled_rows() -> None:
    masked = MaskedCategoricalCrossentropy(reduction=None)
    unlabelled = np.zeros((4, 3), np.float32)
    loss, grad = _softmax_grad(masked, unlabelled)
    assert np.all(loss == 0.0) and np.all(grad == 0.0)
    # The trap it avoids: Keras' own loss is 0 on such rows, but its gradient is not.
    plain_loss, plain_grad = _softmax_grad(keras.losses.categorical_crossentropy, unlabelled)
    assert np.allclose(plain_loss, 0.0)
    assert np.abs(plain_grad).max() > 1e-3, "Keras fixed the zero-row gradient: reword the docs"


def test_masked_categorical_crossentropy_equals_keras_on_labelled_rows() -> None:
    y = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 0], [0, 0, 1]], np.float32)
    masked_loss, masked_grad = _softmax_grad(MaskedCategoricalCrossentropy(reduction=None), y)
    labelled = [0, 1, 3]
    plain_loss, plain_grad = _softmax_grad(
        keras.losses.categorical_crossentropy, y[labelled], rows=labelled
    )
    np.testing.assert_allclose(masked_loss[labelled], plain_loss, rtol=1e-6)
    assert masked_loss[2] == 0.0
    # The gradient is that of the labelled faces alone: the unlabelled one adds nothing.
    np.testing.assert_allclose(masked_grad, plain_grad, rtol=1e-5, atol=1e-7)


def test_masked_categorical_crossentropy_survives_save_load(tmp_path) -> None:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss=MaskedCategoricalCrossentropy())
    x = np.random.default_rng(6).normal(size=(8, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[np.arange(8) % 3]
    y[::2] = 0.0  # half the rows unlabelled
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "masked_cce.keras"
    model.save(path)
    restored = keras.models.load_model(path, safe_mode=True)
    assert isinstance(restored.loss, MaskedCategoricalCrossentropy)
    np.testing.assert_allclose(
        restored.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0), rtol=1e-5
    )
