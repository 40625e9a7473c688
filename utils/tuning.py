"""Hyperparameter search with KerasTuner, also where the ``tensorboard`` package is missing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras

from utils.callbacks import tensorboard_available


def make_random_search(hypermodel: Callable[..., keras.Model], **kwargs: Any) -> Any:
    """``keras_tuner.RandomSearch(hypermodel, **kwargs)`` that also runs without TensorBoard.

    KerasTuner (1.4) imports the ``tensorboard`` package at the start of every trial on the
    TensorFlow backend -- even when no ``TensorBoard`` callback is used -- and TensorFlow 2.21
    no longer installs that package, so a plain ``RandomSearch`` fails each trial with
    ``No module named 'tensorboard'``. When the package is missing this returns a
    ``RandomSearch`` whose only change is to skip that TensorBoard set-up; when it is
    installed, it returns the ordinary ``keras_tuner.RandomSearch``.
    """
    import keras_tuner

    if tensorboard_available() or keras.backend.backend() != "tensorflow":
        return keras_tuner.RandomSearch(hypermodel, **kwargs)

    class RandomSearchWithoutTensorBoard(keras_tuner.RandomSearch):  # type: ignore[misc]
        def _configure_tensorboard_dir(
            self, callbacks: Any, trial: Any, execution: int = 0
        ) -> None:
            for callback in callbacks:
                if callback.__class__.__name__ == "TensorBoard":
                    raise ValueError(
                        "a TensorBoard callback was passed to the search, but the tensorboard "
                        "package is not installed: `pip install tensorboard`"
                    )

    return RandomSearchWithoutTensorBoard(hypermodel, **kwargs)
