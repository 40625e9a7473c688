"""Tiny learnable problems for the training-helper tests (callbacks, lr_find, memory, tuning)."""

from __future__ import annotations

import keras
import numpy as np


def blobs(n: int = 256, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three separable Gaussian blobs in 8 dimensions: a model can learn them in a few steps."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = rng.normal(0, 3, (3, 8))
    x = (centres[y] + rng.normal(0, 1, (n, 8))).astype(np.float32)
    return x, y


def tiny_classifier(lr: float = 1e-3, optimizer: str = "sgd") -> keras.Model:
    """8 -> 16 ReLU -> 3 logits, compiled with SGD (or Adam) and sparse cross-entropy."""
    model = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(3)]
    )
    opt = keras.optimizers.SGD(lr) if optimizer == "sgd" else keras.optimizers.Adam(lr)
    model.compile(opt, keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model
