"""Training helpers: lr_find, the standard callbacks, and what clear_session() does."""

from __future__ import annotations

import csv

import keras
import numpy as np
import pytest

from utils.config import set_seed
from utils.training import (
    AtomicModelCheckpoint,
    lr_find,
    make_random_search,
    measure_model_churn,
    standard_callbacks,
    tensorboard_available,
)


def _blobs(n: int = 256, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three separable Gaussian blobs in 8 dimensions: a model can learn them in a few steps."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = rng.normal(0, 3, (3, 8))
    x = (centres[y] + rng.normal(0, 1, (n, 8))).astype(np.float32)
    return x, y


def _tiny(lr: float = 1e-3, optimizer: str = "sgd") -> keras.Model:
    model = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(3)]
    )
    opt = keras.optimizers.SGD(lr) if optimizer == "sgd" else keras.optimizers.Adam(lr)
    model.compile(opt, keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


# --------------------------------------------------------------------------------------------
# lr_find
# --------------------------------------------------------------------------------------------


def test_lr_find_sweeps_up_stops_on_divergence_and_restores_the_model() -> None:
    set_seed(0)
    x, y = _blobs()
    model = _tiny(lr=0.05, optimizer="adam")
    model.fit(x[:32], y[:32], epochs=1, verbose=0)  # optimizer state exists and is not zero
    before = [w.copy() for w in model.get_weights()]
    opt_before = [np.array(v.numpy()) for v in model.optimizer.variables]

    result = lr_find(model, x, y, start_lr=1e-5, end_lr=1e3, steps=80, batch_size=32)

    assert np.all(np.diff(result.lrs) > 0), "learning rates must increase"
    assert result.lrs[0] == pytest.approx(1e-5)
    assert np.all(np.isfinite(result.losses)) and np.all(np.isfinite(result.raw_losses))
    # Adam at lr up to 1000 blows the loss up: the test stops before the last step.
    assert result.diverged and len(result.lrs) < 80
    assert result.losses[-1] > 4 * result.losses.min() * 0.99
    # The loss fell somewhere in the sweep, and the suggestion sits a decade before its minimum.
    assert result.losses.min() < result.losses[0]
    assert result.suggestion == pytest.approx(result.lrs[np.argmin(result.losses)] / 10)
    # Nothing of the test is left in the model or its optimizer.
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    for a, v in zip(opt_before, model.optimizer.variables, strict=True):
        np.testing.assert_array_equal(a, v.numpy())
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(0.05)


def test_lr_find_without_divergence_covers_the_whole_range() -> None:
    set_seed(1)
    x, y = _blobs()
    result = lr_find(_tiny(), x, y, start_lr=1e-6, end_lr=1e-3, steps=20, batch_size=16)
    assert not result.diverged
    assert len(result.lrs) == 20
    assert result.lrs[-1] == pytest.approx(1e-3)
    assert result.loss_at(1e-4) == pytest.approx(
        np.interp(np.log(1e-4), np.log(result.lrs), result.losses)
    )
    with pytest.raises(ValueError, match="outside the tested range"):
        result.loss_at(1.0)


def test_lr_find_rejects_bad_input() -> None:
    x, y = _blobs(64)
    uncompiled = keras.Sequential([keras.Input((8,)), keras.layers.Dense(3)])
    with pytest.raises(ValueError, match="compiled"):
        lr_find(uncompiled, x, y)
    with pytest.raises(ValueError, match="start_lr"):
        lr_find(_tiny(), x, y, start_lr=1.0, end_lr=0.1)
    with pytest.raises(ValueError, match="steps"):
        lr_find(_tiny(), x, y, steps=2)
    with pytest.raises(ValueError, match="same non-zero number"):
        lr_find(_tiny(), x, y[:10])
    scheduled = _tiny()
    scheduled.compile(
        keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9)),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    with pytest.raises(ValueError, match="LearningRateSchedule"):
        lr_find(scheduled, x, y)


# --------------------------------------------------------------------------------------------
# standard_callbacks
# --------------------------------------------------------------------------------------------


def test_standard_callbacks_write_log_checkpoint_and_tensorboard(tmp_path) -> None:
    set_seed(2)
    x, y = _blobs(128)
    model = _tiny(lr=0.05)
    run = tmp_path / "runs" / "demo"
    callbacks = standard_callbacks(run, monitor="val_loss", patience=3)
    names = {type(c).__name__ for c in callbacks}
    assert {"EarlyStopping", "ReduceLROnPlateau", "CSVLogger", "AtomicModelCheckpoint"} <= names
    # TensorBoard joins in when its package is installed (TF 2.21 no longer pulls it in).
    assert ("TensorBoard" in names) == tensorboard_available()
    history = model.fit(
        x, y, validation_split=0.25, epochs=2, batch_size=32, verbose=0, callbacks=callbacks
    )

    with open(run / "history.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    np.testing.assert_allclose(
        [float(r["val_loss"]) for r in rows], history.history["val_loss"], rtol=1e-5
    )
    assert "learning_rate" in rows[0]

    best = run / "best.keras"
    assert best.is_file()
    assert not list(run.glob(".*.tmp.keras")), "the temporary checkpoint must be renamed away"
    restored = keras.models.load_model(best, safe_mode=True)
    # The checkpoint is the best epoch's model: its validation loss matches the best logged one.
    x_val, y_val = x[96:], y[96:]
    assert restored.evaluate(x_val, y_val, verbose=0) == pytest.approx(
        min(history.history["val_loss"]), rel=1e-4
    )
    if tensorboard_available():
        assert any((run / "tensorboard").rglob("*tfevents*"))


def test_standard_callbacks_reject_bad_arguments(tmp_path) -> None:
    with pytest.raises(ValueError, match="mode"):
        standard_callbacks(tmp_path, mode="up")
    with pytest.raises(ValueError, match="patience"):
        standard_callbacks(tmp_path, patience=0)
    with pytest.raises(ValueError, match="lr_factor"):
        standard_callbacks(tmp_path, lr_factor=2.0)
    with pytest.raises(ValueError, match="'.keras'"):
        AtomicModelCheckpoint(tmp_path / "model.h5")
    if not tensorboard_available():
        with pytest.raises(ValueError, match="pip install tensorboard"):
            standard_callbacks(tmp_path, tensorboard=True)


# --------------------------------------------------------------------------------------------
# clear_session
# --------------------------------------------------------------------------------------------


def _dense_model() -> keras.Model:
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(3)])
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def test_clear_session_resets_the_layer_name_counter() -> None:
    without = measure_model_churn(_dense_model, rounds=3, clear_session=False)
    with_clear = measure_model_churn(_dense_model, rounds=3, clear_session=True)
    # Without it, Keras' global counter keeps numbering: dense_7, dense_8, dense_9 ...
    assert len(set(without.layer_names)) == 3
    suffixes = [int(n.rsplit("_", 1)[1]) for n in without.layer_names if "_" in n]
    assert suffixes == sorted(suffixes) and len(suffixes) >= 2
    # With it, every round starts from a blank state and gets the same name.
    assert with_clear.layer_names == ["dense"] * 3
    for churn in (without, with_clear):
        assert len(churn.python_objects) == len(churn.rss_mb) == 3
        # Building (without fitting) a model that is then dropped leaves nothing behind.
        assert abs(churn.objects_per_round) < 50, churn.python_objects


def test_measure_model_churn_fits_each_model() -> None:
    x, y = _blobs(32)
    fitted: list[keras.Model] = []

    def build() -> keras.Model:
        fitted.append(_dense_model())
        return fitted[-1]

    churn = measure_model_churn(build, x, y, rounds=2)
    assert len(fitted) == 2 and all(m.optimizer.iterations.numpy() == 1 for m in fitted)
    assert churn.layer_names[0] != churn.layer_names[1]


def test_measure_model_churn_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="rounds"):
        measure_model_churn(_dense_model, rounds=1)
    with pytest.raises(ValueError, match="both"):
        measure_model_churn(_dense_model, np.zeros((4, 8)), None)


# --------------------------------------------------------------------------------------------
# KerasTuner
# --------------------------------------------------------------------------------------------


def test_random_search_runs_trials_and_clears_the_session_before_each(tmp_path) -> None:
    x, y = _blobs(96)
    names: list[str] = []

    def hypermodel(hp) -> keras.Model:
        units = hp.Choice("units", [4, 8, 16])
        model = keras.Sequential(
            [keras.Input((8,)), keras.layers.Dense(units, activation="relu"), keras.layers.Dense(3)]
        )
        model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        names.append(model.layers[0].name)
        return model

    tuner = make_random_search(
        hypermodel,
        objective="val_loss",
        max_trials=2,
        seed=0,
        directory=str(tmp_path),
        project_name="t",
        overwrite=True,
    )
    tuner.search(x[:64], y[:64], validation_data=(x[64:], y[64:]), epochs=1, verbose=0)
    trials = tuner.oracle.get_best_trials(num_trials=2)
    assert len(trials) == 2 and all(np.isfinite(t.score) for t in trials)
    # KerasTuner calls clear_session() before building each trial's model, so the auto-named
    # layer is plain "dense" every time.
    assert names[-2:] == ["dense", "dense"]
