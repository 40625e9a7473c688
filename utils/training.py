"""Training a model: compile and fit in one call, the save-and-restore check, several GPUs.

* :func:`compile_and_fit` -- ``model.compile`` (Adam at ``learning_rate``, ``loss``,
  ``metrics``) then ``model.fit``; returns the per-epoch history dict. What the notebooks'
  training cells call.
* :func:`check_save_restore` -- save, reload in safe mode and compare predictions, *before* a
  long training.
* :func:`distribution_strategy` -- ``MirroredStrategy`` when several GPUs are visible.

The rest of a training run has its own module: ``utils.callbacks`` (:func:`standard_callbacks`,
also importable from here), ``utils.lr_finder`` (``lr_find``), ``utils.memory`` (what
``clear_session()`` frees), ``utils.tuning`` (KerasTuner) and ``utils.runs`` (resumable runs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from utils.callbacks import standard_callbacks  # lesson 04 calls it utils.training's
from utils.io import atomic_save_model

__all__ = ["check_save_restore", "compile_and_fit", "distribution_strategy", "standard_callbacks"]


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
    verbose: int | str = 0,
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
        verbose: passed to ``model.fit`` (``verbose=0``: quiet, the notebooks' default).

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
