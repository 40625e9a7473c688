"""Metrics: keypoint RMSE in pixels (overall, per keypoint, and as a Keras metric).

Keypoint errors are always reported in *pixels* of the 96x96 face, the unit Kaggle's
leaderboard uses, and only over the labelled (non-NaN) coordinates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import pandas as pd
from keras import ops

from utils.schema import EMOTIONS

# --------------------------------------------------------------------------------------------
# Keypoints
# --------------------------------------------------------------------------------------------


def _keypoint_arrays(
    y_true: Any, y_pred: Any, *, pairs: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays as float64, checked to match (and to hold x, y pairs if ``pairs``)."""
    true = np.asarray(y_true, dtype=np.float64)
    pred = np.asarray(y_pred, dtype=np.float64)
    if true.shape != pred.shape:
        raise ValueError(
            f"y_true has shape {true.shape} but y_pred has shape {pred.shape}; expected equal shapes"
        )
    if pairs and (true.ndim == 0 or true.shape[-1] % 2):
        raise ValueError(
            f"keypoint arrays have shape {true.shape}; expected (..., 30): x and y alternating"
        )
    if np.isnan(pred).any():
        raise ValueError("y_pred contains NaN; predictions must be finite numbers")
    return true, pred


def rmse_pixels(y_true: Any, y_pred: Any) -> float:
    """Root mean squared error over the labelled coordinates (NaN targets are skipped).

    >>> rmse_pixels([[10.0, np.nan]], [[13.0, 50.0]])
    3.0
    """
    true, pred = _keypoint_arrays(y_true, y_pred)
    present = ~np.isnan(true)
    if not present.any():
        raise ValueError("y_true has no labelled coordinates (all NaN); RMSE is undefined")
    return float(np.sqrt(np.mean((pred[present] - true[present]) ** 2)))


def per_keypoint_rmse(y_true: Any, y_pred: Any) -> np.ndarray:
    """RMSE of each keypoint in pixels: ``sqrt(mean of its squared x and y errors)``.

    Args:
        y_true: ``(N, 30)`` targets in Kaggle's column order, NaN where missing.
        y_pred: ``(N, 30)`` predictions.

    Returns:
        ``(15,)`` float64 (one value per keypoint, in ``KEYPOINT_COLUMNS`` order); NaN for a
        keypoint that is never labelled.
    """
    true, pred = _keypoint_arrays(y_true, y_pred, pairs=True)
    true = true.reshape(-1, true.shape[-1] // 2, 2)
    pred = pred.reshape(true.shape)
    present = ~np.isnan(true)
    squared = np.where(present, (pred - np.where(present, true, 0.0)) ** 2, 0.0)
    counts = present.sum(axis=(0, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(squared.sum(axis=(0, 2)) / counts)


@keras.saving.register_keras_serializable(package="face_dl")
class MaskedRMSE(keras.metrics.Metric):
    """Keras metric: RMSE over the labelled (non-NaN) coordinates, reported in pixels.

    If the model is trained on scaled targets, e.g. ``(k - 48) / 48``, pass ``scale=48`` so the
    metric reports pixels; a model whose outputs are already pixels uses ``scale=1``.

    >>> model.compile(loss=masked_mse, metrics=[MaskedRMSE(scale=48)])  # doctest: +SKIP
    """

    def __init__(self, scale: float = 1.0, name: str = "rmse_px", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        if not np.isfinite(scale) or scale <= 0:
            raise ValueError(f"scale={scale!r}: expected a positive number (pixels per unit)")
        self.scale = float(scale)
        self.squared_sum = self.add_variable(shape=(), initializer="zeros", name="squared_sum")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_pred = ops.cast(y_pred, self.dtype)
        y_true = ops.cast(y_true, self.dtype)
        present = ops.logical_not(ops.isnan(y_true))
        filled = ops.where(present, y_true, ops.zeros_like(y_true))
        squared = ops.where(present, ops.square(y_pred - filled), ops.zeros_like(y_pred))
        counts = ops.cast(present, self.dtype)
        if sample_weight is not None:
            # One weight per face, broadcast over its coordinates.
            weight = ops.cast(sample_weight, self.dtype)
            while len(weight.shape) < len(squared.shape):
                weight = ops.expand_dims(weight, -1)
            squared = squared * weight
            counts = counts * weight
        self.squared_sum.assign_add(ops.sum(squared))
        self.count.assign_add(ops.sum(counts))

    def result(self) -> Any:
        mse = ops.divide_no_nan(self.squared_sum, self.count)
        return ops.sqrt(mse) * self.scale

    def reset_state(self) -> None:
        self.squared_sum.assign(0.0)
        self.count.assign(0.0)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "scale": self.scale}


# --------------------------------------------------------------------------------------------
# Classification: per-class precision/recall/F1, macro-F1, bootstrap spread, per-split table
# --------------------------------------------------------------------------------------------


def _class_arrays(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    """Class ids as int64; ``y_pred`` may be ``(N, K)`` probabilities (argmax is taken)."""
    true = np.asarray(y_true)
    pred = np.asarray(y_pred)
    if pred.ndim == 2:
        pred = pred.argmax(axis=1)
    if true.ndim == 2:
        true = true.argmax(axis=1)
    if true.ndim != 1 or pred.shape != true.shape:
        raise ValueError(
            f"y_true has shape {np.shape(y_true)} and y_pred {np.shape(y_pred)}; expected (N,) "
            "class ids for both (or (N, K) probabilities for y_pred)"
        )
    if true.size == 0:
        raise ValueError("y_true is empty; a metric needs at least one example")
    for name, arr in (("y_true", true), ("y_pred", pred)):
        if not np.issubdtype(arr.dtype, np.integer):
            if not np.all(np.equal(np.mod(arr, 1), 0)):
                raise ValueError(f"{name}: expected integer class ids, got {arr.dtype} values")
        if arr.min() < 0:
            raise ValueError(f"{name}: class ids must be >= 0, found {arr.min()}")
    return true.astype(np.int64), pred.astype(np.int64)


def classification_report_df(
    y_true: Any, y_pred: Any, names: Sequence[str] | None = None
) -> pd.DataFrame:
    """Per-class precision, recall, F1 and support, then macro and weighted averages.

    One row per class in ``names`` (default: ``utils.schema.EMOTIONS``), so a class the model
    never predicts still shows up -- with precision 0, not a missing row. Accuracy hides
    exactly this: on FER-2013 a model that never says *disgust* loses only 1.5% accuracy.
    """
    from sklearn.metrics import precision_recall_fscore_support

    true, pred = _class_arrays(y_true, y_pred)
    if names is None:
        names = EMOTIONS
    names = [str(n) for n in names]
    top = int(max(true.max(), pred.max()))
    if top >= len(names):
        raise ValueError(f"class id {top} found but only {len(names)} names given: {names}")
    labels = list(range(len(names)))
    p, r, f, s = precision_recall_fscore_support(true, pred, labels=labels, zero_division=0.0)
    frame = pd.DataFrame(
        {"precision": p, "recall": r, "f1": f, "support": s.astype(int)}, index=names
    )
    present = frame["support"] > 0
    macro = frame.loc[present, ["precision", "recall", "f1"]].mean()
    weights = frame["support"] / frame["support"].sum()
    weighted = frame[["precision", "recall", "f1"]].mul(weights, axis=0).sum()
    total = int(frame["support"].sum())
    frame.loc["macro avg"] = [*macro.to_list(), total]
    frame.loc["weighted avg"] = [*weighted.to_list(), total]
    frame["support"] = frame["support"].astype(int)
    frame.index.name = "class"
    return frame


def macro_f1(y_true: Any, y_pred: Any, *, labels: Sequence[int] | None = None) -> float:
    """The unweighted mean of the per-class F1 scores: every class counts the same.

    ``labels`` default: the classes present in ``y_true`` (a class absent from the test set
    has no recall to measure; predicting it by mistake still costs precision elsewhere).
    The library call: ``sklearn.metrics.f1_score(y_true, y_pred, average="macro",
    labels=np.unique(y_true))``, same value.
    """
    true, pred = _class_arrays(y_true, y_pred)
    use = np.unique(true) if labels is None else np.asarray(list(labels), dtype=np.int64)
    # Counted with bincount rather than sklearn.metrics.f1_score (same result): the bootstrap
    # calls this thousands of times.
    k = int(max(true.max(), pred.max(), use.max(initial=0))) + 1
    tp = np.bincount(true[true == pred], minlength=k)[use]
    n_true = np.bincount(true, minlength=k)[use]
    n_pred = np.bincount(pred, minlength=k)[use]
    denom = n_true + n_pred  # = 2 tp + fp + fn
    f1 = np.divide(2.0 * tp, denom, out=np.zeros(len(use)), where=denom > 0)
    return float(f1.mean()) if len(use) else 0.0


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of examples whose predicted class is the true one (sklearn's ``accuracy_score``)."""
    true, pred = _class_arrays(y_true, y_pred)
    return float(np.mean(true == pred))


@dataclass(frozen=True)
class BootstrapCI:
    """A metric with its bootstrap confidence interval (``low``, ``high``) at ``level``."""

    value: float
    low: float
    high: float
    level: float
    samples: np.ndarray

    def __str__(self) -> str:
        return f"{self.value:.3f} ({self.level:.0%} CI {self.low:.3f}-{self.high:.3f})"


def bootstrap_ci(
    y_true: Any,
    y_pred: Any,
    metric: Callable[[np.ndarray, np.ndarray], float],
    n: int = 1000,
    seed: int = 42,
    *,
    level: float = 0.95,
) -> BootstrapCI:
    """How much would ``metric`` move on another test set of the same size? Resample and see.

    Draws ``n`` test sets of the same size *with replacement* from the examples, computes
    ``metric(y_true, y_pred)`` on each, and returns the value on all the data with the
    percentile interval holding ``level`` of the resampled values. A test set of 300 faces
    gives accuracy +- about 5 points: differences smaller than that are not evidence.

    Written out (a dozen lines of NumPy) so the idea is visible. In your own work use SciPy's
    ``scipy.stats.bootstrap((y_true, y_pred), metric, paired=True, vectorized=False,
    n_resamples=n, method="percentile")``: the same interval up to the random draws, and
    ``method="BCa"`` (its default) corrects it for skew.
    """
    true, pred = _class_arrays(y_true, y_pred)
    return _bootstrap(len(true), lambda i: metric(true[i], pred[i]), n, seed, level)


def bootstrap_difference(
    y_true: Any,
    pred_a: Any,
    pred_b: Any,
    metric: Callable[[np.ndarray, np.ndarray], float],
    n: int = 1000,
    seed: int = 42,
    *,
    level: float = 0.95,
) -> BootstrapCI:
    """``metric(b) - metric(a)`` on the same test set, with a *paired* bootstrap interval.

    Both models are scored on the same resampled test sets, so the interval reflects only how
    much their *difference* would move -- much narrower than comparing two separate intervals.
    If it contains 0, the test set is no evidence that one model is better. With SciPy:
    ``scipy.stats.bootstrap((y_true, pred_a, pred_b), lambda t, a, b: metric(t, b) -
    metric(t, a), paired=True, vectorized=False)``.
    """
    true, a = _class_arrays(y_true, pred_a)
    _, b = _class_arrays(y_true, pred_b)
    return _bootstrap(
        len(true), lambda i: metric(true[i], b[i]) - metric(true[i], a[i]), n, seed, level
    )


def _bootstrap(
    size: int, statistic: Callable[[np.ndarray], float], n: int, seed: int, level: float
) -> BootstrapCI:
    """``statistic(indices)`` on all ``size`` examples, and on ``n`` resamples of them."""
    if int(n) != n or n < 10:
        raise ValueError(f"n={n!r}: expected an integer of at least 10 resamples")
    if not 0 < level < 1:
        raise ValueError(f"level={level!r}: expected a fraction between 0 and 1")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, size, size=(int(n), size))
    samples = np.array([statistic(i) for i in idx], dtype=np.float64)
    tail = (1 - level) / 2
    low, high = np.quantile(samples, [tail, 1 - tail])
    value = float(statistic(np.arange(size)))
    return BootstrapCI(value, float(low), float(high), level, samples)


def classification_table(splits: Mapping[str, tuple[Any, Any]]) -> pd.DataFrame:
    """Accuracy and macro precision/recall/F1 of each split -- the seeds' ``verify_model`` table.

    ``splits``: ``{"train": (y_true, y_pred), "val": ..., "test": ...}``. A large gap between
    the train row and the others is overfitting; macro-F1 far below accuracy means the rare
    classes are being sacrificed.
    """
    from sklearn.metrics import precision_recall_fscore_support

    rows = {}
    for name, (y_true, y_pred) in splits.items():
        true, pred = _class_arrays(y_true, y_pred)
        labels = sorted(np.unique(true).tolist())
        p, r, f, _ = precision_recall_fscore_support(
            true, pred, labels=labels, average="macro", zero_division=0.0
        )
        rows[name] = {
            "accuracy": float(np.mean(true == pred)),
            "precision": float(p),
            "recall": float(r),
            "f1": float(f),
            "n": len(true),
        }
    if not rows:
        raise ValueError("splits: expected at least one split, e.g. {'test': (y_true, y_pred)}")
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "split"
    return table


# --------------------------------------------------------------------------------------------
# Action units: multi-label detection (per-AU F1, thresholds chosen on validation), intensity
# --------------------------------------------------------------------------------------------

#: The thresholds :func:`select_thresholds` tries by default.
THRESHOLD_GRID: np.ndarray = np.round(np.linspace(0.05, 0.95, 19), 2)


def _multilabel_arrays(y_true: Any, y_score: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(N, K)`` 0/1 labels (NaN = not coded) and ``(N, K)`` scores, checked to match."""
    true = np.asarray(y_true, dtype=np.float64)
    score = np.asarray(y_score, dtype=np.float64)
    if true.ndim == 1:
        true, score = true[:, None], score.reshape(-1, 1) if score.ndim == 1 else score
    if true.ndim != 2 or score.shape != true.shape or true.shape[0] == 0:
        raise ValueError(
            f"y_true has shape {np.shape(y_true)} and the scores {np.shape(y_score)}; expected "
            "equal (N, n_aus) shapes with N >= 1 (one column per action unit)"
        )
    coded = true[~np.isnan(true)]
    if not np.isin(coded, (0.0, 1.0)).all():
        raise ValueError(
            "y_true: expected 0/1 labels (NaN where not coded); turn intensities into labels "
            "first, e.g. (intensities > 0)"
        )
    if np.isnan(score).any():
        raise ValueError("the scores contain NaN; predictions must be finite numbers")
    return true, score


def _thresholds(thresholds: Any, k: int) -> np.ndarray:
    values = np.broadcast_to(np.asarray(thresholds, dtype=np.float64), (k,)).copy()
    if np.isnan(values).any():
        raise ValueError(f"thresholds={thresholds!r}: expected numbers (one, or one per AU)")
    return values


def _f1_counts(
    true: np.ndarray, pred: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-column true positives, false positives, false negatives and coded counts."""
    coded = ~np.isnan(true)
    positive = np.where(coded, true, 0.0) == 1.0
    tp = (positive & pred & coded).sum(axis=0)
    fp = (~positive & pred & coded).sum(axis=0)
    fn = (positive & ~pred & coded).sum(axis=0)
    return tp, fp, fn, coded.sum(axis=0)


def per_au_f1(y_true: Any, y_score: Any, *, thresholds: Any = 0.5) -> np.ndarray:
    """F1 of each action unit: its score above its threshold counts as "present".

    Args:
        y_true: ``(N, n_aus)`` 0/1 labels (NaN where an AU was not coded: skipped).
        y_score: ``(N, n_aus)`` predicted probabilities (or 0/1 decisions).
        thresholds: one threshold for all AUs, or one per AU (see :func:`select_thresholds`).

    Returns:
        ``(n_aus,)`` F1 = 2 TP / (2 TP + FP + FN); 0 for an AU that is never present and
        never predicted (there is nothing to find, and nothing was found wrongly).

    Without uncoded (NaN) labels this is ``sklearn.metrics.f1_score(y_true, y_score >=
    thresholds, average=None, zero_division=0)``; the NaN handling is why it is written out.
    """
    true, score = _multilabel_arrays(y_true, y_score)
    pred = score >= _thresholds(thresholds, true.shape[1])
    tp, fp, fn, _ = _f1_counts(true, pred)
    denom = 2 * tp + fp + fn
    return np.divide(2.0 * tp, denom, out=np.zeros(len(tp)), where=denom > 0)


def mean_au_f1(y_true: Any, y_score: Any, *, thresholds: Any = 0.5) -> float:
    """The mean of the per-AU F1 scores -- the standard summary on DISFA and BP4D.

    Every AU counts the same, however rare, so a detector cannot score well by ignoring the
    rare ones (which accuracy rewards: see :func:`au_report`).
    """
    return float(per_au_f1(y_true, y_score, thresholds=thresholds).mean())


def select_thresholds(y_true: Any, y_score: Any, *, grid: Any = None) -> np.ndarray:
    """Per-AU decision thresholds that maximise each AU's F1 on a *validation* set.

    0.5 is rarely the best threshold for a rare AU: the network, trained on few positives,
    gives them lower scores. Choose thresholds on validation data, then report F1 on a test
    set the thresholds never saw (choosing them on the test set would flatter the score).
    Ties go to the threshold nearest 0.5; an AU with no positives keeps 0.5.

    Args:
        y_true, y_score: ``(N, n_aus)`` validation labels (0/1, NaN = not coded) and scores.
        grid: the thresholds to try (default :data:`THRESHOLD_GRID`, 0.05 to 0.95).

    Returns:
        ``(n_aus,)`` thresholds.
    """
    true, score = _multilabel_arrays(y_true, y_score)
    candidates = THRESHOLD_GRID if grid is None else np.asarray(grid, dtype=np.float64).ravel()
    if candidates.size == 0 or np.isnan(candidates).any():
        raise ValueError(f"grid={grid!r}: expected one or more threshold values")
    # Try the candidates nearest 0.5 first, so that argmax (first maximum) breaks ties there.
    candidates = candidates[np.argsort(np.abs(candidates - 0.5), kind="stable")]
    f1 = np.stack([per_au_f1(true, score, thresholds=t) for t in candidates])
    best = candidates[np.argmax(f1, axis=0)]
    _, _, _, coded = _f1_counts(true, np.zeros_like(true, dtype=bool))
    has_positive = (np.nan_to_num(true, nan=0.0) == 1).sum(axis=0) > 0
    return np.where(has_positive & (coded > 0), best, 0.5)


def au_report(
    y_true: Any, y_score: Any, au_names: Sequence[str], *, thresholds: Any = 0.5
) -> pd.DataFrame:
    """Per-AU base rate, precision, recall, F1 and accuracy, with a ``mean`` row.

    The ``accuracy`` column is there to show why it misleads: an AU present in 10% of faces
    gets 90% accuracy from a detector that always says "absent" -- and F1 0.
    """
    true, score = _multilabel_arrays(y_true, y_score)
    names = [str(n) for n in au_names]
    if len(names) != true.shape[1]:
        raise ValueError(f"au_names: {len(names)} names for {true.shape[1]} AU columns")
    limits = _thresholds(thresholds, true.shape[1])
    pred = score >= limits
    tp, fp, fn, coded = _f1_counts(true, pred)
    tn = coded - tp - fp - fn
    frame = pd.DataFrame(
        {
            "base_rate": np.divide(tp + fn, coded, out=np.zeros(len(tp)), where=coded > 0),
            "precision": np.divide(tp, tp + fp, out=np.zeros(len(tp)), where=tp + fp > 0),
            "recall": np.divide(tp, tp + fn, out=np.zeros(len(tp)), where=tp + fn > 0),
            "f1": per_au_f1(true, score, thresholds=limits),
            "accuracy": np.divide(tp + tn, coded, out=np.zeros(len(tp)), where=coded > 0),
            "threshold": limits,
            "support": (tp + fn).astype(int),
        },
        index=pd.Index(names, name="AU"),
    )
    mean = frame.drop(columns="support").mean()
    frame.loc["mean"] = [*mean.to_list(), int(frame["support"].sum())]
    frame["support"] = frame["support"].astype(int)
    return frame


def icc_3_1(y_true: Any, y_pred: Any) -> np.ndarray:
    """ICC(3,1) of each column: how well predicted intensities agree with the coded ones.

    The intra-class correlation (Shrout & Fleiss 1979, two-way mixed, consistency) treats the
    coder and the model as two raters of the same faces; it is what DISFA and the UNBC pain
    papers report for AU intensity (0-5). 1 = perfect agreement, 0 = none. Unlike Pearson's r
    it is computed on the raters' scores jointly. ``(N,)`` or ``(N, K)`` in, ``(K,)`` out
    (NaN for a column whose values never vary).
    """
    true = np.asarray(y_true, dtype=np.float64)
    pred = np.asarray(y_pred, dtype=np.float64)
    if true.ndim == 1:
        true, pred = true[:, None], pred.reshape(-1, 1)
    if true.ndim != 2 or pred.shape != true.shape or true.shape[0] < 2:
        raise ValueError(
            f"y_true has shape {np.shape(y_true)} and y_pred {np.shape(y_pred)}; expected equal "
            "(N,) or (N, K) shapes with N >= 2"
        )
    if np.isnan(true).any() or np.isnan(pred).any():
        raise ValueError("icc_3_1: NaN values; drop the faces that were not coded first")
    ratings = np.stack([true, pred], axis=-1)  # (N, K, 2 raters)
    n = ratings.shape[0]
    grand = ratings.mean(axis=(0, 2))
    row_means = ratings.mean(axis=2)
    rater_means = ratings.mean(axis=0)
    ss_rows = 2 * ((row_means - grand) ** 2).sum(axis=0)
    ss_raters = n * ((rater_means - grand[:, None]) ** 2).sum(axis=1)
    ss_total = ((ratings - grand[None, :, None]) ** 2).sum(axis=(0, 2))
    ms_rows = ss_rows / (n - 1)
    ms_error = (ss_total - ss_rows - ss_raters) / (n - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (ms_rows - ms_error) / (ms_rows + ms_error)
