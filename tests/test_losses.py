"""The masked keypoint loss: matches a NumPy reference, ignores NaN, never leaks NaN."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from utils.losses import masked_mse


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
