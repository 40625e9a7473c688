"""utils.callbacks: the standard callbacks and the atomic checkpoint."""

from __future__ import annotations

import csv

import keras
import numpy as np
import pytest
from toy_data import blobs as _blobs
from toy_data import tiny_classifier as _tiny

from utils.callbacks import AtomicModelCheckpoint, standard_callbacks, tensorboard_available
from utils.seeding import set_seed


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
