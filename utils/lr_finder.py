"""The learning-rate range test: :func:`lr_find` (Leslie Smith, 2015; notebook 04)."""

from __future__ import annotations

from dataclasses import dataclass, field

import keras
import numpy as np


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
