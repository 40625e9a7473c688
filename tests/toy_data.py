"""Tiny data for the tests: learnable blobs, a tiny classifier, smooth faces for warps."""

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


def smooth_faces(n: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Smooth, asymmetric 48x48 patterns (warps visibly change them) and labels 0..6."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:48, 0:48] / 47.0
    images = np.stack(
        [0.5 + 0.4 * np.sin(rng.uniform(3, 9) * xx + rng.uniform(1, 4) * yy) for _ in range(n)]
    )
    return images[..., None].astype(np.float32), (np.arange(n) % 7).astype(np.int64)
