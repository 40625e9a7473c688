"""KerasTuner's random search, as notebook 04 runs it: trials run with the tensorboard package
installed (KerasTuner 1.4 sets up TensorBoard logs for every trial) and each starts from a
cleared Keras session."""

from __future__ import annotations

import importlib.util

import keras
import keras_tuner
import numpy as np
from toy_data import blobs as _blobs


def test_random_search_runs_trials_and_clears_the_session_before_each(tmp_path) -> None:
    assert importlib.util.find_spec("tensorboard") is not None  # a course dependency
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

    tuner = keras_tuner.RandomSearch(
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
