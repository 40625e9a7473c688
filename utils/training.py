"""Training helpers shared by the notebooks: save-and-restore check, callbacks, ``lr_find``."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np


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
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
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


# --------------------------------------------------------------------------------------------
# Callbacks: the standard set every training run of the course uses
# --------------------------------------------------------------------------------------------


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
      TensorFlow 2.21 no longer installs the ``tensorboard`` package; ``pip install
      tensorboard`` to get it.

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


# --------------------------------------------------------------------------------------------
# Learning-rate range test
# --------------------------------------------------------------------------------------------


@dataclass
class LRFindResult:
    """What :func:`lr_find` measured.

    * ``lrs``: the learning rate of each step (increasing, geometric);
    * ``losses``: the smoothed training loss after each step (what you plot);
    * ``raw_losses``: the unsmoothed loss of each batch;
    * ``suggestion``: a learning rate to start from: a tenth of the one with the lowest
      smoothed loss (the loss still falls fast there, well before it blows up);
    * ``diverged``: True when the test stopped early because the loss exploded.
    """

    lrs: np.ndarray
    losses: np.ndarray
    suggestion: float
    raw_losses: np.ndarray = field(default_factory=lambda: np.zeros(0))
    diverged: bool = False

    def loss_at(self, lr: float) -> float:
        """The smoothed loss at learning rate ``lr`` (interpolated on the log axis).

        Raises ``ValueError`` when ``lr`` lies outside the range the test covered.
        """
        if not self.lrs[0] <= lr <= self.lrs[-1]:
            raise ValueError(
                f"lr={lr:g}: outside the tested range [{self.lrs[0]:.3g}, {self.lrs[-1]:.3g}]"
            )
        return float(np.interp(np.log(lr), np.log(self.lrs), self.losses))


def lr_find(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    *,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    steps: int = 100,
    batch_size: int = 32,
    beta: float = 0.9,
    diverge_factor: float = 4.0,
    seed: int = 0,
) -> LRFindResult:
    """The learning-rate range test (Leslie Smith, 2015; popularised by fast.ai).

    Train ``model`` for ``steps`` mini-batches while the learning rate grows geometrically
    from ``start_lr`` to ``end_lr``, and record the loss after each step. Plotted against the
    learning rate on a log axis, the loss first stays flat (too small to learn), then falls
    (the useful range), then shoots up (too large). The test stops once the smoothed loss
    exceeds ``diverge_factor`` times its best value, or the loss is not finite.

    ``model`` must be compiled (its optimizer and loss are the ones tested), with a plain
    number as learning rate. Afterwards its weights, its optimizer state and learning rate
    are put back exactly as they were, so you can train it for real straight after.

    Args:
        model: a compiled Keras model.
        x, y: training data (a random ``batch_size`` batch is drawn for each step).
        start_lr, end_lr: the range to sweep, ``0 < start_lr < end_lr``.
        steps: number of mini-batches (and learning rates) to try, at least 5.
        batch_size: mini-batch size -- use the one you will train with.
        beta: smoothing of the recorded loss (exponential moving average, bias-corrected).
            The smoothed curve lags about ``beta / (1 - beta)`` steps behind the raw one: 0.9
            (a lag of ~9 steps, about one decade of learning rate at 80-100 steps) suits a
            short test; fast.ai's 0.98 suits several hundred steps.
        diverge_factor: stop when the smoothed loss exceeds this multiple of the best one.
        seed: seeds the order of the batches.

    Returns:
        An :class:`LRFindResult` with ``lrs``, ``losses`` and ``suggestion``.
    """
    if getattr(model, "optimizer", None) is None or not getattr(model, "compiled", False):
        raise ValueError("model: expected a compiled model (call model.compile(...) first)")
    if not 0 < start_lr < end_lr:
        raise ValueError(
            f"start_lr={start_lr!r}, end_lr={end_lr!r}: expected 0 < start_lr < end_lr"
        )
    if steps < 5:
        raise ValueError(f"steps={steps!r}: expected at least 5 steps")
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r}: expected a positive batch size")
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"beta={beta!r}: expected a smoothing factor in [0, 1)")
    if diverge_factor <= 1.0:
        raise ValueError(f"diverge_factor={diverge_factor!r}: expected a number above 1")
    x = np.asarray(x)
    y = np.asarray(y)
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(
            f"x, y: expected the same non-zero number of samples, got {len(x)} and {len(y)}"
        )
    optimizer = model.optimizer
    if isinstance(optimizer._learning_rate, keras.optimizers.schedules.LearningRateSchedule):
        raise ValueError(
            "model: its optimizer uses a LearningRateSchedule; compile it with a plain number "
            "as learning_rate for the range test"
        )

    # Snapshot everything training changes, so the test leaves no trace.
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    weights = model.get_weights()
    opt_state = [np.array(v.numpy()) for v in optimizer.variables]
    lr_before = float(keras.ops.convert_to_numpy(optimizer.learning_rate))

    rng = np.random.default_rng(seed)
    lrs = start_lr * (end_lr / start_lr) ** (np.arange(steps) / (steps - 1))
    order = rng.permutation(len(x))
    cursor = 0
    tried: list[float] = []
    raw: list[float] = []
    smoothed: list[float] = []
    average, best, diverged = 0.0, np.inf, False
    try:
        for step, lr in enumerate(lrs, start=1):
            if cursor + batch_size > len(x):  # reshuffle once the data run out
                order, cursor = rng.permutation(len(x)), 0
            idx = order[cursor : cursor + batch_size]
            cursor += batch_size
            optimizer.learning_rate = float(lr)
            loss = model.train_on_batch(x[idx], y[idx], return_dict=True)["loss"]
            loss = float(loss)
            if not np.isfinite(loss):
                diverged = True
                break
            average = beta * average + (1 - beta) * loss
            smooth = average / (1 - beta**step)  # bias correction for the first steps
            tried.append(float(lr))
            raw.append(loss)
            smoothed.append(smooth)
            best = min(best, smooth)
            if step > 1 and smooth > diverge_factor * best:
                diverged = True
                break
    finally:
        model.set_weights(weights)
        for variable, value in zip(optimizer.variables, opt_state, strict=True):
            variable.assign(value)
        optimizer.learning_rate = lr_before
        model.reset_metrics()

    if len(tried) < 2:
        raise ValueError(
            f"the loss diverged within {len(tried) + 1} steps even at start_lr={start_lr:g}; "
            "lower start_lr"
        )
    lrs_arr, losses_arr = np.array(tried), np.array(smoothed)
    suggestion = float(lrs_arr[int(np.argmin(losses_arr))] / 10)
    return LRFindResult(
        lrs=lrs_arr,
        losses=losses_arr,
        suggestion=max(suggestion, float(lrs_arr[0])),
        raw_losses=np.array(raw),
        diverged=diverged,
    )


# --------------------------------------------------------------------------------------------
# What building many models in one process costs, with and without clear_session()
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# KerasTuner without the tensorboard package
# --------------------------------------------------------------------------------------------


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
