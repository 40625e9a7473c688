"""utils.memory: what building many models costs, with and without clear_session()."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from toy_data import blobs as _blobs

from utils.memory import measure_model_churn


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
