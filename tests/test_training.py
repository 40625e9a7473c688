"""utils.training: compile_and_fit, and check_save_restore on a model that does not restore."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from toy_data import blobs

from utils.seeding import set_seed
from utils.training import (
    QUIET_EXAMPLE_EPOCHS,
    check_save_restore,
    compile_and_fit,
    fit_verbosity,
    standard_callbacks,
)


def _blobs(n: int = 128, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return blobs(n, seed)


def _model() -> keras.Model:
    return keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(3)]
    )


LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def test_compile_and_fit_is_compile_then_fit() -> None:
    """The same seed gives the same history and weights as the two calls written out."""
    x, y = _blobs()
    set_seed(3)
    model = _model()
    history = compile_and_fit(
        model,
        x,
        y,
        loss=LOSS,
        metrics=["accuracy"],
        learning_rate=0.01,
        epochs=3,
        batch_size=32,
        validation_data=(x[:32], y[:32]),
    )
    set_seed(3)
    by_hand = _model()
    by_hand.compile(optimizer=keras.optimizers.Adam(0.01), loss=LOSS, metrics=["accuracy"])
    fit = by_hand.fit(x, y, batch_size=32, epochs=3, validation_data=(x[:32], y[:32]), verbose=0)
    assert isinstance(history, dict)
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    for key, values in fit.history.items():
        np.testing.assert_allclose(history[key], values, rtol=1e-6)
    for a, b in zip(model.get_weights(), by_hand.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_compile_and_fit_takes_a_dataset_class_weights_and_callbacks(tmp_path: Path) -> None:
    x, y = _blobs()
    ds = tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(16)
    history = compile_and_fit(
        _model(),
        ds,
        loss=LOSS,
        optimizer="sgd",
        epochs=2,
        steps_per_epoch=4,
        class_weight={0: 1.0, 1: 2.0, 2: 0.5},
        callbacks=standard_callbacks(tmp_path, monitor="loss", tensorboard=False),
    )
    assert len(history["loss"]) == 2 and np.all(np.isfinite(history["loss"]))
    assert (tmp_path / "history.csv").is_file() and (tmp_path / "best.keras").is_file()


def test_compile_and_fit_rejects_bad_arguments() -> None:
    x, y = _blobs(16)
    with pytest.raises(ValueError, match="not both"):
        compile_and_fit(_model(), x, y, loss=LOSS, optimizer="adam", learning_rate=0.1)
    with pytest.raises(ValueError, match="epochs"):
        compile_and_fit(_model(), x, y, loss=LOSS, epochs=0)


def test_fit_verbosity_quiet_for_sample_sized_runs_a_line_per_epoch_beyond() -> None:
    assert fit_verbosity(10, 1750) == 0  # notebook 09's sample default, the largest
    assert fit_verbosity(1, QUIET_EXAMPLE_EPOCHS) == 0
    assert fit_verbosity(1, QUIET_EXAMPLE_EPOCHS + 1) == 2
    assert fit_verbosity(30, 28_709) == 2  # FER-2013's training set for 30 epochs
    with pytest.raises(ValueError, match="epochs"):
        fit_verbosity(1.5, 10)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n_examples"):
        fit_verbosity(3, -1)


def test_compile_and_fit_prints_epochs_only_for_a_long_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    x, y = _blobs(64)
    seen: list[object] = []
    real_fit = keras.Model.fit

    def spy(self, *args, **kwargs):  # noqa: ANN001, ANN202
        seen.append(kwargs["verbose"])
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", spy)
    compile_and_fit(_model(), x, y, loss=LOSS, epochs=2)  # 128 example-epochs: quiet
    assert capsys.readouterr().out == ""
    monkeypatch.setattr("utils.training.QUIET_EXAMPLE_EPOCHS", 100)
    compile_and_fit(_model(), x, y, loss=LOSS, epochs=2)  # now "long": a line per epoch
    out = capsys.readouterr().out
    assert out.count("Epoch ") == 2 and "loss" in out
    compile_and_fit(_model(), x, y, loss=LOSS, epochs=1, verbose=0)  # an explicit choice wins
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    compile_and_fit(_model(), ds, loss=LOSS, epochs=1)  # a dataset's size is unknown: lines
    assert seen == [0, 2, 0, 2]


class _Forgetful(keras.layers.Layer):
    """A layer whose state a saved model loses: it is neither a weight nor in get_config()."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.offset = 0.0

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        return inputs + self.offset


def test_check_save_restore_catches_a_model_that_restores_differently(tmp_path: Path) -> None:
    x, _ = _blobs(4)
    with pytest.raises(ValueError, match="'.keras'"):
        check_save_restore(_model(), x, tmp_path / "model.h5")
    restored = check_save_restore(_model(), x, tmp_path / "sub" / "ok.keras")
    assert isinstance(restored, keras.Model)
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["ok.keras"]  # no temp file left
    keras.saving.get_custom_objects()["_Forgetful"] = _Forgetful
    try:
        layer = _Forgetful()
        layer.offset = 5.0
        model = keras.Sequential([keras.Input((8,)), layer, keras.layers.Dense(3)])
        with pytest.raises(AssertionError, match="predicts differently"):
            check_save_restore(model, x, tmp_path / "forgetful.keras")
    finally:
        del keras.saving.get_custom_objects()["_Forgetful"]
