"""What building many models in one process costs, with and without ``clear_session()``.

:func:`measure_model_churn` builds (and fits) a fresh model several times, as a hyperparameter
search or a cross-validation loop does, and records what piles up: Keras' layer-name counter,
Python objects and the process's memory (:func:`process_rss_mb`). Notebook 04 compares runs.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import keras
import numpy as np


def process_rss_mb() -> float:
    """This process's resident memory in MB (NaN where it cannot be read)."""
    try:
        import psutil

        return float(psutil.Process().memory_info().rss) / 2**20
    except ImportError:
        pass
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return float(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


@dataclass
class ModelChurn:
    """Measurements after each round of :func:`measure_model_churn`.

    * ``layer_names``: the auto-generated name of each round's first layer (``dense``,
      ``dense_1``, ...): Keras' global name counter;
    * ``python_objects``: objects the garbage collector tracks, after ``gc.collect()``;
    * ``rss_mb``: the process's resident memory.
    """

    clear_session: bool
    layer_names: list[str]
    python_objects: list[int]
    rss_mb: list[float]

    @property
    def objects_per_round(self) -> float:
        """Average growth of ``python_objects`` per round (first round excluded)."""
        if len(self.python_objects) < 2:
            return 0.0
        objs = self.python_objects
        return (objs[-1] - objs[0]) / (len(objs) - 1)


def measure_model_churn(
    build: Callable[[], keras.Model],
    x: np.ndarray | None = None,
    y: np.ndarray | None = None,
    *,
    rounds: int = 4,
    clear_session: bool = False,
    epochs: int = 1,
    batch_size: int = 32,
) -> ModelChurn:
    """Build (and, given ``x, y``, fit) a fresh model ``rounds`` times; measure what piles up.

    This is what a hyperparameter search or a cross-validation loop does. Each round calls
    ``keras.backend.clear_session()`` first when ``clear_session`` is True, builds a model with
    ``build()`` (it must compile it if you pass data), fits it, drops it, runs the garbage
    collector, and records Keras' auto-generated layer name, the number of Python objects and
    the process's memory. Compare a run with and without ``clear_session`` to see what it does
    and does not free.
    """
    if rounds < 2:
        raise ValueError(f"rounds={rounds!r}: expected at least 2 rounds to see a trend")
    if (x is None) != (y is None):
        raise ValueError("x, y: pass both (to fit each model) or neither (build only)")
    names: list[str] = []
    objects: list[int] = []
    rss: list[float] = []
    # A full garbage collection walks the ~400,000 objects TensorFlow creates at import (about
    # a second each time). Freezing them first moves them out of the collector's way, so each
    # round's collection only looks at what the rounds themselves created; they are still
    # counted (get_freeze_count), and unfrozen at the end.
    gc.collect()
    gc.freeze()
    try:
        for _ in range(rounds):
            if clear_session:
                keras.backend.clear_session()
            model = build()
            if not isinstance(model, keras.Model):
                raise ValueError(f"build: expected it to return a keras.Model, got {type(model)}")
            if x is not None:
                model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0)
            names.append(_first_auto_name(model))
            del model
            gc.collect()
            objects.append(len(gc.get_objects()) + gc.get_freeze_count())
            rss.append(process_rss_mb())
    finally:
        gc.unfreeze()
    return ModelChurn(clear_session, names, objects, rss)


def _first_auto_name(model: keras.Model) -> str:
    """The first layer's name (``Sequential`` models hide their ``InputLayer``)."""
    layer_list: Sequence[keras.layers.Layer] = model.layers
    for layer in layer_list:
        if not isinstance(layer, keras.layers.InputLayer):
            return str(layer.name)
    return str(model.name)
