"""Exercises for notebook 04, dropout and callbacks: inverted dropout and early stopping."""

from __future__ import annotations

import types
from typing import Any

import numpy as np

from utils.exercises import Incorrect, Question, as_array, expect, require_function

NOTEBOOK = "04_dropout_and_callbacks"


def _check_dropout(answer: Any) -> str:
    dropout = require_function(answer, "a function my_dropout(x, rate, rng)")
    x = np.random.default_rng(0).uniform(0.5, 1.5, size=(200, 100))
    for rate in (0.25, 0.5):
        out = as_array(dropout(x.copy(), rate, np.random.default_rng(1)), "your output")
        expect(out.shape == x.shape, f"your output has shape {out.shape}; expected {x.shape}")
        dropped = np.isclose(out, 0.0)
        share = dropped.mean()
        expect(
            abs(share - rate) < 0.03,
            f"with rate={rate} you zeroed {share:.1%} of the units; expected about {rate:.0%}",
        )
        kept = ~dropped
        if np.allclose(out[kept], x[kept]):
            raise Incorrect(
                "the survivors are unchanged: scale them by 1 / (1 - rate) so the expected "
                "value stays the same and inference (no dropout) needs no correction"
            )
        expect(
            np.allclose(out[kept], x[kept] / (1 - rate), rtol=1e-5),
            f"with rate={rate} the surviving units should be x / (1 - rate) = x * {1 / (1 - rate):g}",
        )
    again = as_array(dropout(x.copy(), 0.5, np.random.default_rng(1)), "your output")
    first = as_array(dropout(x.copy(), 0.5, np.random.default_rng(1)), "your output")
    expect(np.array_equal(again, first), "draw the random numbers from `rng`, so a seed repeats")
    return "about `rate` of the units are zeroed and the survivors scaled by 1/(1 - rate)."


q1 = Question(
    "q1",
    _check_dropout,
    hint="keep = rng.random(x.shape) >= rate; return np.where(keep, x / (1 - rate), 0.0).",
    solution="""
def my_dropout(x, rate, rng):
    keep = rng.random(x.shape) >= rate
    return np.where(keep, x / (1 - rate), 0.0)
""",
    notebook=NOTEBOOK,
    title="inverted dropout in NumPy",
    answer_name="my_dropout",
)

#: Validation-accuracy curves the early-stopping question is checked on.
CURVES = (
    [0.30, 0.40, 0.39, 0.41, 0.40, 0.40, 0.39, 0.38],
    [0.20, 0.25, 0.30, 0.35, 0.36, 0.37, 0.38, 0.39],
    [0.50, 0.45, 0.44, 0.52, 0.51, 0.50, 0.53, 0.49],
    [0.31, 0.31, 0.31, 0.31, 0.31, 0.31],
)


def keras_epochs_trained(val_accuracy: list[float], patience: int) -> int:
    """How many epochs ``fit`` runs under ``EarlyStopping(monitor="val_accuracy", patience)``,
    asked of Keras' own callback (no model needed)."""
    import keras

    callback = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=patience, mode="max")
    model = types.SimpleNamespace(stop_training=False)
    callback.set_model(model)
    callback.on_train_begin()
    for epoch, value in enumerate(val_accuracy):
        callback.on_epoch_end(epoch, {"val_accuracy": value})
        if model.stop_training:
            return epoch + 1
    return len(val_accuracy)


def _check_stopping(answer: Any) -> str:
    epochs_trained = require_function(answer, "a function epochs_trained(val_accuracy, patience)")
    for curve in CURVES:
        for patience in (1, 2, 3):
            want = keras_epochs_trained(curve, patience)
            got = epochs_trained(list(curve), patience)
            if got == want - 1:
                raise Incorrect(
                    f"for {curve} with patience={patience} you answer {got}; Keras runs {want}: "
                    "count epochs from 1, and the epoch that runs out of patience still trains"
                )
            expect(
                got == want,
                f"for {curve} with patience={patience} you answer {got}; Keras' EarlyStopping "
                f"trains {want} epochs",
            )
    return "you stop exactly where Keras' EarlyStopping does."


q2 = Question(
    "q2",
    _check_stopping,
    hint="Track the best value so far and a counter of epochs since it improved (strictly "
    "greater); stop after the epoch where the counter reaches `patience`.",
    solution="""
def epochs_trained(val_accuracy, patience):
    best, wait = -np.inf, 0
    for epoch, value in enumerate(val_accuracy, start=1):
        if value > best:
            best, wait = value, 0
        else:
            wait += 1
            if wait >= patience:
                return epoch
    return len(val_accuracy)
""",
    notebook=NOTEBOOK,
    title="when does EarlyStopping stop?",
    answer_name="epochs_trained",
)
