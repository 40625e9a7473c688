"""The callbacks of a well-behaved training run: :func:`standard_callbacks` (notebook 04).

Early stopping, a checkpoint that is never half-written (:class:`AtomicModelCheckpoint`),
learning-rate reduction on a plateau, a CSV log and TensorBoard (on the TensorFlow backend).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import keras


class AtomicModelCheckpoint(keras.callbacks.ModelCheckpoint):
    """``keras.callbacks.ModelCheckpoint`` that never leaves a half-written file behind.

    Keras writes the checkpoint straight to its final name, so a run killed mid-save leaves a
    corrupt ``best.keras``. This subclass lets Keras save to a temporary name in the same
    folder and then renames it (``os.replace`` is atomic), so ``filepath`` always holds a
    complete model: the last good one.
    """

    def __init__(self, filepath: str | os.PathLike[str], **kwargs: Any) -> None:
        final = Path(filepath)
        if final.suffix != ".keras" or "{" in final.name:
            raise ValueError(
                f"filepath={str(final)!r}: expected a fixed file name ending in '.keras'"
            )
        if kwargs.get("save_weights_only"):
            raise ValueError("save_weights_only=True is not supported: this saves whole models")
        if kwargs.setdefault("save_freq", "epoch") != "epoch":
            raise ValueError(f"save_freq={kwargs['save_freq']!r}: only 'epoch' is supported")
        self.final_path = final
        # Keras insists on a '.keras' suffix, so the temporary name keeps it.
        super().__init__(str(final.with_name(f".{final.stem}.tmp.keras")), **kwargs)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        super().on_epoch_end(epoch, logs)
        tmp = Path(self.filepath)
        if tmp.exists():  # Keras saved this epoch: publish it under the real name
            os.replace(tmp, self.final_path)


def standard_callbacks(
    run_dir: str | os.PathLike[str],
    *,
    monitor: str = "val_loss",
    mode: str = "auto",
    patience: int = 5,
    lr_patience: int = 2,
    lr_factor: float = 0.5,
    min_lr: float = 1e-6,
    checkpoint: bool = True,
    tensorboard: bool | None = None,
    restore_best_weights: bool = True,
    verbose: int = 0,
) -> list[keras.callbacks.Callback]:
    """The callbacks of a well-behaved training run, all writing into ``run_dir``.

    * ``EarlyStopping`` -- stop when ``monitor`` has not improved for ``patience`` epochs, and
      put back the best epoch's weights;
    * ``AtomicModelCheckpoint`` -- save the best model so far to ``run_dir/best.keras``;
    * ``ReduceLROnPlateau`` -- halve (``lr_factor``) the learning rate after ``lr_patience``
      epochs without improvement (shorter than ``patience``, so it gets a chance first);
    * ``CSVLogger`` -- one row per epoch in ``run_dir/history.csv`` (open it with pandas, or
      ``utils.plotting.plot_history``), which survives a crashed kernel;
    * ``TensorBoard`` -- curves in ``run_dir/tensorboard`` (``tensorboard --logdir runs``).
      The ``tensorboard`` package is one of the course's dependencies (TensorFlow 2.21 no
      longer pulls it in by itself).

    Args:
        run_dir: the run's folder, e.g. ``runs/04_dropout/rate_0.5`` (created if missing).
        monitor: the logged quantity to watch, e.g. ``"val_loss"`` or ``"val_accuracy"``.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (max for accuracy-like names, else min).
        checkpoint: False to skip the checkpoint.
        restore_best_weights: whether ``EarlyStopping`` puts back the best epoch's weights at
            the end of training (Keras 3 does it even when training was not stopped early).
            False keeps the last epoch's weights -- the best epoch is in ``best.keras`` anyway.
        tensorboard: True to require the TensorBoard callback (a ``ValueError`` explains
            what is missing), False to skip it, None (default) to add it when the
            ``tensorboard`` package and the TensorFlow backend are there.

    Returns:
        A list to pass as ``model.fit(..., callbacks=...)``.
    """
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode={mode!r}: expected 'auto', 'min' or 'max'")
    if patience < 1 or lr_patience < 1:
        raise ValueError(
            f"patience={patience!r}, lr_patience={lr_patience!r}: expected whole numbers >= 1"
        )
    if not 0.0 < lr_factor < 1.0:
        raise ValueError(f"lr_factor={lr_factor!r}: expected a number in (0, 1)")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    callbacks: list[keras.callbacks.Callback] = [
        keras.callbacks.EarlyStopping(
            monitor=monitor,
            mode=mode,
            patience=patience,
            restore_best_weights=restore_best_weights,
            verbose=verbose,
        ),
        keras.callbacks.ReduceLROnPlateau(
            monitor=monitor,
            mode=mode,
            factor=lr_factor,
            patience=lr_patience,
            min_lr=min_lr,
            verbose=verbose,
        ),
        keras.callbacks.CSVLogger(str(run_dir / "history.csv")),
    ]
    if checkpoint:
        callbacks.append(
            AtomicModelCheckpoint(
                run_dir / "best.keras",
                monitor=monitor,
                mode=mode,
                save_best_only=True,
                verbose=verbose,
            )
        )
    if tensorboard is None:
        tensorboard = tensorboard_available()
    elif tensorboard and not tensorboard_available():
        raise ValueError(
            "tensorboard=True needs the TensorFlow backend and the tensorboard package "
            f"(backend {keras.backend.backend()!r}); `pip install tensorboard`, or pass "
            "tensorboard=False and read run_dir/history.csv instead"
        )
    if tensorboard:
        callbacks.append(
            keras.callbacks.TensorBoard(
                log_dir=str(run_dir / "tensorboard"), histogram_freq=0, write_graph=False
            )
        )
    return callbacks


def tensorboard_available() -> bool:
    """Whether Keras' ``TensorBoard`` callback can write logs here (TF backend + package)."""
    import importlib.util

    return (
        keras.backend.backend() == "tensorflow"
        and importlib.util.find_spec("tensorboard") is not None
    )
