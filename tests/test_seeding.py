"""utils.seeding: set_seed makes Python, NumPy and Keras repeatable."""

from __future__ import annotations

import numpy as np

from utils.seeding import set_seed


def test_set_seed_makes_keras_and_numpy_repeatable() -> None:
    import keras

    def draw() -> tuple[np.ndarray, np.ndarray]:
        set_seed(7)
        layer = keras.layers.Dense(3)
        layer.build((None, 4))
        return np.random.rand(3), np.asarray(layer.kernel)  # noqa: NPY002 - the global RNG is what set_seed must fix

    (a1, w1), (a2, w2) = draw(), draw()
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(w1, w2)
