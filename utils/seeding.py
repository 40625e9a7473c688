"""The one place seeds are set: ``set_seed(SEED)`` makes a notebook's run repeatable.

Python's ``random``, NumPy's global generator and Keras/TensorFlow each keep their own random
state; :func:`set_seed` seeds them all in one call, so shuffles, augmentations and initial
weights come out the same every run.
"""

from __future__ import annotations

import os
import random

import keras
import numpy as np

from utils.config import DEFAULT_SEED


def set_seed(seed: int = DEFAULT_SEED, *, deterministic_ops: bool = False) -> int:
    """Seed Python, NumPy and Keras/TensorFlow in one call -- the one place seeds are set.

    ``deterministic_ops=True`` also asks TensorFlow for deterministic kernels (slower, but two
    runs then give identical weights).
    """
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - students and libraries still use the global RNG
    os.environ["PYTHONHASHSEED"] = str(seed)
    keras.utils.set_random_seed(seed)
    if deterministic_ops:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    return seed
