"""Training a model: compile and fit in one call, the save-and-restore check, several GPUs.

* :func:`compile_and_fit` -- ``model.compile`` (Adam at ``learning_rate``, ``loss``,
  ``metrics``) then ``model.fit``; returns the per-epoch history dict. What the notebooks'
  training cells call.
* :func:`fit_verbosity` -- ``fit``'s ``verbose`` for a run of this size: quiet for the
  notebooks' sample-data defaults, a line per epoch for anything bigger.
* :func:`check_save_restore` -- save, reload in safe mode and compare predictions, *before* a
  long training.
* :func:`distribution_strategy` -- ``MirroredStrategy`` when several GPUs are visible.

The rest of a training run has its own module: ``utils.callbacks`` (:func:`standard_callbacks`,
also importable from here), ``utils.lr_finder`` (``lr_find``), ``utils.memory`` (what
``clear_session()`` frees) and ``utils.runs`` (resumable runs); a hyperparameter search is
KerasTuner's own ``keras_tuner.RandomSearch``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from utils.callbacks import standard_callbacks  # lesson 04 calls it utils.training's
from utils.io import atomic_save_model

__all__ = [
    "QUIET_EXAMPLE_EPOCHS",
    "check_save_restore",
    "compile_and_fit",
    "distribution_strategy",
    "fit_verbosity",
    "standard_callbacks",
]

#: Runs of at most this many examples x epochs train silently (:func:`fit_verbosity`). Every
#: notebook's sample-data default is below it (the largest, notebook 09's 10 epochs of 1,750
#: faces, is 17,500); real data is above it (notebook 01 on Kaggle: 40 epochs of ~1,700 faces,
#: notebook 06: 3 epochs of 28,709), unless a notebook caps it (``N_TRAIN``).
QUIET_EXAMPLE_EPOCHS = 40_000


def fit_verbosity(epochs: int, n_examples: int) -> int:
    """``verbose`` for ``model.fit``: 0 for a short run, 2 (one line per epoch) for a long one.

    A run of ``epochs`` passes over ``n_examples`` examples is short when ``epochs *
    n_examples <= QUIET_EXAMPLE_EPOCHS``: the notebooks' sample-data defaults, which finish
    in seconds and stay quiet in the executed notebooks and CI. Anything bigger (real data,
    more epochs) prints Keras' line per epoch -- its time, loss and metrics -- so a long run
    never looks like a silent, hung cell::

        model.fit(x, y, epochs=EPOCHS, verbose=fit_verbosity(EPOCHS, len(x)))

    (``verbose=1`` draws Keras' progress bar with an ETA for each epoch instead.)
    """
    if int(epochs) != epochs or epochs < 0:
        raise ValueError(f"epochs={epochs!r}: expected a whole number >= 0")
    if int(n_examples) != n_examples or n_examples < 0:
        raise ValueError(f"n_examples={n_examples!r}: expected a whole number >= 0")
    return 0 if int(epochs) * int(n_examples) <= QUIET_EXAMPLE_EPOCHS else 2


def compile_and_fit(
    model: keras.Model,
    x: Any,
    y: Any = None,
    *,
    loss: Any,
    metrics: Sequence[Any] | None = None,
    learning_rate: float | None = None,
    optimizer: Any = None,
    epochs: int = 1,
    batch_size: int | None = None,
    validation_data: Any = None,
    class_weight: Mapping[int, float] | None = None,
    steps_per_epoch: int | None = None,
    callbacks: Sequence[keras.callbacks.Callback] | None = None,
    verbose: int | str | None = None,
) -> dict[str, list[float]]:
    """Compile ``model`` and train it: ``history = compile_and_fit(model, x, y, loss=...)``.

    ``model.compile(optimizer, loss, metrics)`` then ``model.fit(x, y, ...)`` with the other
    arguments, which mean what they mean to ``fit``. Each call compiles anew: the default
    optimizer is a fresh Adam (no state from an earlier fit), while the weights are kept.

    Args:
        model: a built Keras model.
        x, y: training arrays, or a ``tf.data.Dataset`` of ``(x, y)`` batches as ``x`` alone.
        loss: a loss name or object, e.g. ``"sparse_categorical_crossentropy"``.
        metrics: e.g. ``["accuracy"]``.
        learning_rate: Adam's learning rate (default 1e-3).
        optimizer: another optimizer (an instance or a name) instead of Adam; then leave
            ``learning_rate`` out.
        epochs, batch_size, validation_data, class_weight, steps_per_epoch, callbacks,
        verbose: passed to ``model.fit``. Default: :func:`fit_verbosity` of the run's size
            (``epochs`` x the examples per epoch: ``len(x)`` for arrays, ``steps_per_epoch`` x
            ``batch_size`` when both are given); a dataset of unknown size gets a line per
            epoch (2) -- pass ``verbose=fit_verbosity(epochs, n)`` when you know ``n``.

    Returns:
        ``history.history``: each logged quantity's value per epoch, e.g. ``{"loss": [...],
        "accuracy": [...], "val_loss": [...], ...}``. Keep this dict rather than the
        ``History`` object, which keeps the model alive.
    """
    if optimizer is None:
        optimizer = keras.optimizers.Adam(1e-3 if learning_rate is None else learning_rate)
    elif learning_rate is not None:
        raise ValueError(
            "learning_rate: give it or an optimizer, not both (set the optimizer's own "
            "learning_rate instead)"
        )
    if int(epochs) != epochs or epochs < 1:
        raise ValueError(f"epochs={epochs!r}: expected a whole number >= 1")
    if verbose is None:
        verbose = _auto_verbosity(x, int(epochs), batch_size, steps_per_epoch)
    model.compile(
        optimizer=optimizer, loss=loss, metrics=None if metrics is None else list(metrics)
    )
    history = model.fit(
        x,
        y,
        batch_size=batch_size,
        epochs=int(epochs),
        verbose=verbose,
        callbacks=None if callbacks is None else list(callbacks),
        validation_data=validation_data,
        class_weight=None if class_weight is None else dict(class_weight),
        steps_per_epoch=steps_per_epoch,
    )
    return dict(history.history)


def _auto_verbosity(x: Any, epochs: int, batch_size: int | None, steps: int | None) -> int:
    """:func:`fit_verbosity` for ``compile_and_fit``'s inputs; 2 when their size is unknown."""
    first = next(iter(x.values()), None) if isinstance(x, dict) else x
    if isinstance(first, list | tuple):  # several inputs: the first one counts the examples
        first = first[0] if first else None
    if not isinstance(first, np.ndarray):  # a dataset or generator: no size to read up front
        return 2
    per_epoch = len(first) if steps is None else steps * (batch_size or 32)
    return fit_verbosity(epochs, per_epoch)


def check_save_restore(
    model: keras.Model,
    sample_x: np.ndarray,
    path: str | Path,
    *,
    atol: float = 1e-6,
) -> keras.Model:
    """Save ``model`` to ``path`` (``.keras``), load it back in safe mode, and compare predictions.

    Run this *before* a long training: a model that does not restore identically (a custom
    layer without ``get_config``, a lambda, an unregistered object) fails here in seconds
    instead of after hours. Returns the restored model; raises ``AssertionError`` on mismatch.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"path={str(path)!r}: expected a file name ending in '.keras'")
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and not optimizer.built:
        # Before training the optimizer has no slots yet; saved so, loading it back would warn
        # "Skipping variable loading for optimizer". Building them now changes no weight.
        optimizer.build(model.trainable_variables)
    atomic_save_model(model, path)
    restored = keras.models.load_model(path, safe_mode=True)
    before = np.asarray(model.predict(sample_x, verbose=0))
    after = np.asarray(restored.predict(sample_x, verbose=0))
    if before.shape != after.shape or not np.allclose(before, after, atol=atol):
        worst = float(np.max(np.abs(before - after))) if before.shape == after.shape else np.nan
        raise AssertionError(
            f"{path}: the restored model predicts differently (max abs difference {worst:.3g}); "
            "check custom layers have get_config() and are registered."
        )
    return restored


def distribution_strategy() -> Any:
    """``tf.distribute.MirroredStrategy`` when more than one GPU is visible, else the default.

    Build and compile the model inside ``with distribution_strategy().scope():`` and
    ``model.fit`` splits every batch across the GPUs (keep the *global* batch size a multiple
    of their number). With one GPU or none this is TensorFlow's default strategy, which
    changes nothing, so the same code runs on a laptop and on a multi-GPU machine.
    """
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()
