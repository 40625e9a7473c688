"""Exercises for notebook 09, action units: multi-label targets, per-AU F1, where Grad-CAM looks."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from utils.exercises import (
    Incorrect,
    Question,
    as_array,
    expect,
    expect_close,
    require_function,
)

NOTEBOOK = "09_action_units_multitask"


@lru_cache(maxsize=1)
def _sample_aus() -> Any:
    from utils.config import resolve_data
    from utils.data_action_units import load_action_units

    return load_action_units(resolve_data("sample", "action_units"))


def _check_targets(answer: Any) -> str:
    targets = require_function(answer, "a function au_targets(intensities, threshold)")
    au = _sample_aus()
    intensities = au.intensities.astype(np.float32)
    tricky = np.array([[0, 1, 2, np.nan], [5, 0.5, np.nan, 3]], dtype=np.float32)
    for name, data in (("two hand-made rows", tricky), ("the sample faces", intensities)):
        for threshold in (1.0, 2.0):
            got = as_array(targets(data.copy(), threshold), "your targets")
            want = np.where(np.isnan(data), np.nan, (data >= threshold).astype(np.float64))
            strict = np.where(np.isnan(data), np.nan, (data > threshold).astype(np.float64))
            if got.shape == want.shape and np.array_equal(got, strict, equal_nan=True):
                raise Incorrect(
                    f"an AU coded exactly {threshold:g} counts as present: use >=, not >"
                )
            if got.shape == want.shape and not np.isnan(got).any() and np.isnan(want).any():
                raise Incorrect(
                    "an AU that was not coded (NaN) must stay NaN, so a masked loss can skip it; "
                    "it is not the same as 'absent'"
                )
            expect_close(got, want, f"your targets on {name} (threshold {threshold:g})")
    share = np.nanmean(intensities >= 1, axis=0)
    rare = au.au_names[int(np.argmin(share))]
    return (
        f"15 yes/no targets per face; the rarest AU in the sample, {rare}, is present in only "
        f"{share.min():.0%} of the faces."
    )


q1 = Question(
    "q1",
    _check_targets,
    hint="(intensities >= threshold) gives True/False; np.where(np.isnan(intensities), "
    "np.nan, ...) keeps the uncoded ones NaN.",
    solution="""
def au_targets(intensities, threshold):
    present = (intensities >= threshold).astype(np.float32)
    return np.where(np.isnan(intensities), np.nan, present)
""",
    notebook=NOTEBOOK,
    title="multi-label targets from AU intensities",
    answer_name="au_targets",
)


def _check_f1(answer: Any) -> str:
    per_au_f1 = require_function(answer, "a function per_au_f1(y_true, y_pred)")
    from sklearn.metrics import f1_score

    au = _sample_aus()
    y_true = (np.nan_to_num(au.intensities) >= 1).astype(np.int64)
    rng = np.random.default_rng(0)
    flips = rng.random(y_true.shape) < 0.15
    y_pred = np.where(flips, 1 - y_true, y_true)
    never = np.zeros_like(y_true)  # a detector that always says "absent"
    for name, pred in (("a noisy detector", y_pred), ("an 'always absent' detector", never)):
        got = as_array(per_au_f1(y_true.copy(), pred.copy()), "your F1 scores")
        want = f1_score(y_true, pred, average=None, zero_division=0.0)
        accuracy = (y_true == pred).mean(axis=0)
        if got.shape == want.shape and np.allclose(got, accuracy):
            raise Incorrect(
                f"for {name} you return each AU's accuracy; rare AUs make accuracy lie -- "
                "compute F1 = 2 tp / (2 tp + fp + fn) per column"
            )
        expect_close(got, want, f"your F1 scores for {name}", atol=1e-6)
    acc = (y_true == never).mean()
    return f"'always absent' is {acc:.0%} accurate over all AUs, yet its F1 is 0 for every AU."


q2 = Question(
    "q2",
    _check_f1,
    hint="Per column (axis=0): tp = ((y_true == 1) & (y_pred == 1)).sum(0), likewise fp and "
    "fn; F1 = 2 tp / (2 tp + fp + fn), and 0 where that denominator is 0.",
    solution="""
def per_au_f1(y_true, y_pred):
    tp = ((y_true == 1) & (y_pred == 1)).sum(axis=0)
    fp = ((y_true == 0) & (y_pred == 1)).sum(axis=0)
    fn = ((y_true == 1) & (y_pred == 0)).sum(axis=0)
    denominator = 2 * tp + fp + fn
    return np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0)
""",
    notebook=NOTEBOOK,
    title="F1 per action unit",
    answer_name="per_au_f1",
)


def _reference_share(heatmaps: np.ndarray, rows: tuple[float, float]) -> np.ndarray:
    from utils.cam import region_mass

    return region_mass(heatmaps, rows=rows)


def _check_share(answer: Any) -> str:
    share = require_function(answer, "a function lower_third_share(heatmaps)")
    rng = np.random.default_rng(0)
    maps = rng.random((5, 12, 12))
    maps[0, 8:, :] += 5.0  # a map that looks at the mouth
    maps[1, :4, :] += 5.0  # one that looks at the brows
    got = as_array(share(maps.copy()), "your shares")
    want = _reference_share(maps, (2 / 3, 1.0))
    if got.shape == want.shape and np.allclose(got, _reference_share(maps, (0.0, 1 / 3))):
        raise Incorrect("rows grow downwards: the mouth is the *last* third of the rows")
    expect_close(got, want, "your shares", atol=1e-6)
    return (
        f"the mouth-looking map puts {want[0]:.0%} of its mass in the lower third, the "
        f"brow-looking one {want[1]:.0%}: an AU12 detector should look like the first."
    )


q3 = Question(
    "q3",
    _check_share,
    hint="h = heatmaps.shape[1]; heatmaps[:, round(2 * h / 3):, :].sum(axis=(1, 2)) divided "
    "by heatmaps.sum(axis=(1, 2)).",
    solution="""
def lower_third_share(heatmaps):
    h = heatmaps.shape[1]
    lower = heatmaps[:, round(2 * h / 3) :, :].sum(axis=(1, 2))
    return lower / heatmaps.sum(axis=(1, 2))
""",
    notebook=NOTEBOOK,
    title="how much of a Grad-CAM map is on the mouth",
    answer_name="lower_third_share",
)


#: The emotion check trains for this many epochs and needs this validation accuracy.
EMOTION_EPOCHS = 5
EMOTION_THRESHOLD = 0.85


def au_emotion_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The posed sample faces as (AU intensities / 5, emotion), split by person (70/30)."""
    from utils.splits import split_by_subject

    au = _sample_aus()
    posed = np.flatnonzero(au.emotions >= 0)
    x = (np.nan_to_num(au.intensities[posed]) / 5.0).astype(np.float32)
    y = au.emotions[posed]
    train, val = split_by_subject(au.subjects[posed], (0.7, 0.3), seed=0)
    return x[train], y[train], x[val], y[val]


def _check_emotion_model(answer: Any) -> str:
    build = require_function(answer, "a function build_emotion_from_aus()")
    import keras

    from utils.seeding import set_seed

    x_train, y_train, x_val, y_val = au_emotion_data()
    set_seed(0)
    model = build()
    expect(isinstance(model, keras.Model), f"return a keras.Model, got {type(model).__name__}")
    probs = np.asarray(model.predict(x_val[:8], verbose=0))
    expect(
        probs.shape == (8, 7),
        f"for 8 faces your model outputs shape {probs.shape}; expected (8, 7): one score per emotion",
    )
    expect(
        np.allclose(probs.sum(axis=1), 1.0, atol=1e-3) and (probs >= 0).all(),
        "end with a softmax, so the 7 outputs are probabilities that sum to 1",
    )
    model.compile(keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    model.fit(x_train, y_train, epochs=EMOTION_EPOCHS, batch_size=32, verbose=0)
    accuracy = float(np.mean(model.predict(x_val, verbose=0).argmax(axis=1) == y_val))
    majority = float(np.mean(y_val == np.bincount(y_train).argmax()))
    expect(
        accuracy >= EMOTION_THRESHOLD,
        f"after {EMOTION_EPOCHS} epochs your model is {accuracy:.0%} accurate on unseen people; "
        f"it needs {EMOTION_THRESHOLD:.0%} (always answering the commonest emotion: {majority:.0%})",
    )
    return (
        f"{accuracy:.0%} of unseen people's posed emotions read off their action units "
        f"(commonest-emotion guess: {majority:.0%}) -- the FACS recipe is learnable."
    )


q4 = Question(
    "q4",
    _check_emotion_model,
    hint="keras.Sequential([keras.Input((15,)), keras.layers.Dense(32, activation='relu'), "
    "keras.layers.Dense(7, activation='softmax')]); the check compiles and trains it.",
    solution="""
import keras


def build_emotion_from_aus():
    return keras.Sequential(
        [
            keras.Input((15,)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(7, activation="softmax"),
        ]
    )
""",
    notebook=NOTEBOOK,
    title="read the emotion off the action units",
    answer_name="build_emotion_from_aus",
)
