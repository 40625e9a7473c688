"""utils.lr_finder: the learning-rate range test."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from toy_data import blobs as _blobs
from toy_data import tiny_classifier as _tiny

from utils.lr_finder import lr_find
from utils.seeding import set_seed


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
